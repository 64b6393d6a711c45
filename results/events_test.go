package results

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// series turns a string into one entity's verdict bins, one character a round
// from t0: R reachable, N reachable-unrouted, P partial, O outage,
// D data-plane-outage, C control-plane-outage, W withdrawn, U uncertain,
// - missing.
func series(s string, round time.Duration) []Bin {
	code := map[rune]string{
		'R': VerdictReachable, 'N': VerdictReachableUnrouted, 'P': VerdictPartial, 'O': VerdictOutage,
		'D': VerdictDataPlaneOutage, 'C': VerdictControlPlaneOutage, 'W': VerdictWithdrawn, 'U': VerdictUncertain,
	}
	step := round
	if step <= 0 {
		step = 11 * time.Minute
	}
	var vs []Verdict
	for i, c := range s {
		if c == '-' {
			continue
		}
		vs = append(vs, Verdict{Time: t0.Add(time.Duration(i) * step), Level: LevelBlock, Entity: "198.18.0.0/24", Verdict: code[c]})
	}
	return VerdictBins(vs)
}

type wantEvent struct {
	kind       string
	start, end int // rounds from t0; end -1 while ongoing
	minutes    float64
}

func checkEvents(t *testing.T, got []Event, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		end := time.Time{}
		if w.end >= 0 {
			end = t0.Add(time.Duration(w.end) * 11 * time.Minute)
		}
		if g.Kind != w.kind || !g.Start.Equal(t0.Add(time.Duration(w.start)*11*time.Minute)) || !g.End.Equal(end) ||
			math.Abs(g.Minutes-w.minutes) > 1e-9 {
			t.Errorf("event %d: got %s %v–%v %v min, want %+v", i, g.Kind, g.Start, g.End, g.Minutes, w)
		}
	}
}

