package bgp

import (
	"net/netip"
	"testing"
	"time"
)

func TestControlPlane(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	p24 := mustPrefix(t, "198.18.0.0/24")
	p22 := mustPrefix(t, "198.18.0.0/22")
	p16 := mustPrefix(t, "198.18.0.0/16")
	other := mustPrefix(t, "203.0.113.0/24")
	other2 := mustPrefix(t, "203.0.113.128/25")
	v6 := mustPrefix(t, "2001:db8::/32")
	peer := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	ann := func(m, p int, prefix netip.Prefix) Route {
		return Route{Time: at(m), Kind: Announce, Peer: peer(p), PeerAS: 64500 + uint32(p), Prefix: prefix,
			Attrs: &Attrs{ASPath: "64500 131279", HasASPath: true}}
	}
	rib := func(m, p int, prefix netip.Prefix) Route { r := ann(m, p, prefix); r.Kind = RIB; return r }
	wd := func(m, p int, prefix netip.Prefix) Route {
		return Route{Time: at(m), Kind: Withdraw, Peer: peer(p), PeerAS: 64500 + uint32(p), Prefix: prefix}
	}
	down := func(m, p int) Route {
		return Route{Time: at(m), Kind: StateChange, Peer: peer(p), PeerAS: 64500 + uint32(p), OldState: 6, NewState: 1}
	}
	// Three full-feed peers (more than one prefix each, with or without
	// p24 and p16) and one partial.
	base := []Route{
		ann(0, 1, p24), ann(0, 1, p16), ann(0, 1, other), ann(0, 1, other2),
		ann(0, 2, p24), ann(0, 2, p16), ann(0, 2, other), ann(0, 2, other2),
		rib(0, 3, p24), rib(0, 3, p16), rib(0, 3, other), rib(0, 3, other2),
		ann(0, 4, p24), // one prefix only: not a full feed at threshold 1
	}
	lab := Config{FullFeedIPv4: 1, FullFeedIPv6: 1}
	type want struct {
		state         State
		peers, full   int
		covering      netip.Prefix
		coveringPeers int
	}
	tests := []struct {
		name   string
		routes []Route
		prefix netip.Prefix
		bin    int // minutes after t0
		cfg    Config
		want   want
	}{
		{"all full-feed peers see it", base, p24, 1, lab, want{Announced, 3, 3, p16, 3}},
		{"before any data", base, p24, -1, lab, want{state: Unknown}},
		{"after Until", base, p24, 10, Config{FullFeedIPv4: 1, Until: at(5)}, want{state: Unknown}},
		{"two of three withdraw", append(base, wd(2, 1, p24), wd(3, 2, p24)), p24, 5, lab, want{Withdrawn, 1, 3, p16, 3}},
		{"one of three withdraws", append(base, wd(2, 1, p24)), p24, 5, lab, want{Announced, 2, 3, p16, 3}},
		{"withdrawn later than the bin", append(base, wd(6, 1, p24), wd(6, 2, p24)), p24, 5, lab, want{Announced, 3, 3, p16, 3}},
		{"withdrawn and covering gone too", append(base, wd(2, 1, p24), wd(2, 2, p24), wd(2, 1, p16), wd(2, 2, p16)),
			p24, 5, lab, want{Withdrawn, 1, 3, netip.Prefix{}, 0}},
		{"re-announced", append(base, wd(2, 1, p24), wd(2, 2, p24), ann(4, 1, p24), ann(4, 2, p24)), p24, 5, lab,
			want{Announced, 3, 3, p16, 3}},
		{"never announced, covered", base, p22, 1, lab, want{Withdrawn, 0, 3, p16, 3}},
		{"session down withdraws everything", append(base, down(2, 1), down(2, 2)), p24, 5, lab,
			want{Announced, 1, 1, p16, 1}},
		{"IODA thresholds: no full feed here", base, p24, 1, DefaultConfig(), want{state: Unknown}},
		{"threshold 0 counts every peer", base, p24, 1, Config{}, want{Announced, 4, 4, p16, 3}},
		{"no IPv6 full feed", base, v6, 1, lab, want{state: Unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bins := []time.Time{at(tt.bin)}
			got := ControlPlane(tt.routes, bins, []netip.Prefix{tt.prefix}, tt.cfg)[tt.prefix]
			if len(got) != 1 {
				t.Fatalf("%d visibilities, want 1", len(got))
			}
			v := got[0]
			if v.State != tt.want.state || v.Peers != tt.want.peers || v.FullFeed != tt.want.full ||
				v.Covering != tt.want.covering || v.CoveringPeers != tt.want.coveringPeers {
				t.Errorf("got %s, %d of %d peers, covering %v (%d); want %s, %d of %d, covering %v (%d)",
					v.State, v.Peers, v.FullFeed, v.Covering, v.CoveringPeers,
					tt.want.state, tt.want.peers, tt.want.full, tt.want.covering, tt.want.coveringPeers)
			}
			if !v.Time.Equal(bins[0]) || v.Prefix != tt.prefix {
				t.Errorf("visibility of %v at %v, want %v at %v", v.Prefix, v.Time, tt.prefix, bins[0])
			}
		})
	}
}

