package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
	"darkwatch/results/store"
)

// TestAPI asks every API endpoint of a dashboard over a real SQLite store
// holding records, verdicts and an event, and checks what comes back, and
// that bad parameters are a 400 with a sentence.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 21, 22, 30, 0, 0, time.UTC)
	t0 := now.Add(-20 * time.Minute)
	var recs []results.Record
	for round := range 2 {
		for _, v := range []string{"vp1", "vp2"} {
			out := results.OutcomeReply
			if round == 1 {
				out = results.OutcomeTimeout
			}
			recs = append(recs, results.Record{Time: t0.Add(time.Duration(round) * time.Minute), Vantage: v, Round: int64(round),
				Method: results.MethodICMP, Target: "198.18.0.7", Outcome: out})
		}
	}
	if _, err := st.Ingest(ctx, recs); err != nil {
		t.Fatal(err)
	}
	vs := []results.Verdict{
		{Time: t0, Level: results.LevelPrefix, Entity: "198.18.0.0/24", Verdict: results.VerdictReachable,
			DataPlane: results.PlaneUp, ControlPlane: results.ControlAnnounced},
		{Time: t0.Add(time.Minute), Level: results.LevelPrefix, Entity: "198.18.0.0/24", Verdict: results.VerdictControlPlaneOutage,
			DataPlane: results.PlaneDown, ControlPlane: results.ControlWithdrawn},
	}
	if err := st.PutVerdicts(ctx, vs); err != nil {
		t.Fatal(err)
	}
	ev := results.Event{Level: results.LevelPrefix, Entity: "198.18.0.0/24", Kind: results.VerdictControlPlaneOutage,
		Start: t0.Add(time.Minute), Minutes: 19, Severity: 19, LastHop: "203.0.113.9"}
	if err := st.PutEvents(ctx, []results.Event{ev}); err != nil {
		t.Fatal(err)
	}
	h := Handler(Config{Store: st, Now: func() time.Time { return now },
		Targets:  []Target{{Name: "lab", Prefixes: []string{"198.18.0.0/24"}}},
		Vantages: func() []Vantage { return []Vantage{{Name: "vp1", LastSeen: now}} }})
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}

	for _, c := range []struct {
		path string
		want []string
	}{
		{"/api/verdicts?level=prefix", []string{`"verdict":"control-plane-outage"`, `"control_plane":"withdrawn"`}},
		{"/api/verdicts?level=prefix&since=1h", []string{`"verdict":"reachable"`, `"verdict":"control-plane-outage"`}},
		{"/api/events?since=1h", []string{`"kind":"control-plane-outage"`, `"last_hop":"203.0.113.9"`, `"end":""`}},
		{"/api/targets", []string{`"name":"lab"`, `198.18.0.0/24`}},
		{"/api/vantages", []string{`"vp1"`}},
		{"/api/prefix?entity=198.18.0.0/24&since=1h", []string{`"vp1"`, `"vp2"`, `"answered":1`, `"answered":0`, `"state":"withdrawn"`}},
		{"/api/target?addr=198.18.0.7&since=1h", []string{`"target":"198.18.0.7"`, `"outcome":"timeout"`}},
	} {
		code, body := get(c.path)
		if code != http.StatusOK || !json.Valid([]byte(body)) {
			t.Errorf("GET %s: %d %s", c.path, code, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: %s lacks %s", c.path, body, w)
			}
		}
	}
	// The verdict in force now is the latest one only.
	if _, body := get("/api/verdicts?level=prefix"); strings.Contains(body, `"verdict":"reachable"`) {
		t.Errorf("verdicts now: %s, want the latest alone", body)
	}

	for _, path := range []string{
		"/api/verdicts?level=galaxy",
		"/api/events?since=yesterday",
		"/api/events?since=10000h",
		"/api/prefix?entity=198.18.0.300/24",
		"/api/target?addr=nowhere",
	} {
		code, body := get(path)
		if code != http.StatusBadRequest || len(body) == 0 {
			t.Errorf("GET %s: %d %q, want 400 with a reason", path, code, body)
		}
	}
}
