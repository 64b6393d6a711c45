package results

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// censusRec is one census probe record.
func censusRec(vantage, method, target string, pass int, outcome string) Record {
	return Record{
		Time:    time.Date(2026, 11, 21, 22, pass, 0, 0, time.UTC),
		Vantage: vantage, Round: int64(pass), Method: method, Target: target, Outcome: outcome,
	}
}

func addrs(ss ...string) []netip.Addr {
	as := make([]netip.Addr, len(ss))
	for i, s := range ss {
		as[i] = netip.MustParseAddr(s)
	}
	return as
}

func TestCensus(t *testing.T) {
	var recs []Record
	for pass := range 3 {
		// 198.18.0.0/24 from vp1: .1–.20 answer every pass but .1–.4 only
		// in the first; .21–.30 never.
		for i := 1; i <= 30; i++ {
			out := OutcomeTimeout
			if i <= 20 && (i > 4 || pass == 0) {
				out = OutcomeReply
			}
			recs = append(recs, censusRec("vp1", MethodICMP, fmt.Sprintf("198.18.0.%d", i), pass, out))
		}
		// 198.18.1.0/24 by TCP: five addresses, open or closed, always.
		for i := 1; i <= 5; i++ {
			out := OutcomeOpen
			if i%2 == 0 {
				out = OutcomeClosed
			}
			r := censusRec("vp1", MethodTCP, fmt.Sprintf("198.18.1.%d", i), pass, out)
			r.Port = 80
			recs = append(recs, r)
		}
		// 198.18.0.0/24 by TCP too, a census of its own: .1–.3 open to
		// port 443 every pass, the icmp-only .4 closed in the first.
		for i := 1; i <= 4; i++ {
			out := OutcomeOpen
			if i == 4 {
				out = OutcomeTimeout
				if pass == 0 {
					out = OutcomeClosed
				}
			}
			r := censusRec("vp1", MethodTCP, fmt.Sprintf("198.18.0.%d", i), pass, out)
			r.Port = 443
			recs = append(recs, r)
		}
		// An IPv6 host answering every other pass, and one never.
		out := OutcomeTimeout
		if pass%2 == 0 {
			out = OutcomeReply
		}
		recs = append(recs,
			censusRec("vp1", MethodICMP, "2001:db8:1:2::5", pass, out),
			censusRec("vp1", MethodICMP, "2001:db8:1:3::5", pass, OutcomeUnreachable),
			// vp2 sees 198.18.0.7 only.
			censusRec("vp2", MethodICMP, "198.18.0.7", pass, OutcomeReply),
			// Not census evidence: other methods, prober errors, bad targets.
			censusRec("vp1", MethodDNS, "198.18.0.99", pass, OutcomeReply),
			censusRec("vp1", MethodTrace, "198.18.0.98", pass, OutcomeReply),
			censusRec("vp1", MethodICMP, "198.18.0.97", pass, OutcomeError),
			censusRec("vp1", MethodICMP, "not-an-address", pass, OutcomeReply),
		)
	}
	hosts := addrs("198.18.0.7", "198.18.0.200")

	got := Census(recs, hosts)
	e20 := block(0, 20)
	want := []BlockStat{
		{Vantage: "vp1", Method: "icmp", Block: netip.MustParsePrefix("198.18.0.0/24"), E: e20, A: 52.0 / 60, Sparse: false},
		{Vantage: "vp1", Method: "tcp:443", Block: netip.MustParsePrefix("198.18.0.0/24"), E: block(0, 4), A: 10.0 / 12, Sparse: true},
		{Vantage: "vp1", Method: "icmp", Block: netip.MustParsePrefix("198.18.0.7/32"), E: addrs("198.18.0.7"), A: 1, Sparse: true, Host: true},
		{Vantage: "vp1", Method: "tcp:80", Block: netip.MustParsePrefix("198.18.1.0/24"), E: block(1, 5), A: 1, Sparse: true},
		{Vantage: "vp1", Method: "icmp", Block: netip.MustParsePrefix("2001:db8:1::/48"), E: addrs("2001:db8:1:2::5"), A: 2.0 / 3, Sparse: true},
		{Vantage: "vp2", Method: "icmp", Block: netip.MustParsePrefix("198.18.0.0/24"), E: addrs("198.18.0.7"), A: 1, Sparse: true},
		{Vantage: "vp2", Method: "icmp", Block: netip.MustParsePrefix("198.18.0.7/32"), E: addrs("198.18.0.7"), A: 1, Sparse: true, Host: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d stats, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		t.Run(w.Vantage+"/"+w.Block.String()+"/"+w.Method, func(t *testing.T) {
			g := got[i]
			if g.Vantage != w.Vantage || g.Method != w.Method || g.Block != w.Block || !slices.Equal(g.E, w.E) ||
				math.Abs(g.A-w.A) > 1e-12 || g.Sparse != w.Sparse || g.Host != w.Host ||
				!slices.Equal(g.History, []float64{g.A}) {
				t.Errorf("got %+v\nwant %+v", g, w)
			}
		})
	}
}

func TestCensusBlock(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"198.18.3.4", "198.18.3.0/24"},
		{"::ffff:198.18.3.4", "198.18.3.0/24"},
		{"2001:db8:aa:bb::1", "2001:db8:aa::/48"},
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := CensusBlock(netip.MustParseAddr(c.in)); got.String() != c.want {
				t.Errorf("got %v, want %s", got, c.want)
			}
		})
	}
	if got := CensusBlock(netip.Addr{}); got.IsValid() {
		t.Errorf("zero Addr: got %v", got)
	}
}

