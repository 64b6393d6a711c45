package results

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// labRecords simulates three vantages probing two /24s (16 addresses each) and
// a canary for rounds 0..n-1; down(v, round) says whether vantage v's probes
// of the targets go unanswered, canaryDown whether its canary probe does.
func labRecords(n int, down, canaryDown func(v string, round int) bool) []Record {
	start := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	var recs []Record
	for round := range n {
		at := start.Add(time.Duration(round) * time.Minute)
		for _, v := range []string{"vp1", "vp2", "vp3"} {
			for _, block := range []string{"198.18.0", "198.18.1"} {
				for host := 1; host <= 16; host++ {
					out := OutcomeReply
					if down(v, round) {
						out = OutcomeTimeout
					}
					recs = append(recs, Record{Time: at.Add(time.Second), Vantage: v, Round: int64(round), Method: MethodICMP,
						Target: fmt.Sprintf("%s.%d", block, host), Outcome: out})
				}
			}
			out := OutcomeReply
			if canaryDown(v, round) {
				out = OutcomeTimeout
			}
			recs = append(recs, Record{Time: at, Vantage: v, Round: int64(round), Method: MethodICMP, Target: "198.19.255.1", Outcome: out})
			if down(v, round) {
				recs = append(recs, Record{Time: at.Add(2 * time.Second), Vantage: v, Round: int64(round), Method: MethodTrace,
					Target: "198.18.0.1", Outcome: OutcomeTimeout, Reached: Bool(false),
					Hops: []Hop{{TTL: 1, Addr: "192.0.2.9"}, {TTL: 2, Addr: "203.0.113.9"}, {TTL: 3}}})
			}
		}
	}
	return recs
}

