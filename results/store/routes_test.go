package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"darkwatch/results/bgp"
)

// mrtFile is a real RIS update file (testdata/README.md at the top of the
// repository).
const mrtFile = "../../testdata/mrt/updates.20160811.1600.gz"

// realRoutes reads mrtFile.
func realRoutes(t testing.TB) []bgp.Route {
	t.Helper()
	var rs []bgp.Route
	if err := bgp.ReadFile(mrtFile, func(r bgp.Route) error {
		rs = append(rs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRoutesSQLite(t *testing.T) {
	testRoutes(t, sqliteDSN(t))
}

func TestRoutesPostgres(t *testing.T) {
	testRoutes(t, postgresDSN(t))
}

// testRoutes stores a real MRT file's routes twice and reads them back.
func testRoutes(t *testing.T, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := realRoutes(t)
	// Distinct events: the file repeats some (the same announcement twice
	// in one second), which the store keeps once.
	distinct := map[string]bool{}
	for i := range rs {
		ns := rs[i].Time.UnixNano()
		distinct[routeID(&rs[i], ns)] = true
	}
	added := 0
	for i := 0; i < len(rs); i += 5000 {
		n, err := s.PutRoutes(ctx, "updates.20160811.1600.gz", rs[i:min(i+5000, len(rs))])
		if err != nil {
			t.Fatal(err)
		}
		added += n
	}
	if added != len(distinct) {
		t.Errorf("first import added %d routes, want the file's %d distinct ones", added, len(distinct))
	}
	again, err := s.PutRoutes(ctx, "copy-of-the-same.gz", rs)
	if err != nil || again != 0 {
		t.Errorf("second import added %d (%v), want 0", again, err)
	}
	if n, err := s.RoutesStored(ctx); err != nil || n != int64(len(distinct)) {
		t.Errorf("RoutesStored = %d (%v), want %d", n, err, len(distinct))
	}

	var got []bgp.Route
	if err := s.EachRoute(ctx, RouteQuery{}, func(r bgp.Route) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(distinct) {
		t.Fatalf("EachRoute gave %d routes, want %d", len(got), len(distinct))
	}
	// In time order, and each as it went in (the fields the store keeps).
	byID := map[string]bgp.Route{}
	for i := range rs {
		if id := routeID(&rs[i], rs[i].Time.UnixNano()); byID[id].Kind == 0 {
			byID[id] = rs[i] // the first of equal routes is the one stored
		}
	}
	for i, r := range got {
		if i > 0 && r.Time.Before(got[i-1].Time) {
			t.Fatalf("route %d at %v comes after %v", i, r.Time, got[i-1].Time)
		}
		want, ok := byID[routeID(&r, r.Time.UnixNano())]
		if !ok {
			t.Fatalf("route %d (%s %v %v %v) is not one of the file's", i, r.Kind, r.Time, r.Peer, r.Prefix)
		}
		if r.Kind != want.Kind || r.Peer != want.Peer || r.PeerAS != want.PeerAS || r.Prefix != want.Prefix ||
			r.NextHop != want.NextHop || r.Record != want.Record || !r.Time.Equal(want.Time) {
			t.Fatalf("route %d reads back as %+v, went in as %+v", i, r, want)
		}
		if want.Attrs != nil && (r.Attrs == nil || r.Attrs.ASPath != want.Attrs.ASPath || r.Attrs.Origin != want.Attrs.Origin) {
			t.Fatalf("route %d reads back with attributes %+v, went in with %+v", i, r.Attrs, want.Attrs)
		}
	}
	// The announcement and withdrawal of one prefix in one second keep
	// their order.
	p := netip.MustParsePrefix("192.140.252.0/22")
	var one []bgp.Route
	if err := s.EachRoute(ctx, RouteQuery{Prefix: p}, func(r bgp.Route) error {
		one = append(one, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []bgp.Route
	seen := map[string]bool{}
	for i := range rs {
		if id := routeID(&rs[i], rs[i].Time.UnixNano()); rs[i].Prefix == p && !seen[id] {
			seen[id] = true
			want = append(want, rs[i])
		}
	}
	if len(one) != len(want) || len(one) == 0 {
		t.Fatalf("routes of %v: %d, want %d", p, len(one), len(want))
	}
	for i := range one {
		if one[i].Kind != want[i].Kind || one[i].Peer != want[i].Peer || !one[i].Time.Equal(want[i].Time) {
			t.Errorf("routes of %v, %d: %s %v %v, want %s %v %v", p, i, one[i].Kind, one[i].Peer, one[i].Time,
				want[i].Kind, want[i].Peer, want[i].Time)
		}
	}
	// A time window.
	t0 := rs[0].Time.Add(30 * time.Second)
	n := 0
	if err := s.EachRoute(ctx, RouteQuery{Since: t0, Until: t0.Add(time.Minute)}, func(r bgp.Route) error {
		if r.Time.Before(t0) || !r.Time.Before(t0.Add(time.Minute)) {
			return fmt.Errorf("route at %v outside the window", r.Time)
		}
		n++
		return nil
	}); err != nil || n == 0 {
		t.Errorf("window: %d routes, %v", n, err)
	}
	// The caller's error comes back as it is.
	mine := errors.New("enough")
	if err := s.EachRoute(ctx, RouteQuery{}, func(bgp.Route) error { return mine }); err != mine {
		t.Errorf("EachRoute returned %v, want the callback's error", err)
	}
}

func TestPutRoutesInvalid(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, sqliteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	peer := netip.MustParseAddr("192.0.2.1")
	p := netip.MustParsePrefix("198.18.0.0/24")
	good := bgp.Route{Time: t0, Kind: bgp.Announce, Peer: peer, PeerAS: 64500, Prefix: p}
	tests := []struct {
		name  string
		route bgp.Route
	}{
		{"no time", bgp.Route{Kind: bgp.Announce, Peer: peer, Prefix: p}},
		{"no kind", bgp.Route{Time: t0, Peer: peer, Prefix: p}},
		{"no peer", bgp.Route{Time: t0, Kind: bgp.Withdraw, Prefix: p}},
		{"no prefix", bgp.Route{Time: t0, Kind: bgp.RIB, Peer: peer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.PutRoutes(ctx, "test", []bgp.Route{good, tt.route})
			if !errors.Is(err, ErrInvalidRoute) || n != 0 {
				t.Errorf("PutRoutes = %d, %v; want ErrInvalidRoute and nothing stored", n, err)
			}
		})
	}
	// A state change needs no prefix.
	st := bgp.Route{Time: t0, Kind: bgp.StateChange, Peer: peer, PeerAS: 64500, OldState: 6, NewState: 1}
	if n, err := s.PutRoutes(ctx, "test", []bgp.Route{st}); n != 1 || err != nil {
		t.Errorf("state change: %d, %v", n, err)
	}
	var got []bgp.Route
	s.EachRoute(ctx, RouteQuery{}, func(r bgp.Route) error { got = append(got, r); return nil })
	if len(got) != 1 || got[0].Kind != bgp.StateChange || got[0].OldState != 6 || got[0].NewState != 1 {
		t.Errorf("stored %+v, want the state change alone", got)
	}
}

func BenchmarkPutRoutesSQLite(b *testing.B) {
	benchmarkPutRoutes(b, sqliteDSN(b))
}

func BenchmarkPutRoutesPostgres(b *testing.B) {
	benchmarkPutRoutes(b, postgresDSN(b))
}

// benchmarkPutRoutes stores a real file's routes in batches of 5000, each
// iteration shifted in time so that every route is new.
func benchmarkPutRoutes(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := realRoutes(b)
	total := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		shifted := make([]bgp.Route, len(rs))
		for j := range rs {
			shifted[j] = rs[j]
			shifted[j].Time = rs[j].Time.Add(time.Duration(i) * time.Hour)
		}
		for k := 0; k < len(shifted); k += 5000 {
			n, err := s.PutRoutes(ctx, "bench", shifted[k:min(k+5000, len(shifted))])
			if err != nil {
				b.Fatal(err)
			}
			total += n
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "routes/s")
}
