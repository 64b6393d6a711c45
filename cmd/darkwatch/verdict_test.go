package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
	"darkwatch/results/store"
)

// TestSaveAnalysis saves two analyses of overlapping windows into a real
// SQLite store: the second sees only the end of an event the first saw begin,
// and must close that event rather than store a second one; verdicts of the
// warm-up are not saved.
func TestSaveAnalysis(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const round = time.Minute
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	at := func(r int) time.Time { return t0.Add(time.Duration(r) * round) }
	verdict := func(r int, v string) results.Verdict {
		return results.Verdict{Time: at(r), Level: results.LevelPrefix, Entity: "198.18.0.0/22", Verdict: v,
			DataPlane: results.PlaneDown, ControlPlane: results.ControlUnknown}
	}
	event := func(start, end int) results.Event {
		e := results.Event{Level: results.LevelPrefix, Entity: "198.18.0.0/22", Kind: results.VerdictOutage,
			Start: at(start), Minutes: float64(end - start), Severity: float64(end - start)}
		if end > 0 {
			e.End = at(end)
		}
		return e
	}

	// Rounds 0..5 read, 4..5 asked for: the event began at round 3 and goes on.
	first := []results.Verdict{verdict(2, results.VerdictReachable), verdict(3, results.VerdictOutage),
		verdict(4, results.VerdictOutage), verdict(5, results.VerdictOutage)}
	open := event(3, 0)
	open.Minutes, open.Severity = 3, 3
	if err := saveAnalysis(ctx, st, first, []results.Event{open}, at(0), at(4), round); err != nil {
		t.Fatal(err)
	}
	// Rounds 6..12 read: the event is seen from round 6, the first read,
	// and ends at round 12.
	later := []results.Verdict{verdict(6, results.VerdictOutage), verdict(12, results.VerdictReachable)}
	if err := saveAnalysis(ctx, st, later, []results.Event{event(6, 12)}, at(6), at(6), round); err != nil {
		t.Fatal(err)
	}

	evs, err := st.Events(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("store holds %d events, want the one outage: %+v", len(evs), evs)
	}
	if e := evs[0]; !e.Start.Equal(at(3)) || !e.End.Equal(at(12)) || e.Minutes != 9 || e.Severity != 9 {
		t.Errorf("event %v–%v, %v minutes, severity %v; want %v–%v, 9, 9", e.Start, e.End, e.Minutes, e.Severity, at(3), at(12))
	}

	vs, err := st.Verdicts(ctx, store.VerdictQuery{Level: results.LevelPrefix})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Time
	for _, v := range vs {
		got = append(got, v.Time)
	}
	// An analysis of the same rounds with more records in: the event it
	// finds starts a round later. The earlier one goes.
	if err := saveAnalysis(ctx, st, nil, []results.Event{event(4, 12)}, at(0), at(4), round); err != nil {
		t.Fatal(err)
	}
	if evs, err = st.Events(ctx, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || !evs[0].Start.Equal(at(4)) {
		t.Errorf("after a later analysis moved the start: %+v, want the one event from round 4", evs)
	}

	want := []time.Time{at(4), at(5), at(6), at(12)}
	if len(got) != len(want) {
		t.Fatalf("stored verdicts at %v, want %v (not the warm-up's)", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("stored verdicts at %v, want %v", got, want)
			break
		}
	}
}

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
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), c[2]) {
			t.Errorf("parseSpan(%q, %q) = %v, want a usage error naming %s", c[0], c[1], err, c[2])
		}
	}
}
