package results_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"darkwatch/results"
	"darkwatch/results/bgp"
	"darkwatch/results/store"
)

// TestControlPlaneFromStore stores one peer's routes in a real SQLite store:
// four /24s and their covering /16 announced, then one /24 withdrawn, and asks
// the control plane of announced, withdrawn, covered, aggregate and unrelated
// prefixes before and after.
func TestControlPlaneFromStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	peer := netip.MustParseAddr("203.0.113.9")
	route := func(kind bgp.Kind, prefix string, at time.Duration) bgp.Route {
		r := bgp.Route{Time: t0.Add(at), Record: "BGP4MP", Kind: kind, Peer: peer, PeerAS: 64500, Prefix: netip.MustParsePrefix(prefix)}
		if kind == bgp.Announce {
			r.Attrs = &bgp.Attrs{Origin: 0, ASPath: "64500", HasASPath: true}
			r.NextHop = peer
		}
		return r
	}
	var routes []bgp.Route
	for _, p := range []string{"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24", "198.18.0.0/16"} {
		routes = append(routes, route(bgp.Announce, p, 10*time.Second))
	}
	routes = append(routes, route(bgp.Withdraw, "198.18.1.0/24", 5*time.Minute+10*time.Second))
	if _, err := st.PutRoutes(ctx, "test", routes); err != nil {
		t.Fatal(err)
	}

	an := results.Analysis{Round: time.Minute, Sets: []results.TargetSet{{Name: "lab", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/22")}}}}
	cp, err := an.JoinControlPlane(ctx, store.AnalysisSource(st), bgp.Config{}, t0, t0.Add(10*time.Minute))
	if err != nil || cp == nil {
		t.Fatalf("control plane: %v (nil: %v)", err, cp == nil)
	}
	for _, c := range []struct {
		prefix string
		round  int
		want   string
	}{
		{"198.18.1.0/24", 2, results.ControlAnnounced},
		{"198.18.1.0/24", 5, results.ControlWithdrawn}, // withdrawn within round 5
		{"198.18.1.0/24", 7, results.ControlWithdrawn},
		{"198.18.2.0/24", 7, results.ControlAnnounced},
		{"198.18.0.0/22", 7, results.ControlAnnounced},   // its more-specifics
		{"198.18.200.0/24", 7, results.ControlAnnounced}, // the covering /16
		{"198.18.1.7/32", 7, results.ControlWithdrawn},   // a host of the withdrawn /24
		{"203.0.113.0/24", 7, results.ControlUnknown},    // nothing in BGP says a word
	} {
		if got := cp(netip.MustParsePrefix(c.prefix), t0.Add(time.Duration(c.round)*time.Minute)); got != c.want {
			t.Errorf("%s in round %d: %s, want %s", c.prefix, c.round, got, c.want)
		}
	}

	// Without routes there is no control plane to ask.
	empty, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if cp, err := an.JoinControlPlane(ctx, store.AnalysisSource(empty), bgp.Config{}, t0, t0.Add(10*time.Minute)); cp != nil || err != nil {
		t.Errorf("empty store: control plane %v, err %v; want none", cp != nil, err)
	}
}

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
	if err := results.SaveAnalysis(ctx, store.AnalysisSource(st), first, []results.Event{open}, at(0), at(4), at(5), round); err != nil {
		t.Fatal(err)
	}
	// Rounds 6..12 read: the event is seen from round 6, the first read,
	// and ends at round 12.
	later := []results.Verdict{verdict(6, results.VerdictOutage), verdict(12, results.VerdictReachable)}
	if err := results.SaveAnalysis(ctx, store.AnalysisSource(st), later, []results.Event{event(6, 12)}, at(6), at(6), at(12), round); err != nil {
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
	// An analysis from round 2 on, with late records in: the event it
	// finds starts a round later. The earlier one goes.
	if err := results.SaveAnalysis(ctx, store.AnalysisSource(st), nil, []results.Event{event(4, 12)}, at(0), at(2), at(12), round); err != nil {
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