func TestCensusSparse(t *testing.T) {
	for _, c := range []struct {
		e    int
		a    float64
		want bool
	}{
		{15, 0.1, false}, {254, 1, false}, {14, 1, true}, {15, 0.09, true}, {0, 0, true},
	} {
		t.Run(fmt.Sprintf("E=%d/A=%v", c.e, c.a), func(t *testing.T) {
			var recs []Record
			for i := 1; i <= c.e; i++ {
				// 100 passes; the first 100·A answered.
				for pass := range 100 {
					out := OutcomeTimeout
					if pass < int(math.Round(100*c.a)) {
						out = OutcomeReply
					}
					recs = append(recs, censusRec("vp1", MethodICMP, fmt.Sprintf("198.18.0.%d", i), pass, out))
				}
			}
			if c.e == 0 {
				recs = append(recs, censusRec("vp1", MethodICMP, "198.18.0.1", 0, OutcomeTimeout))
			}
			got := Census(recs, nil)
			if len(got) != 1 || got[0].Sparse != c.want || len(got[0].E) != c.e {
				t.Errorf("got %+v, want sparse %v", got, c.want)
			}
		})
	}
}

func TestMergeCensus(t *testing.T) {
	p := netip.MustParsePrefix
	prev := []BlockStat{
		{Vantage: "vp1", Block: p("198.18.0.0/24"), E: addrs("198.18.0.1", "198.18.0.2"), A: 0.8, History: []float64{0.8}},
		{Vantage: "vp1", Block: p("198.18.9.0/24"), E: addrs("198.18.9.1"), A: 0.5, Sparse: true, History: []float64{0.5}},
		// The same block by tcp:80, merged only with its own kind.
		{Vantage: "vp1", Method: "tcp:80", Block: p("198.18.0.0/24"), E: addrs("198.18.0.9"), A: 0.6, Sparse: true, History: []float64{0.6}},
	}
	cur := []BlockStat{
		{Vantage: "vp1", Method: "icmp", Block: p("198.18.0.0/24"), E: addrs("198.18.0.2", "198.18.0.3", "198.18.0.4"), A: 0.9, History: []float64{0.9}},
		{Vantage: "vp2", Block: p("198.18.0.0/24"), E: addrs("198.18.0.5"), A: 0.4, Sparse: true, History: []float64{0.4}},
		{Vantage: "vp1", Method: "tcp:80", Block: p("198.18.0.0/24"), E: addrs("198.18.0.9", "198.18.0.10"), A: 1, History: []float64{1}},
		{Vantage: "vp1", Method: "tcp:443", Block: p("198.18.0.0/24"), E: addrs("198.18.0.11"), A: 1, Sparse: true, History: []float64{1}},
	}
	prevE := slices.Clone(prev[0].E)
	got := MergeCensus(prev, cur, 4)
	// The new census's rate over the merged E of 4: 0.9·3/4. An empty
	// method is icmp.
	want := []BlockStat{
		{Vantage: "vp1", Block: p("198.18.0.0/24"), E: addrs("198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4"),
			A: (0.8 + 0.675) / 2, Sparse: true, History: []float64{0.8, 0.675}},
		{Vantage: "vp1", Method: "tcp:443", Block: p("198.18.0.0/24"), E: addrs("198.18.0.11"), A: 1, Sparse: true, History: []float64{1}},
		{Vantage: "vp1", Method: "tcp:80", Block: p("198.18.0.0/24"), E: addrs("198.18.0.9", "198.18.0.10"),
			A: 0.8, Sparse: true, History: []float64{0.6, 1}},
		{Vantage: "vp1", Block: p("198.18.9.0/24"), E: addrs("198.18.9.1"), A: 0.5, Sparse: true, History: []float64{0.5}},
		{Vantage: "vp2", Block: p("198.18.0.0/24"), E: addrs("198.18.0.5"), A: 0.4, Sparse: true, History: []float64{0.4}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		t.Run(w.Vantage+"/"+w.Block.String()+"/"+w.Method, func(t *testing.T) {
			g := got[i]
			if g.Vantage != w.Vantage || CensusMethod(g.Method) != CensusMethod(w.Method) || g.Block != w.Block || !slices.Equal(g.E, w.E) ||
				math.Abs(g.A-w.A) > 1e-12 || g.Sparse != w.Sparse || len(g.History) != len(w.History) {
				t.Errorf("got %+v\nwant %+v", g, w)
			}
			for j := range w.History {
				if math.Abs(g.History[j]-w.History[j]) > 1e-12 {
					t.Errorf("History %v, want %v", g.History, w.History)
				}
			}
		})
	}
	if !slices.Equal(prev[0].E, prevE) || len(prev[0].History) != 1 {
		t.Errorf("MergeCensus changed its input: %+v", prev[0])
	}

	t.Run("window", func(t *testing.T) {
		e := block(0, 20)
		stats := []BlockStat{{Vantage: "vp1", Block: p("198.18.0.0/24"), E: e, A: 0.1, History: []float64{0.1}}}
		for _, a := range []float64{0.2, 0.3, 0.4, 0.5, 0.6} {
			stats = MergeCensus(stats, []BlockStat{{Vantage: "vp1", Block: p("198.18.0.0/24"), E: e, A: a}}, 3)
		}
		if g := stats[0]; len(g.History) != 3 || math.Abs(g.A-0.5) > 1e-12 || g.Sparse {
			t.Errorf("got %+v, want A 0.5 over the last 3", g)
		}
	})
}
