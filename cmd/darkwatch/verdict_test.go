package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/store"
)

// TestParseSpan: times and durations back from now are read, and a bad value
// is a usage error naming its flag.
func TestParseSpan(t *testing.T) {
	now := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	t0, t1, err := parseSpan("6h", "2026-11-21T21:30:00Z", now)
	if err != nil || !t0.Equal(now.Add(-6*time.Hour)) || !t1.Equal(now.Add(-30*time.Minute)) {
		t.Errorf("parseSpan = %v, %v, %v", t0, t1, err)
	}
	for _, c := range [][3]string{{"yesterday", "", "--since"}, {"", "22:00", "--until"}} {
		_, _, err := parseSpan(c[0], c[1], now)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != cli.Usage || !strings.Contains(err.Error(), c[2]) {
			t.Errorf("parseSpan(%q, %q) = %v, want a usage error naming %s", c[0], c[1], err, c[2])
		}
	}
}

// TestVerdictShowsFailures: what failed in a vantage point's round is in
// its vantage verdict, and makes the exit status 1.
func TestVerdictShowsFailures(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "dw.db")
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	err = st.PutFailures(t.Context(), []results.Failure{{Vantage: "vp1", Round: 7, Time: start, Stage: "census",
		Message: "census not loaded: census blocks are swept this round, not probed adaptively: store is down"}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "--store", db, "verdict", "--level", "vantage", "--since", "2h", "--json")
	var v results.Verdict
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("verdict output %q (%s): %v", stdout, stderr, err)
	}
	if code != cli.Some || v.Entity != "vp1" || len(v.Failures) != 1 || !strings.HasPrefix(v.Failures[0], "census: census not loaded") {
		t.Errorf("exit %d, verdict %+v, want status 1 and vp1's census failure", code, v)
	}
	if code, stdout, _ := runCLI(t, "--store", db, "verdict", "--level", "vantage", "--since", "2h"); code != cli.Some ||
		!strings.Contains(stdout, "failed census: census not loaded") {
		t.Errorf("table: exit %d:\n%s", code, stdout)
	}
}
