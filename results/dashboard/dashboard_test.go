package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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

// failingStore fails every query with an error that names the store's file.
type failingStore struct{ *store.Store }

var errSecretPath = errors.New("store sqlite:///srv/secret/path.db: disk I/O error")

func (failingStore) Verdicts(context.Context, store.VerdictQuery) ([]results.Verdict, error) {
	return nil, errSecretPath
}

func (failingStore) Events(context.Context, time.Time, time.Time) ([]results.Event, error) {
	return nil, errSecretPath
}

// countingStore counts the records EachRecord yields and what it was asked.
type countingStore struct {
	*store.Store
	yielded int
	q       store.Query
}

func (c *countingStore) EachRecord(ctx context.Context, q store.Query, fn func(results.Record) error) error {
	c.q = q
	return c.Store.EachRecord(ctx, q, func(r results.Record) error {
		c.yielded++
		return fn(r)
	})
}

// TestAPILimits: a prefix larger than a /16 (/32 for IPv6), or a span of
// records longer than a week, is a 400 that says so; /api/target asks the
// store for no more than its limit, newest first; a store error is a 500
// that does not echo it, and goes to the log.
func TestAPILimits(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 21, 22, 30, 0, 0, time.UTC)
	var recs []results.Record
	for i := range 1000 {
		recs = append(recs, results.Record{Time: now.Add(-time.Duration(i) * time.Second), Vantage: "vp1", Round: int64(i),
			Method: results.MethodICMP, Target: "198.18.0.7", Outcome: results.OutcomeReply})
	}
	if _, err := st.Ingest(ctx, recs); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st}
	h := Handler(Config{Store: cs, Now: func() time.Time { return now }})
	get := func(h http.Handler, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	for _, c := range []struct{ path, want string }{
		{"/api/prefix?entity=0.0.0.0/0&since=744h", "at most a /16"},
		{"/api/prefix?entity=198.0.0.0/8", "at most a /16"},
		{"/api/prefix?entity=2001:db8::/16", "/32 (IPv6)"},
		{"/api/prefix?entity=198.18.0.0/24&since=744h", "168h"},
		{"/api/target?addr=198.18.0.7&since=200h", "168h"},
		{"/api/target?addr=198.18.0.7&limit=5001", "limit: 1 to 5000"},
	} {
		code, body := get(h, c.path)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %s, want 400 saying %q", c.path, code, body, c.want)
		}
	}
	if code, _ := get(h, "/api/prefix?entity=198.18.0.0/16&since=24h"); code != http.StatusOK {
		t.Errorf("a /16 over a day: %d", code)
	}

	cs.yielded = 0
	code, body := get(h, "/api/target?addr=198.18.0.7&since=1h&limit=10")
	var got struct{ Records []results.Record }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("target: %d %s", code, body)
	}
	if cs.yielded != 10 || cs.q.Limit != 10 || !cs.q.Newest {
		t.Errorf("the store yielded %d records for limit 10 (query %+v): the limit is not in the query", cs.yielded, cs.q)
	}
	if len(got.Records) != 10 || !got.Records[0].Time.Equal(now) || !got.Records[9].Time.Equal(now.Add(-9*time.Second)) {
		t.Errorf("records %d, first %v: want the 10 newest, newest first", len(got.Records), got.Records[0].Time)
	}

	var logs strings.Builder
	fh := Handler(Config{Store: failingStore{st}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, path := range []string{"/api/verdicts?level=prefix", "/api/events"} {
		code, body := get(fh, path)
		if code != http.StatusInternalServerError || strings.Contains(body, "secret") || !strings.Contains(body, "internal error") {
			t.Errorf("GET %s with a failing store: %d %s, want a generic 500", path, code, body)
		}
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("the store error is not in the log: %q", logs.String())
	}
}
