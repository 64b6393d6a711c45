package schedule

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"darkwatch/results/bgp"
	"darkwatch/results/geo"
	"darkwatch/results/store"
)

// openStore opens a fresh SQLite store.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "dw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// bgpdumpOriginated replays bgpdump's lines of an MRT file and returns
// the prefixes whose AS path ends in asn, from at least one peer, at the end.
func bgpdumpOriginated(t *testing.T, expect string, asn uint32) []netip.Prefix {
	t.Helper()
	f, err := os.Open(expect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[[3]string]string{} // (peer, peer AS, prefix) -> origin
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		x := strings.Split(sc.Text(), "|")
		k := [3]string{x[3], x[4], x[5]}
		switch x[2] {
		case "A":
			path := strings.Fields(x[6])
			routes[k] = path[len(path)-1]
		case "W":
			delete(routes, k)
		case "STATE":
			if x[6] != "6" {
				for r := range routes {
					if r[0] == x[3] && r[1] == x[4] {
						delete(routes, r)
					}
				}
			}
		}
	}
	var out []netip.Prefix
	for k, origin := range routes {
		if p := netip.MustParsePrefix(k[2]); origin == fmt.Sprint(asn) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, netip.Prefix.Compare)
	return out
}

// TestResolveRealData resolves target sets named by AS and by country from
// a store holding a real RIS update file and a real APNIC statistics file.
func TestResolveRealData(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	const mrt = "ris.rrc06.updates.1427846400.gz"
	if _, _, err := bgp.ImportFile(ctx, st, "../testdata/mrt/"+mrt); err != nil {
		t.Fatal(err)
	}
	if _, _, err := geo.ImportFile(ctx, st, "../testdata/geo/delegated-apnic-20110113.txt"); err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Targets = []TargetSet{
		{Name: "vnpt", ASN: 45899, Methods: []string{"icmp"}},
		{Name: "kp", Country: "kp", Methods: []string{"icmp"}},
		{Name: "jp", Country: "JP", Methods: []string{"icmp"}},
		{Name: "lab", Prefixes: []string{"198.18.0.0/22"}, ASN: 64500, Country: "ZZ"},
		{Name: "nowhere", ASN: 64511},
		{Name: "kp-space", ASN: 131279, Country: "KP", From: FromGeo},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(ctx, st, cfg, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	byName := func(name string) ResolvedSet {
		i := slices.IndexFunc(r.Sets, func(s ResolvedSet) bool { return s.Name == name })
		if i < 0 {
			t.Fatalf("no set %s", name)
		}
		return r.Sets[i]
	}
	// AS45899: what bgpdump's own lines of the file say it originates.
	vnpt := byName("vnpt")
	want := bgpdumpOriginated(t, "../testdata/mrt/expect/"+mrt+".bgpdump-m.gz", 45899)
	var got []netip.Prefix
	for _, p := range vnpt.Prefixes {
		got = append(got, p.Prefix)
		if p.From.By != FromBGP || p.From.ASN != 45899 || p.From.Peers < 1 || !p.Probed {
			t.Errorf("%v from %+v", p.Prefix, p.From)
		}
	}
	if len(want) != 70 || !slices.Equal(got, want) {
		t.Errorf("AS45899 resolves to %d prefixes %v,\nbgpdump's lines say %d: %v", len(got), got, len(want), want)
	}
	if s := vnpt.Prefixes[0].From.String(); s != "bgp: AS45899 via 1 peer" {
		t.Errorf("%v comes from %q", vnpt.Prefixes[0].Prefix, s)
	}
	tests := []struct {
		set  string
		by   string
		want []string // prefix, probed, where from
	}{
		{"kp", FromGeo, []string{"175.45.176.0/22 true geo: apnic delegated 2010-01-22 (assigned)"}},
		{"jp", FromGeo, []string{"2001:200::/35 false geo: apnic delegated 1999-08-13 (allocated)", "2001:200:2000::/35 false geo: apnic delegated 2003-04-23 (allocated)",
			"2001:200:4000::/34 false geo: apnic delegated 2003-04-23 (allocated)", "2001:200:8000::/33 false geo: apnic delegated 2003-04-23 (allocated)"}},
		{"lab", FromConfig, []string{"198.18.0.0/22 true config"}},
		{"nowhere", FromBGP, nil},
		{"kp-space", FromGeo, []string{"175.45.176.0/22 true geo: apnic delegated 2010-01-22 (assigned)"}},
	}
	for _, tt := range tests {
		set := byName(tt.set)
		var got []string
		for _, p := range set.Prefixes {
			got = append(got, fmt.Sprintf("%v %v %v", p.Prefix, p.Probed, p.From))
		}
		if set.By != tt.by || !slices.Equal(got, tt.want) {
			t.Errorf("%s: by %s %q, want by %s %q", tt.set, set.By, got, tt.by, tt.want)
		}
	}
	cfg.Canaries = []HostConfig{{Addr: "175.45.177.1"}, {Addr: "198.18.0.1"}}
	if in := r.CanariesInside(cfg); len(in) != 2 || in[0].Set != "kp" || in[1].Set != "kp-space" ||
		in[0].Prefix != netip.MustParsePrefix("175.45.176.0/22") || in[0].Canary != netip.MustParseAddr("175.45.177.1") {
		t.Errorf("canaries inside named sets: %+v, want 175.45.177.1 in kp's and kp-space's 175.45.176.0/22 alone", in)
	}
	applied := r.Apply(cfg)
	if p := applied.Targets[1].Prefixes; !slices.Equal(p, []string{"175.45.176.0/22"}) || len(cfg.Targets[1].Prefixes) != 0 {
		t.Errorf("applied kp prefixes %v (config's own now %v)", p, cfg.Targets[1].Prefixes)
	}
	if p := applied.Targets[2].Prefixes; len(p) != 0 {
		t.Errorf("applied jp prefixes %v: IPv6 /35s cannot be probed address by address", p)
	}
}

func TestOriginString(t *testing.T) {
	tests := []struct {
		o    Origin
		want string
	}{
		{Origin{By: FromConfig}, "config"},
		{Origin{By: FromBGP, ASN: 131279, Peers: 12, Origins: []uint32{4837, 131279}}, "bgp: AS131279 via 12 peers, MOAS 4837/131279"},
		{Origin{By: FromBGP, ASN: 64511, Peers: 1, Origins: []uint32{64511}, Within: netip.MustParsePrefix("198.18.0.0/22")},
			"bgp: AS64511 via 1 peer, part of 198.18.0.0/22 (more-specifics of other ASes carved out)"},
		{Origin{By: FromGeo, Registry: "ripencc", Status: "allocated", Date: "2014-12-21"}, "geo: ripencc delegated 2014-12-21 (allocated)"},
		{Origin{By: FromGeo, Registry: "arin", Status: "assigned"}, "geo: arin delegated (assigned)"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestResolveNeedsStore(t *testing.T) {
	for _, ts := range []TargetSet{{Name: "as", ASN: 64511}, {Name: "cc", Country: "ZZ"}} {
		cfg := validConfig()
		cfg.Targets = []TargetSet{ts}
		if _, err := Resolve(t.Context(), nil, cfg, time.Time{}); err == nil || !strings.Contains(err.Error(), "store") {
			t.Errorf("%s without a store: error %v, want one naming the store", ts.Name, err)
		}
	}
	cfg := validConfig()
	if _, err := Resolve(t.Context(), nil, cfg, time.Time{}); err != nil {
		t.Errorf("no named set, no store: %v", err)
	}
}

// TestDaemonFollowsRouting: a set named by its AS probes, at each round,
// what the AS originates by the routes stored so far.
func TestDaemonFollowsRouting(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	peer := netip.MustParseAddr("192.0.2.1")
	at := time.Date(2014, 12, 22, 7, 0, 0, 0, time.UTC)
	put := func(kind bgp.Kind, prefix string) {
		t.Helper()
		at = at.Add(time.Minute)
		r := bgp.Route{Time: at, Kind: kind, Peer: peer, PeerAS: 64500, Prefix: netip.MustParsePrefix(prefix)}
		if kind == bgp.Announce {
			r.Attrs = &bgp.Attrs{ASPath: "64500 64511", HasASPath: true, Origin: 0}
		}
		if _, err := st.PutRoutes(ctx, "test", []bgp.Route{r}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := validConfig()
	cfg.Targets = []TargetSet{{Name: "as64511", ASN: 64511, Methods: []string{"icmp"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fakeProber{up: func(netip.Addr) bool { return false }, swept: map[string][]netip.Addr{}}
	var rec recorder
	var log bytes.Buffer
	d := newDaemon(f, &rec, st, &log)
	rounds := []struct {
		change      func()
		swept, gone string
	}{
		{func() { put(bgp.Announce, "198.18.0.0/30") }, "198.18.0.0/30", ""},
		// A prefix the AS starts to originate joins; one it withdraws leaves.
		{func() { put(bgp.Announce, "198.18.1.0/30"); put(bgp.Withdraw, "198.18.0.0/30") }, "198.18.1.0/30", "198.18.0.0/30"},
	}
	for i, round := range rounds {
		round.change()
		rec.committed = nil
		if err := d.Run(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if n := rec.count("icmp", netip.MustParsePrefix(round.swept)); n != 4 {
			t.Errorf("round %d: %d icmp records of %s, want 4", i, n, round.swept)
		}
		if round.gone != "" {
			if n := rec.count("icmp", netip.MustParsePrefix(round.gone)); n != 0 {
				t.Errorf("round %d: %d icmp records of %s, which the AS no longer originates", i, n, round.gone)
			}
		}
	}
	if !strings.Contains(log.String(), "joined=[198.18.1.0/30] left=[198.18.0.0/30]") {
		t.Errorf("the log does not say what joined and left:\n%s", log.String())
	}
}

// countingSource counts the replays of the routes.
type countingSource struct {
	*store.Store
	replays int
}

func (c *countingSource) EachRoute(ctx context.Context, q store.RouteQuery, fn func(bgp.Route) error) error {
	c.replays++
	return c.Store.EachRoute(ctx, q, fn)
}

// TestResolverReplaysOnlyNewRoutes: a Resolver replays the routes again
// only when the store holds new ones.
func TestResolverReplaysOnlyNewRoutes(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	src := &countingSource{Store: st}
	cfg := validConfig()
	cfg.Targets = []TargetSet{{Name: "as64511", ASN: 64511}}
	at := time.Date(2014, 12, 22, 7, 0, 0, 0, time.UTC)
	announce := func(prefix string) {
		t.Helper()
		at = at.Add(time.Minute)
		r := bgp.Route{Time: at, Kind: bgp.Announce, Peer: netip.MustParseAddr("192.0.2.1"), PeerAS: 64500,
			Prefix: netip.MustParsePrefix(prefix), Attrs: &bgp.Attrs{ASPath: "64500 64511", HasASPath: true}}
		if _, err := st.PutRoutes(ctx, "test", []bgp.Route{r}); err != nil {
			t.Fatal(err)
		}
	}
	var rv Resolver
	steps := []struct {
		announce string
		prefixes int
		replays  int
	}{
		{"198.18.0.0/24", 1, 1},
		{"", 1, 1},
		{"198.18.1.0/24", 2, 2},
		{"198.18.1.0/24", 2, 2}, // the same announcement again: stored once, nothing new
		{"", 2, 2},
	}
	for i, step := range steps {
		if step.announce != "" {
			if i == 3 {
				at = at.Add(-time.Minute) // the same route, the same time
			}
			announce(step.announce)
		}
		r, err := rv.Resolve(ctx, src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r.Sets[0].Prefixes); n != step.prefixes || src.replays != step.replays {
			t.Errorf("step %d: %d prefixes after %d replays, want %d after %d", i, n, src.replays, step.prefixes, step.replays)
		}
	}
}

// TestCensusOfNamedSet: a census of a set named by its AS sweeps what the
// AS originates by the routes in the store.
func TestCensusOfNamedSet(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	r := bgp.Route{Time: time.Date(2014, 12, 22, 7, 0, 0, 0, time.UTC), Kind: bgp.Announce, Peer: netip.MustParseAddr("192.0.2.1"),
		PeerAS: 64500, Prefix: netip.MustParsePrefix("198.18.4.0/24"), Attrs: &bgp.Attrs{ASPath: "64500 64511", HasASPath: true}}
	if _, err := st.PutRoutes(ctx, "test", []bgp.Route{r}); err != nil {
		t.Fatal(err)
	}
	f := &fakeProber{up: func(a netip.Addr) bool { return a.As4()[3] < 30 }, swept: map[string][]netip.Addr{}}
	c := &Census{Prober: f, Store: st, Method: Method{Name: "icmp"}, Passes: 1}
	cfg := validConfig()
	cfg.Targets = []TargetSet{{Name: "as64511", ASN: 64511, Methods: []string{"icmp"}}}
	out, err := c.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.swept["icmp"]) != 256 || len(out) != 1 || out[0].Prefix != netip.MustParsePrefix("198.18.4.0/24") || len(out[0].E) != 30 {
		t.Errorf("census swept %d addresses and stored %+v; want 198.18.4.0/24 with 30 addresses answering", len(f.swept["icmp"]), out)
	}
}

// TestResolverConcurrent: a Resolver serves several goroutines at once
// (run's rounds and their analysis, serve's refresh), alike.
func TestResolverConcurrent(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	r := bgp.Route{Time: time.Date(2014, 12, 22, 7, 0, 0, 0, time.UTC), Kind: bgp.Announce, Peer: netip.MustParseAddr("192.0.2.1"),
		PeerAS: 64500, Prefix: netip.MustParsePrefix("198.18.4.0/24"), Attrs: &bgp.Attrs{ASPath: "64500 64511", HasASPath: true}}
	if _, err := st.PutRoutes(ctx, "test", []bgp.Route{r}); err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Targets = []TargetSet{{Name: "as64511", ASN: 64511}}
	var rv Resolver
	var wg sync.WaitGroup
	got := make([]int, 8)
	for i := range got {
		wg.Go(func() {
			res, err := rv.Resolve(ctx, st, cfg)
			if err == nil {
				got[i] = len(res.Sets[0].Prefixes)
			}
		})
	}
	wg.Wait()
	for i, n := range got {
		if n != 1 {
			t.Errorf("call %d: %d prefixes, want 1", i, n)
		}
	}
}