func TestControlPlaneBins(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	p := mustPrefix(t, "175.45.176.0/24")
	other := mustPrefix(t, "192.0.2.0/24")
	var routes []Route
	for i := 1; i <= 2; i++ {
		peer := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		routes = append(routes,
			Route{Time: t0, Kind: Announce, Peer: peer, PeerAS: 4837, Prefix: p},
			Route{Time: t0, Kind: Announce, Peer: peer, PeerAS: 4837, Prefix: other},
			Route{Time: t0.Add(10 * time.Minute), Kind: Withdraw, Peer: peer, PeerAS: 4837, Prefix: p},
			Route{Time: t0.Add(20 * time.Minute), Kind: Announce, Peer: peer, PeerAS: 4837, Prefix: p})
	}
	// Given out of order: ControlPlane sorts routes and bins.
	routes[0], routes[len(routes)-1] = routes[len(routes)-1], routes[0]
	bins := Bins(t0.Add(-5*time.Minute), t0.Add(25*time.Minute), 5*time.Minute)
	if len(bins) != 7 {
		t.Fatalf("Bins = %v", bins)
	}
	got := ControlPlane(routes, bins, []netip.Prefix{p}, Config{})[p]
	want := []State{Unknown, Announced, Announced, Withdrawn, Withdrawn, Announced, Announced}
	for i := range want {
		if got[i].State != want[i] {
			t.Errorf("bin %v: %s, want %s", bins[i], got[i].State, want[i])
		}
	}
}

func TestAddPathWithdrawal(t *testing.T) {
	// With ADD-PATH a peer announces a prefix by two paths; withdrawing one
	// leaves it seen.
	t0 := time.Date(2016, 1, 7, 12, 0, 0, 0, time.UTC)
	p := mustPrefix(t, "198.18.0.0/24")
	peer := mustAddr(t, "192.0.2.1")
	routes := []Route{
		{Time: t0, Kind: Announce, Peer: peer, Prefix: p, PathID: 1, AddPath: true},
		{Time: t0, Kind: Announce, Peer: peer, Prefix: p, PathID: 2, AddPath: true},
		{Time: t0.Add(time.Minute), Kind: Withdraw, Peer: peer, Prefix: p, PathID: 1, AddPath: true},
	}
	got := ControlPlane(routes, []time.Time{t0.Add(2 * time.Minute)}, []netip.Prefix{p}, Config{})[p][0]
	if got.State != Announced || got.Peers != 1 {
		t.Errorf("after one of two paths withdrawn: %s with %d peers, want announced by 1", got.State, got.Peers)
	}
}

// TestVisibilityOfRealFeed replays a real RIS update file: its peers send
// updates, not full tables, so with IODA's thresholds nothing is known; with
// a threshold of 0 the one IPv4 peer, 202.249.2.185, counts, and the prefix
// it announced (twice, and never withdrew) is announced.
func TestVisibilityOfRealFeed(t *testing.T) {
	var routes []Route
	if err := ReadFile(mrtDir+"/ris.rrc06.updates.1427846400.gz", func(r Route) error {
		routes = append(routes, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	end := routes[len(routes)-1].Time
	p := routes[0].Prefix // 192.108.199.0/24, announced first
	got := ControlPlane(routes, []time.Time{end}, []netip.Prefix{p}, DefaultConfig())[p][0]
	if got.State != Unknown {
		t.Errorf("IODA thresholds on an update file: %s, want unknown", got.State)
	}
	got = ControlPlane(routes, []time.Time{end}, []netip.Prefix{p}, Config{})[p][0]
	if got.State != Announced || got.FullFeed != 1 || got.Peers != 1 {
		t.Errorf("threshold 0: %s, %d of %d peers; want announced by the file's one IPv4 peer", got.State, got.Peers, got.FullFeed)
	}
}

// TestControlPlaneAskedTwice asks for one prefix twice: it still gets one
// Visibility per bin.
func TestControlPlaneAskedTwice(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	p := mustPrefix(t, "198.18.1.0/24")
	peer := netip.MustParseAddr("203.0.113.9")
	routes := []Route{{Time: t0, Kind: Announce, Peer: peer, PeerAS: 64500, Prefix: p}}
	bins := []time.Time{t0, t0.Add(time.Minute)}
	got := ControlPlane(routes, bins, []netip.Prefix{p, p}, Config{})[p]
	if len(got) != len(bins) || got[1].State != Announced {
		t.Errorf("got %+v, want %d bins, announced", got, len(bins))
	}
}