func TestEvents(t *testing.T) {
	const r = 11 * time.Minute
	for _, c := range []struct {
		series string
		round  time.Duration
		want   []wantEvent
	}{
		{"RRRR", r, nil},
		{"RNNR", r, nil},
		{"RUUR", r, nil},
		{"RROOORR", r, []wantEvent{{VerdictOutage, 2, 5, 33}}},
		{"OOR", r, []wantEvent{{VerdictOutage, 0, 2, 22}}},
		// One reachable, uncertain or missing round does not split an event.
		{"ROROR", r, []wantEvent{{VerdictOutage, 1, 4, 33}}},
		{"ROUOR", r, []wantEvent{{VerdictOutage, 1, 4, 33}}},
		{"RO-OR", r, []wantEvent{{VerdictOutage, 1, 4, 33}}},
		// Two do.
		{"RORROR", r, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		{"ROR-OR", r, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		{"RO--OR", r, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		// No good bin before the next event: the first ends a round after
		// its last bad bin.
		{"ROUUOR", r, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		// Uncertainty after the last bad bin: the end is the first good bin.
		{"ROUUR", r, []wantEvent{{VerdictOutage, 1, 4, 33}}},
		// Ongoing: no good bin yet.
		{"ROOO", r, []wantEvent{{VerdictOutage, 1, -1, 33}}},
		{"RO", r, []wantEvent{{VerdictOutage, 1, -1, 11}}},
		{"ROU-", r, []wantEvent{{VerdictOutage, 1, -1, 11}}},
		// Kinds: the worst verdict, the earliest among equals.
		{"RPOOPR", r, []wantEvent{{VerdictOutage, 1, 5, 44}}},
		{"RPPR", r, []wantEvent{{VerdictPartial, 1, 3, 22}}},
		{"RWWPR", r, []wantEvent{{VerdictWithdrawn, 1, 4, 33}}},
		{"RDDCCR", r, []wantEvent{{VerdictDataPlaneOutage, 1, 5, 44}}},
		{"RCCDDR", r, []wantEvent{{VerdictControlPlaneOutage, 1, 5, 44}}},
		// Round length unknown: bins, not times, count.
		{"ROROR", 0, []wantEvent{{VerdictOutage, 1, 4, 33}}},
		{"RORROR", 0, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		{"ROUUOR", 0, []wantEvent{{VerdictOutage, 1, 2, 11}, {VerdictOutage, 4, 5, 11}}},
		{"ROO", 0, []wantEvent{{VerdictOutage, 1, -1, 11}}},
	} {
		t.Run(fmt.Sprintf("%s/%v", c.series, c.round), func(t *testing.T) {
			got := Events(series(c.series, c.round), c.round)
			checkEvents(t, got, c.want)
			for _, e := range got {
				if e.Level != LevelBlock || e.Entity != "198.18.0.0/24" || e.Severity != e.Minutes {
					t.Errorf("got %+v: severity of a block is its minutes", e)
				}
			}
		})
	}
}

func TestEventsSeverity(t *testing.T) {
	bins := series("ROOOR", 11*time.Minute)
	for i, d := range []float64{0, 0.5, 1, 0.75, 0} {
		bins[i].Drop = d
	}
	ev := Events(bins, 11*time.Minute)
	if len(ev) != 1 || math.Abs(ev[0].Severity-0.75*33) > 1e-9 {
		t.Errorf("got %+v, want severity 0.75 × 33", ev)
	}
}

func TestEventsSortsAndSeparates(t *testing.T) {
	a := series("ROOR", 11*time.Minute)
	b := series("RRPR", 11*time.Minute)
	for i := range b {
		b[i].Entity = "198.18.1.0/24"
	}
	c := series("OR", 11*time.Minute)
	c[0].Level, c[0].Entity = LevelPrefix, "198.18.0.0/22"
	c[1].Level, c[1].Entity = LevelPrefix, "198.18.0.0/22"
	// Reversed and interleaved.
	in := []Bin{b[3], a[3], c[1], b[2], a[2], b[1], a[1], c[0], b[0], a[0]}
	ev := Events(in, 11*time.Minute)
	want := []struct{ level, entity, kind string }{
		{LevelBlock, "198.18.0.0/24", VerdictOutage},
		{LevelBlock, "198.18.1.0/24", VerdictPartial},
		{LevelPrefix, "198.18.0.0/22", VerdictOutage},
	}
	if len(ev) != len(want) {
		t.Fatalf("got %+v", ev)
	}
	for i, w := range want {
		if ev[i].Level != w.level || ev[i].Entity != w.entity || ev[i].Kind != w.kind {
			t.Errorf("event %d: got %+v, want %v", i, ev[i], w)
		}
	}
}

// trace is a trace record towards target at t whose hops answered from the
// given addresses ("" for none), TTL 1 onwards.
func trace(vantage string, at time.Time, target string, reached bool, hops ...string) Record {
	r := Record{Time: at, Vantage: vantage, Method: MethodTrace, Target: target, Outcome: OutcomeTimeout, Reached: Bool(reached)}
	if reached {
		r.Outcome = OutcomeReply
	}
	for i, h := range hops {
		r.Hops = append(r.Hops, Hop{TTL: i + 1, Addr: h})
	}
	return r
}

func TestLastHop(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, c := range []struct {
		name   string
		traces []Record
		want   string
	}{
		{"none", nil, ""},
		{"one", []Record{trace("vp1", at(0), "198.18.0.1", false, "198.51.100.9", "203.0.113.13", "", "")}, "203.0.113.13"},
		{"most common", []Record{
			trace("vp1", at(0), "198.18.0.1", false, "198.51.100.9", "203.0.113.13", ""),
			trace("vp2", at(1), "198.18.0.1", false, "198.51.100.1", "203.0.113.9", ""),
			trace("vp3", at(2), "198.18.0.2", false, "198.51.100.5", "203.0.113.13"),
		}, "203.0.113.13"},
		{"tie: the latest", []Record{
			trace("vp1", at(5), "198.18.0.1", false, "203.0.113.13"),
			trace("vp2", at(1), "198.18.0.1", false, "203.0.113.9"),
			trace("vp1", at(3), "198.18.0.1", false, "203.0.113.9"),
			trace("vp2", at(2), "198.18.0.1", false, "203.0.113.13"),
		}, "203.0.113.13"},
		{"reached traces and other methods do not count", []Record{
			trace("vp1", at(0), "198.18.0.1", true, "198.51.100.9", "203.0.113.13", "198.18.0.1"),
			trace("vp2", at(1), "198.18.0.1", true, "198.51.100.9", "203.0.113.13", "198.18.0.1"),
			trace("vp3", at(2), "198.18.0.1", false, "198.51.100.9", "", ""),
			{Time: at(3), Method: MethodICMP, Target: "198.18.0.1", Outcome: OutcomeTimeout, Hops: []Hop{{TTL: 1, Addr: "192.0.2.1"}}},
		}, "198.51.100.9"},
		{"hops out of order: the highest TTL", []Record{{
			Time: at(0), Method: MethodTrace, Target: "198.18.0.1", Outcome: OutcomeTimeout,
			Hops: []Hop{{TTL: 3, Addr: "203.0.113.13"}, {TTL: 1, Addr: "198.51.100.9"}, {TTL: 4}},
		}}, "203.0.113.13"},
		{"nothing answered", []Record{trace("vp1", at(0), "198.18.0.1", false, "", "", "")}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := LastHop(c.traces); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestAttachLastHops(t *testing.T) {
	at := func(rounds int) time.Time { return t0.Add(time.Duration(rounds) * 11 * time.Minute) }
	events := []Event{
		{Level: LevelBlock, Entity: "198.18.0.0/24", Kind: VerdictOutage, Start: at(2), End: at(5)},
		{Level: LevelHost, Entity: "198.18.1.7", Kind: VerdictOutage, Start: at(2)}, // ongoing
		{Level: LevelASN, Entity: "AS131279", Kind: VerdictOutage, Start: at(2), End: at(5)},
		{Level: LevelBlock, Entity: "198.18.2.0/24", Kind: VerdictOutage, Start: at(2), End: at(5), LastHop: "192.0.2.99"},
	}
	traces := []Record{
		trace("vp1", at(1), "198.18.0.1", false, "192.0.2.1"),     // before
		trace("vp1", at(5), "198.18.0.1", false, "192.0.2.5"),     // at the end: after
		trace("vp1", at(3), "198.18.0.1", false, "203.0.113.13"),  // during
		trace("vp3", at(4), "198.18.0.2", false, "203.0.113.13"),  // during
		trace("vp1", at(3), "198.51.100.1", false, "192.0.2.3"),   // elsewhere
		trace("vp2", at(9), "198.18.1.7", false, "203.0.113.14"),  // ongoing event
		trace("vp2", at(4), "198.18.1.8", false, "192.0.2.4"),     // another host
		trace("vp2", at(4), "198.18.3.8", false, "203.0.113.15"),  // in the AS
		trace("vp2", at(4), "not-an-address", false, "192.0.2.6"), // ignored
	}
	h := NewHierarchy([]TargetSet{{Name: "kp", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/22")}, ASN: 131279}})
	// The AS's traces during its event: .13 twice, .4 and .15 once.
	AttachLastHops(events, traces, h)
	for i, want := range []string{"203.0.113.13", "203.0.113.14", "203.0.113.13", "192.0.2.99"} {
		if events[i].LastHop != want {
			t.Errorf("event %d (%s): last hop %q, want %q", i, events[i].Entity, events[i].LastHop, want)
		}
	}
}

// world is a synthetic measurement: 3 vantages × 4 blocks × 20 rounds.
type world struct {
	// canaryOK says whether vantage's canaries answer in round r.
	canaryOK func(v, r int) bool
	// observe returns vantage v's observations of block b in round r (State,
	// Method and Belief filled in).
	observe func(v, b, r int) []Observation
}

const (
	simVantages = 3
	simBlocks   = 4
	simRounds   = 20
	simRound    = 11 * time.Minute
)

var (
	simVantageNames = []string{"vp1", "vp2", "vp3"}
	simStart        = time.Unix(0, 0).Add(2_000_000 * simRound).UTC() // an aligned round start
	simHierarchy    = NewHierarchy([]TargetSet{{Name: "sim", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/22")}, ASN: 64500, Country: "KP"}})
)

func simAt(r int) time.Time { return simStart.Add(time.Duration(r) * simRound) }

func simBlock(b int) string { return fmt.Sprintf("198.18.%d.0/24", b) }

// simResult is what the pipeline made of a world.
type simResult struct {
	health   Health
	verdicts []Verdict // blocks
	events   []Event   // blocks
	rollup   []RollupBin
	rEvents  []Event // roll-up entities
}

// run plays w through vantage health, merge, events and roll-up.
func (w world) run() simResult {
	var canaries []Record
	var obs []Observation
	for r := range simRounds {
		for v, name := range simVantageNames {
			// Each vantage runs its round a few seconds after the others.
			at := simAt(r).Add(time.Duration(v) * 10 * time.Second)
			for _, c := range []string{"192.0.2.1", "198.51.100.1"} {
				out := OutcomeTimeout
				if w.canaryOK(v, r) {
					out = OutcomeReply
				}
				canaries = append(canaries, Record{Time: at, Vantage: name, Round: int64(r), Method: MethodICMP, Target: c, Outcome: out})
			}
			for b := range simBlocks {
				for _, o := range w.observe(v, b, r) {
					o.Vantage, o.Level, o.Entity, o.Round, o.Time = name, LevelBlock, simBlock(b), int64(r), at
					obs = append(obs, o)
				}
			}
		}
	}
	res := simResult{health: VantageHealth(canaries)}
	res.verdicts = Merge(obs, res.health, DefaultQuorum)
	res.events = Events(VerdictBins(res.verdicts), simRound)
	var rollup Rollup
	res.rollup = rollup.AddCounts(simHierarchy.Count(res.verdicts, simRound))
	bins := make([]Bin, len(res.rollup))
	for i, b := range res.rollup {
		bins[i] = b.Bin(ControlUnknown)
	}
	res.rEvents = Events(bins, simRound)
	return res
}

// synthetic observes state by ICMP.
func synthetic(state func(v, b, r int) string) func(v, b, r int) []Observation {
	return func(v, b, r int) []Observation {
		return []Observation{{State: state(v, b, r), Method: MethodICMP}}
	}
}

// driven observes by running the belief driver with probe deciding each
// probe's fate; A = 0.8 over 20 addresses a block.
func driven(probe func(v, b, r int) bool, rng *rand.Rand) func(v, b, r int) []Observation {
	beliefs := make(map[[2]int]Belief)
	return func(v, b, r int) []Observation {
		br := BlockRound{A: 0.8, E: block(b, 20), Prior: beliefs[[2]int{v, b}], Rand: rng}
		res := br.Run(func(netip.Addr) bool { return probe(v, b, r) })
		beliefs[[2]int{v, b}] = res.Belief
		return []Observation{{State: res.State, Method: MethodICMP, Belief: res.Belief.BU}}
	}
}

func allHealthy(int, int) bool { return true }

func outageRounds(r int) bool { return r >= 10 && r <= 14 }

func TestSimulation(t *testing.T) {
	t.Run("baseline: all reachable", func(t *testing.T) {
		res := world{allHealthy, synthetic(func(int, int, int) string { return PlaneUp })}.run()
		if len(res.verdicts) != simBlocks*simRounds {
			t.Fatalf("%d verdicts", len(res.verdicts))
		}
		for _, v := range res.verdicts {
			if v.Verdict != VerdictReachable || *v.Vantages != (VantageCount{Up: 3}) {
				t.Errorf("%s at %v: %s %+v", v.Entity, v.Time, v.Verdict, v.Vantages)
			}
		}
		for _, v := range res.health.Verdicts() {
			if v.Verdict != VerdictHealthy {
				t.Errorf("%s: %s", v.Entity, v.Verdict)
			}
		}
		for _, b := range res.rollup {
			if b.Alert != AlertNormal {
				t.Errorf("roll-up %s at %v: %s", b.Entity, b.Time, b.Alert)
			}
		}
		if len(res.events)+len(res.rEvents) != 0 {
			t.Errorf("events: %+v %+v", res.events, res.rEvents)
		}
	})

	t.Run("one vantage's canaries fail: vantage-down, blocks reachable", func(t *testing.T) {
		cut := func(v, r int) bool { return v == 2 && r >= 5 && r <= 7 } // vp3's uplink
		res := world{
			canaryOK: func(v, r int) bool { return !cut(v, r) },
			observe: synthetic(func(v, b, r int) string {
				if cut(v, r) {
					return PlaneDown
				}
				return PlaneUp
			}),
		}.run()
		down := 0
		for _, v := range res.health.Verdicts() {
			if v.Verdict == VerdictVantageDown {
				down++
				if v.Entity != "vp3" {
					t.Errorf("%s vantage-down", v.Entity)
				}
			}
		}
		if down != 3 {
			t.Errorf("%d vantage-down rounds, want 3", down)
		}
		gaps := 0
		for _, v := range res.verdicts {
			if v.Verdict != VerdictReachable {
				t.Errorf("%s at %v: %s", v.Entity, v.Time, v.Verdict)
			}
			if v.Vantages.Gap == 1 {
				gaps++
				if *v.Vantages != (VantageCount{Up: 2, Gap: 1}) {
					t.Errorf("%+v", v.Vantages)
				}
			}
		}
		if gaps != simBlocks*3 {
			t.Errorf("%d verdicts with a gap, want %d", gaps, simBlocks*3)
		}
		if len(res.events)+len(res.rEvents) != 0 {
			t.Errorf("events: %+v %+v", res.events, res.rEvents)
		}
	})

	t.Run("all vantages see the blocks down in rounds 10-14: an outage", func(t *testing.T) {
		res := world{allHealthy, synthetic(func(v, b, r int) string {
			if outageRounds(r) {
				return PlaneDown
			}
			return PlaneUp
		})}.run()
		traces := []Record{
			trace("vp1", simAt(3), "198.18.2.1", true, "198.51.100.9", "203.0.113.13", "198.18.2.1"),
		}
		for b := range simBlocks {
			for _, r := range []int{11, 13} {
				traces = append(traces, trace("vp1", simAt(r), fmt.Sprintf("198.18.%d.1", b), false, "198.51.100.9", "203.0.113.13", "", ""))
			}
		}
		AttachLastHops(res.events, traces, simHierarchy)
		AttachLastHops(res.rEvents, traces, simHierarchy)
		if len(res.events) != simBlocks {
			t.Fatalf("block events: %+v", res.events)
		}
		for b, e := range res.events {
			if e.Entity != simBlock(b) || e.Kind != VerdictOutage || !e.Start.Equal(simAt(10)) || !e.End.Equal(simAt(15)) ||
				e.Minutes != 55 || e.Severity != 55 || e.LastHop != "203.0.113.13" {
				t.Errorf("block event %+v", e)
			}
		}
		// The prefix, the AS and the country: every block down, drop 1.
		if len(res.rEvents) != 3 {
			t.Fatalf("roll-up events: %+v", res.rEvents)
		}
		for _, e := range res.rEvents {
			if e.Kind != VerdictOutage || !e.Start.Equal(simAt(10)) || !e.End.Equal(simAt(15)) || e.Severity != 55 || e.LastHop != "203.0.113.13" {
				t.Errorf("roll-up event %+v", e)
			}
		}
		j, err := json.Marshal(res.rEvents[0])
		if err != nil || !strings.Contains(string(j), `"end":"`+simAt(15).Format(time.RFC3339Nano)+`"`) ||
			!strings.Contains(string(j), `"last_hop":"203.0.113.13"`) {
			t.Errorf("JSON %s %v", j, err)
		}
	})

	t.Run("belief driver: outage in rounds 10-14 seen in round 10", func(t *testing.T) {
		// At A = 0.8 one silence takes B(U) from 0.99 only to 0.95, still up,
		// but a falling belief is followed up within the round: the outage
		// is seen in its first round, and its end at once (replies in round
		// 15).
		res := world{allHealthy, driven(func(v, b, r int) bool { return !outageRounds(r) }, rand.New(rand.NewPCG(1, 1)))}.run()
		if len(res.events) != simBlocks {
			t.Fatalf("block events: %+v", res.events)
		}
		for _, e := range res.events {
			if e.Kind != VerdictOutage || !e.Start.Equal(simAt(10)) || !e.End.Equal(simAt(15)) {
				t.Errorf("block event %+v", e)
			}
		}
		for _, v := range res.verdicts {
			if v.Verdict == VerdictOutage && (v.Belief == nil || *v.Belief >= BeliefDown) {
				t.Errorf("outage with belief %v", v.Belief)
			}
		}
	})

	t.Run("30% loss at A=0.8: no outage, 20 seeds", func(t *testing.T) {
		partial := 0
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 42))
			res := world{allHealthy, driven(func(v, b, r int) bool { return rng.Float64() < 0.8*(1-0.3) }, rng)}.run()
			for _, v := range res.verdicts {
				if v.DataPlane == PlaneDown {
					t.Errorf("seed %d: %s down at %v: %+v", seed, v.Entity, v.Time, v.Vantages)
				}
				if v.DataPlane == PlanePartial {
					partial++
				}
			}
			for _, e := range append(res.events, res.rEvents...) {
				if e.Kind != VerdictPartial {
					t.Errorf("seed %d: event %+v", seed, e)
				}
			}
		}
		// One vantage's loss alone is never an outage, but it is a partial
		// verdict: A from the census did not count the loss.
		t.Logf("%d of %d block verdicts partial over 20 seeds", partial, 20*simBlocks*simRounds)
	})

	t.Run("ICMP down, TCP up: partial, methods shown", func(t *testing.T) {
		res := world{allHealthy, func(v, b, r int) []Observation {
			icmp := PlaneUp
			if b == 1 && (r == 3 || r == 4) {
				icmp = PlaneDown
			}
			return []Observation{{State: icmp, Method: MethodICMP}, {State: PlaneUp, Method: MethodTCP}}
		}}.run()
		for _, v := range res.verdicts {
			odd := v.Entity == simBlock(1) && (v.Time.Equal(simAt(3)) || v.Time.Equal(simAt(4)))
			switch {
			case odd && (v.Verdict != VerdictPartial || v.Methods[MethodICMP] != PlaneDown || v.Methods[MethodTCP] != PlaneUp ||
				*v.Vantages != (VantageCount{Up: 3})):
				t.Errorf("%s at %v: %s %v %+v", v.Entity, v.Time, v.Verdict, v.Methods, v.Vantages)
			case !odd && (v.Verdict != VerdictReachable || v.Methods != nil):
				t.Errorf("%s at %v: %s %v", v.Entity, v.Time, v.Verdict, v.Methods)
			}
		}
		if len(res.events) != 1 || res.events[0].Kind != VerdictPartial || res.events[0].Entity != simBlock(1) ||
			!res.events[0].Start.Equal(simAt(3)) || !res.events[0].End.Equal(simAt(5)) {
			t.Errorf("events %+v", res.events)
		}
		// A partial block is reachable from somewhere: the roll-up stays normal.
		if len(res.rEvents) != 0 {
			t.Errorf("roll-up events %+v", res.rEvents)
		}
	})
}
