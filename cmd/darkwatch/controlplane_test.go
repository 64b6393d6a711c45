package main

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"darkwatch/results"
	"darkwatch/results/bgp"
	"darkwatch/results/store"
)

func TestNextPrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"198.18.0.0/24", "198.18.1.0/24"},
		{"198.18.255.0/24", "198.19.0.0/24"},
		{"198.18.0.128/25", "198.18.1.0/25"},
		{"2001:db8:1::/48", "2001:db8:2::/48"},
		{"2001:db8:ffff::/48", "2001:db9::/48"},
		{"255.255.255.0/24", "0.0.0.0/24"},
	} {
		if got := nextPrefix(netip.MustParsePrefix(c.in)); got.String() != c.want {
			t.Errorf("nextPrefix(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

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

	a := &app{cfg: &Config{}, log: slog.New(slog.DiscardHandler)}
	an := results.Analysis{Round: time.Minute, Sets: []results.TargetSet{{Name: "lab", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/22")}}}}
	cp, err := a.controlPlane(ctx, st, &an, t0, t0.Add(10*time.Minute))
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
	if cp, err := a.controlPlane(ctx, empty, &an, t0, t0.Add(10*time.Minute)); cp != nil || err != nil {
		t.Errorf("empty store: control plane %v, err %v; want none", cp != nil, err)
	}
}