func labAnalysis() Analysis {
	return Analysis{
		Sets:     []TargetSet{{Name: "lab", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/23")}, ASN: 64500, Country: "ZZ"}},
		Canaries: []netip.Addr{netip.MustParseAddr("198.19.255.1")},
		Quorum:   2,
		Round:    time.Minute,
	}
}

func verdictAt(vs []Verdict, level, entity string, round int) string {
	at := time.Date(2026, 11, 21, 22, round, 0, 0, time.UTC)
	for _, v := range vs {
		if v.Level == level && v.Entity == entity && v.Time.Equal(at) {
			return v.Verdict
		}
	}
	return "none"
}

func TestAnalyzeBorderCut(t *testing.T) {
	never := func(string, int) bool { return false }
	cut := func(_ string, round int) bool { return round >= 3 && round <= 5 }
	vs, events := labAnalysis().Analyze(labRecords(9, cut, never))
	for round, want := range []string{"reachable", "reachable", "reachable", "outage", "outage", "outage", "reachable", "reachable"} {
		if got := verdictAt(vs, LevelBlock, "198.18.0.0/24", round); got != want {
			t.Errorf("round %d: block verdict %s, want %s", round, got, want)
		}
	}
	if got := verdictAt(vs, LevelPrefix, "198.18.0.0/23", 4); got != VerdictOutage {
		t.Errorf("prefix verdict in the cut: %s", got)
	}
	var prefixEvent *Event
	for i, e := range events {
		if e.Level == LevelPrefix {
			prefixEvent = &events[i]
		}
	}
	if prefixEvent == nil {
		t.Fatalf("no prefix event in %+v", events)
	}
	start := time.Date(2026, 11, 21, 22, 3, 0, 0, time.UTC)
	if !prefixEvent.Start.Equal(start) || !prefixEvent.End.Equal(start.Add(3*time.Minute)) || prefixEvent.LastHop != "203.0.113.9" {
		t.Errorf("prefix event %+v: want start 22:03, end 22:06, last hop 203.0.113.9", *prefixEvent)
	}
}

func TestAnalyzeOneVantageDownIsAGap(t *testing.T) {
	vp3 := func(v string, round int) bool { return v == "vp3" && round >= 2 }
	vs, events := labAnalysis().Analyze(labRecords(6, vp3, vp3))
	for round := range 6 {
		if got := verdictAt(vs, LevelBlock, "198.18.1.0/24", round); got != VerdictReachable {
			t.Errorf("round %d: %s, want reachable", round, got)
		}
	}
	if got := verdictAt(vs, LevelVantage, "vp3", 4); got != VerdictVantageDown {
		t.Errorf("vp3 in round 4: %s, want vantage-down", got)
	}
	for _, e := range events {
		if e.Kind != VerdictPartial {
			t.Errorf("event %+v from one vantage's own loss", e)
		}
	}
}

func TestRoundBelief(t *testing.T) {
	tests := []struct {
		name              string
		prior             float64
		replies, silences int
		a                 float64
		want              string
	}{
		{"all answer", 0.99, 256, 0, 0.9, PlaneUp},
		{"none answers", 0.99, 0, 256, 0.9, PlaneDown},
		{"half lost at a high A", 0.99, 128, 128, 0.99, PlaneUp},
		{"silences last do not decide", 0.99, 200, 56, 0.9, PlaneUp},
		{"one reply after a down round", 0.01, 1, 0, 0.9, PlaneUncertain},
		{"two replies after a down round", 0.01, 2, 0, 0.9, PlaneUp},
		{"one silence at a low A", 0.99, 0, 1, 0.5, PlaneUp},
		{"a sparse block's few silences", 0.99, 0, 3, 0.1, PlaneUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := roundBelief(Belief{BU: tt.prior}, tt.replies, tt.silences, tt.a)
			if b.State() != tt.want || b.BU < BeliefMin || b.BU > BeliefMax {
				t.Fatalf("B(U) = %.4f (%s), want %s within [%.2f, %.2f]", b.BU, b.State(), tt.want, BeliefMin, BeliefMax)
			}
		})
	}
}

// TestAnalyzeControlPlane combines the data plane with a control plane in
// which 198.18.1.0/24 is withdrawn for rounds 3 to 7, and the targets stop
// answering in rounds 5 to 6, giving every cell of DESIGN.md's table that
// these two views reach.
func TestAnalyzeControlPlane(t *testing.T) {
	start := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	an := labAnalysis()
	var asked []netip.Prefix
	an.ControlPlane = func(p netip.Prefix, at time.Time) string {
		asked = append(asked, p)
		round := int(at.Sub(start) / time.Minute)
		if p == netip.MustParsePrefix("198.18.1.0/24") && round >= 3 && round <= 7 {
			return ControlWithdrawn
		}
		return ControlAnnounced
	}
	down := func(_ string, round int) bool { return round >= 5 && round <= 6 }
	vs, _ := an.Analyze(labRecords(10, down, func(string, int) bool { return false }))
	for _, c := range []struct {
		level, entity string
		round         int
		want          string
	}{
		{LevelBlock, "198.18.0.0/24", 2, VerdictReachable},
		{LevelBlock, "198.18.1.0/24", 2, VerdictReachable},
		{LevelBlock, "198.18.1.0/24", 3, VerdictReachableUnrouted},
		{LevelBlock, "198.18.0.0/24", 5, VerdictDataPlaneOutage},
		{LevelBlock, "198.18.1.0/24", 5, VerdictControlPlaneOutage},
		{LevelPrefix, "198.18.0.0/23", 5, VerdictDataPlaneOutage},
		{LevelBlock, "198.18.1.0/24", 9, VerdictReachable},
		{LevelASN, "AS64500", 5, VerdictDataPlaneOutage},
		{LevelCountry, "ZZ", 5, VerdictDataPlaneOutage},
	} {
		if got := verdictAt(vs, c.level, c.entity, c.round); got != c.want {
			t.Errorf("%s %s round %d: %s, want %s", c.level, c.entity, c.round, got, c.want)
		}
	}
	if len(asked) == 0 {
		t.Error("the control plane was never asked")
	}
}

// TestAnalyzeHostOnlyMethod probes a block with ICMP sweeps and, by DNS, only
// its known name server: when everything goes dark, the DNS series of the
// block is judged as the host is, and does not hold the block partial for
// rounds after ICMP saw it down.
func TestAnalyzeHostOnlyMethod(t *testing.T) {
	an := labAnalysis()
	ns := netip.MustParseAddr("198.18.0.53")
	an.Hosts = []netip.Addr{ns}
	down := func(_ string, round int) bool { return round >= 6 }
	recs := labRecords(12, down, func(string, int) bool { return false })
	start := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	for round := range 12 {
		for _, v := range []string{"vp1", "vp2", "vp3"} {
			out := OutcomeReply
			if down(v, round) {
				out = OutcomeTimeout
			}
			recs = append(recs, Record{Time: start.Add(time.Duration(round)*time.Minute + 3*time.Second), Vantage: v,
				Round: int64(round), Method: MethodDNS, Target: ns.String(), Outcome: out})
		}
	}
	vs, _ := an.Analyze(recs)
	for round := 8; round < 12; round++ {
		if got := verdictAt(vs, LevelBlock, "198.18.0.0/24", round); got != VerdictOutage {
			t.Errorf("round %d: block %s, want outage", round, got)
		}
	}
}

// TestAnalyzeSetControlPlane withdraws everything from round 5 while the
// targets stop answering: the AS and the country roll their prefixes' control
// plane up, and are control-plane outages too.
func TestAnalyzeSetControlPlane(t *testing.T) {
	start := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	an := labAnalysis()
	an.ControlPlane = func(_ netip.Prefix, at time.Time) string {
		if at.Sub(start) >= 5*time.Minute {
			return ControlWithdrawn
		}
		return ControlAnnounced
	}
	down := func(_ string, round int) bool { return round >= 5 }
	vs, _ := an.Analyze(labRecords(8, down, func(string, int) bool { return false }))
	for _, c := range []struct {
		level, entity string
		round         int
		want          string
	}{
		{LevelASN, "AS64500", 2, VerdictReachable},
		{LevelASN, "AS64500", 6, VerdictControlPlaneOutage},
		{LevelCountry, "ZZ", 6, VerdictControlPlaneOutage},
		{LevelPrefix, "198.18.0.0/23", 6, VerdictControlPlaneOutage},
	} {
		if got := verdictAt(vs, c.level, c.entity, c.round); got != c.want {
			t.Errorf("%s %s round %d: %s, want %s", c.level, c.entity, c.round, got, c.want)
		}
	}
}
