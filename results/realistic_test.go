package results

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// These tests hold the analysis to address space that behaves like the
// real Internet: blocks where a few dozen addresses answer, and those not
// always; outages that last hours; a method that finds nothing where
// another finds hosts; vantage points that lose their own path.

// kpRound is the round length of the 2014 replay, on the Unix-epoch grid.
const kpRound = 11 * time.Minute

// kpFirst is the first round of the replay: 2014-12-21, one day before the
// blackout.
var kpFirst = time.Date(2014, 12, 21, 12, 0, 0, 0, time.UTC).Unix() / int64(kpRound/time.Second)

func kpAt(k int64) time.Time { return time.Unix(k*int64(kpRound/time.Second), 0).UTC() }

// kpSet is North Korea's address space as the replay sees it.
var kpSet = TargetSet{Name: "kp", Prefixes: []netip.Prefix{netip.MustParsePrefix("175.45.176.0/22")}, ASN: 131279, Country: "KP"}

var (
	kpVantages = []string{"vp1", "vp2", "vp3"}
	kpCanaries = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("203.0.113.1")}
)

// kpBlocks are the four /24s of the /22.
func kpBlocks() []netip.Prefix {
	var bs []netip.Prefix
	for i := range 4 {
		bs = append(bs, netip.MustParsePrefix(fmt.Sprintf("175.45.%d.0/24", 176+i)))
	}
	return bs
}

// responders is n addresses of block b spread over it.
func responders(b netip.Prefix, n int) []netip.Addr {
	var e []netip.Addr
	a4 := b.Addr().As4()
	for i := range n {
		a4[3] = byte(1 + i*250/n)
		e = append(e, netip.AddrFrom4(a4))
	}
	slices.SortFunc(e, netip.Addr.Compare)
	return e
}

// truth is a ground truth: which blocks answer, how often, and when each
// vantage point is cut off.
type truth struct {
	rounds    int64 // from kpFirst
	dark      func(k int64, block netip.Prefix) bool
	cut       func(k int64, vantage string) bool
	a         float64
	responded int // addresses answering per block
	rng       *rand.Rand
}

func (w truth) answers(k int64, vantage string, b netip.Prefix) bool {
	return !(w.dark != nil && w.dark(k, b)) && !(w.cut != nil && w.cut(k, vantage)) && w.rng.Float64() < w.a
}

func (w truth) canaries(k int64, vantage string, out []Record) []Record {
	for _, c := range kpCanaries {
		o := OutcomeReply
		if w.cut != nil && w.cut(k, vantage) {
			o = OutcomeTimeout
		}
		out = append(out, Record{Time: kpAt(k).Add(time.Second), Vantage: vantage, Round: k, Method: MethodICMP, Target: c.String(), Outcome: o})
	}
	return out
}

// adaptive is what `run` writes with a census: Trinocular rounds of each
// block's E(b), and the canaries.
func (w truth) adaptive(census []BlockStat) []Record {
	var recs []Record
	beliefs := map[[2]string]Belief{}
	for k := kpFirst; k < kpFirst+w.rounds; k++ {
		for _, v := range kpVantages {
			recs = w.canaries(k, v, recs)
			for _, c := range census {
				if c.Vantage != v {
					continue
				}
				key := [2]string{v, c.Block.String()}
				seq := 0
				res := BlockRound{A: c.A, E: c.E, Prior: beliefs[key], Rand: w.rng}.Run(func(addr netip.Addr) bool {
					ok := w.answers(k, v, c.Block)
					o := OutcomeTimeout
					if ok {
						o = OutcomeReply
					}
					seq++
					recs = append(recs, Record{Time: kpAt(k).Add(time.Duration(seq) * time.Second), Vantage: v, Round: k,
						Method: MethodICMP, Target: addr.String(), Outcome: o, Seq: seq})
					return ok
				})
				beliefs[key] = res.Belief
			}
		}
	}
	return recs
}

// swept is what `run` writes without a census: every address of the /22 by
// method m (port for tcp) every round, of which w.responded a block answer.
func (w truth) swept(m string, port int, blocks []netip.Prefix) []Record {
	var recs []Record
	for k := kpFirst; k < kpFirst+w.rounds; k++ {
		for _, v := range kpVantages {
			recs = w.canaries(k, v, recs)
			for _, b := range blocks {
				e := responders(b, w.responded)
				a4 := b.Addr().As4()
				for i := range 256 {
					a4[3] = byte(i)
					addr := netip.AddrFrom4(a4)
					o := OutcomeTimeout
					if _, in := slices.BinarySearchFunc(e, addr, netip.Addr.Compare); in && w.answers(k, v, b) {
						o = OutcomeReply
						if m == MethodTCP {
							o = OutcomeOpen
						}
					}
					recs = append(recs, Record{Time: kpAt(k).Add(time.Duration(i) * time.Millisecond), Vantage: v, Round: k,
						Method: m, Port: port, Target: addr.String(), Outcome: o})
				}
			}
		}
	}
	return recs
}

func kpCensus(n int, a float64) []BlockStat {
	var cs []BlockStat
	for _, v := range kpVantages {
		for _, b := range kpBlocks() {
			cs = append(cs, BlockStat{Vantage: v, Block: b, Method: MethodICMP, E: responders(b, n), A: a})
		}
	}
	return cs
}

func kpAnalysis(census []BlockStat) Analysis {
	return Analysis{Sets: []TargetSet{kpSet}, Canaries: kpCanaries, Census: census, Quorum: 2, Round: kpRound}
}

// downRounds lists, per entity of level, the rounds (from kpFirst) whose
// verdict's data plane is state.
func roundsIn(vs []Verdict, level, state string) map[string][]int64 {
	out := map[string][]int64{}
	for _, v := range vs {
		if v.Level == level && v.DataPlane == state {
			out[v.Entity] = append(out[v.Entity], v.Time.Unix()/int64(kpRound/time.Second)-kpFirst)
		}
	}
	return out
}

// The blackout of 22 December 2014: 52 dark rounds (9 h 32 min) after a day
// of normal rounds. Every level reads down for exactly those rounds, however
// long the outage lasts beside the baseline's history.
func TestLongBlackoutStaysDown(t *testing.T) {
	const normal, dark = 131, 52
	w := truth{rounds: normal + dark + 20, a: 0.8, rng: rand.New(rand.NewPCG(1, 2)),
		dark: func(k int64, _ netip.Prefix) bool { return k-kpFirst >= normal && k-kpFirst < normal+dark }}
	census := kpCensus(40, 0.8)
	for _, c := range []struct {
		name string
		recs []Record
		an   Analysis
	}{
		{"census, adaptive", w.adaptive(census), kpAnalysis(census)},
		{"no census, swept", truth{rounds: w.rounds, a: 0.8, responded: 40, dark: w.dark, rng: w.rng}.swept(MethodICMP, 0, kpBlocks()), kpAnalysis(nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs, evs := c.an.Analyze(c.recs)
			want := make([]int64, dark)
			for i := range want {
				want[i] = normal + int64(i)
			}
			for _, lv := range []struct{ level, entity string }{
				{LevelBlock, "175.45.176.0/24"}, {LevelBlock, "175.45.179.0/24"},
				{LevelPrefix, "175.45.176.0/22"}, {LevelASN, "AS131279"}, {LevelCountry, "KP"},
			} {
				if got := roundsIn(vs, lv.level, PlaneDown)[lv.entity]; !slices.Equal(got, want) {
					t.Errorf("%s %s down in rounds %v, want %d..%d", lv.level, lv.entity, got, normal, normal+dark-1)
				}
			}
			for _, e := range evs {
				if e.Minutes != dark*11 {
					t.Errorf("event %s %s %s: %v minutes, want %d", e.Level, e.Entity, e.Kind, e.Minutes, dark*11)
				}
			}
		})
	}
}

// memSource is a results.Source in memory: the records, and the roll-up
// verdicts an earlier analysis stored.
type memSource struct {
	recs   []Record
	stored []Verdict
}

func (m memSource) EachRecord(_ context.Context, since, until time.Time, fn func(Record) error) error {
	for _, r := range m.recs {
		if !r.Time.Before(since) && r.Time.Before(until) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m memSource) StoredVerdicts(_ context.Context, level string, since, until time.Time) ([]Verdict, error) {
	var out []Verdict
	for _, v := range m.stored {
		if v.Level == level && !v.Time.Before(since) && v.Time.Before(until) {
			out = append(out, v)
		}
	}
	return out, nil
}

// The live verdict reads the last rounds only; the baselines and the beliefs
// it starts from come from the verdicts stored before them, round by round
// as serve stores them. Deep into a long blackout, with a census and
// without one, every level still reads down.
func TestLiveVerdictDuringLongBlackout(t *testing.T) {
	const normal, dark = 30, 52
	census := kpCensus(40, 0.8)
	w := truth{rounds: normal + dark, a: 0.8, responded: 40, rng: rand.New(rand.NewPCG(3, 4)),
		dark: func(k int64, _ netip.Prefix) bool { return k-kpFirst >= normal }}
	for _, c := range []struct {
		name string
		recs []Record
		an   Analysis
	}{
		{"census, adaptive", w.adaptive(census), kpAnalysis(census)},
		{"no census, swept", w.swept(MethodICMP, 0, kpBlocks()), kpAnalysis(nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &memSource{recs: c.recs}
			for k := kpFirst; k < kpFirst+normal+dark; k++ {
				win := Window{Until: kpAt(k + 1)}
				vs, _, err := c.an.AnalyzeWindow(t.Context(), src, win)
				if err != nil {
					t.Fatal(err)
				}
				into := k - kpFirst - normal
				counted := map[string]int{}
				for _, v := range vs {
					if v.Time.Before(win.Trusted(kpRound)) || v.Level == LevelVantage {
						continue
					}
					src.stored = append(src.stored, v)
					counted[v.Level]++
					if into >= 0 && v.DataPlane != PlaneDown {
						t.Errorf("%d rounds into the blackout: live %s %s reads %s", into, v.Level, v.Entity, v.Verdict)
					}
				}
				for _, level := range []string{LevelBlock, LevelPrefix, LevelASN, LevelCountry} {
					if counted[level] == 0 {
						t.Errorf("round %d: no live %s verdict", k-kpFirst, level)
					}
				}
			}
		})
	}
}

// Healthy blocks where 20 to 60 addresses answer four probes in five, with a
// census and without one (the whole /22 swept, the rest silent), read
// neither outage nor partial at any level.
func TestHealthySparseBlocksStayUp(t *testing.T) {
	for _, n := range []int{20, 40, 60} {
		w := truth{rounds: 150, a: 0.8, responded: n, rng: rand.New(rand.NewPCG(uint64(n), 5))}
		census := kpCensus(n, 0.8)
		for _, c := range []struct {
			name string
			recs []Record
			an   Analysis
		}{
			{"census", w.adaptive(census), kpAnalysis(census)},
			{"no census", w.swept(MethodICMP, 0, kpBlocks()), kpAnalysis(nil)},
		} {
			t.Run(fmt.Sprintf("%d responders, %s", n, c.name), func(t *testing.T) {
				vs, _ := c.an.Analyze(c.recs)
				for _, v := range vs {
					if v.Level != LevelVantage && (v.DataPlane == PlaneDown || v.DataPlane == PlanePartial) {
						t.Errorf("round %d: %s %s reads %s", v.Time.Unix()/660-kpFirst, v.Level, v.Entity, v.Verdict)
					}
				}
				if len(roundsIn(vs, LevelBlock, PlaneUp)["175.45.177.0/24"]) < 140 {
					t.Errorf("175.45.177.0/24 up in only %d of 150 rounds", len(roundsIn(vs, LevelBlock, PlaneUp)["175.45.177.0/24"]))
				}
			})
		}
	}
}

// A census block probed adaptively by ICMP and swept by TCP, where TCP finds
// few hosts, is not partial: TCP is judged against what TCP has found.
func TestMixedMethodsNotPartial(t *testing.T) {
	w := truth{rounds: 100, a: 0.8, responded: 3, rng: rand.New(rand.NewPCG(6, 7))}
	census := kpCensus(40, 0.8)
	recs := append(w.adaptive(census), w.swept(MethodTCP, 80, kpBlocks())...)
	vs, _ := kpAnalysis(census).Analyze(recs)
	for _, v := range vs {
		if v.DataPlane == PlanePartial || v.DataPlane == PlaneDown {
			t.Fatalf("%s %s at %v reads %s, methods %v", v.Level, v.Entity, v.Time, v.Verdict, v.Methods)
		}
	}
	if len(roundsIn(vs, LevelBlock, PlaneUp)["175.45.178.0/24"]) < 95 {
		t.Errorf("175.45.178.0/24 up in %d of 100 rounds", len(roundsIn(vs, LevelBlock, PlaneUp)["175.45.178.0/24"]))
	}
}

// A known host that filters one of its methods (ICMP, say) and answers the
// other is up, not partial: a method that never answered it is no evidence.
// Once it has answered, its silence is.
func TestHostFilteringAMethodNotPartial(t *testing.T) {
	host := netip.MustParseAddr("175.45.176.80")
	w := truth{rounds: 20}
	var recs []Record
	for k := kpFirst; k < kpFirst+20; k++ {
		for _, v := range kpVantages {
			recs = w.canaries(k, v, recs)
			icmp := OutcomeTimeout
			if k-kpFirst >= 10 && k-kpFirst < 15 {
				icmp = OutcomeReply // the filter is lifted for five rounds
			}
			recs = append(recs,
				Record{Time: kpAt(k).Add(2 * time.Second), Vantage: v, Round: k, Method: MethodICMP, Target: host.String(), Outcome: icmp},
				Record{Time: kpAt(k).Add(3 * time.Second), Vantage: v, Round: k, Method: MethodTCP, Port: 80, Target: host.String(), Outcome: OutcomeReply})
		}
	}
	an := kpAnalysis(nil)
	an.Hosts = []netip.Addr{host}
	vs, _ := an.Analyze(recs)
	got := map[int64]string{}
	for _, v := range vs {
		if v.Level == LevelHost {
			got[v.Time.Unix()/int64(kpRound/time.Second)-kpFirst] = v.DataPlane
		}
	}
	for k := range int64(20) {
		want := PlaneUp
		switch {
		case k == 15 || k == 16:
			continue // a host's belief takes a few silent rounds to fall
		case k >= 17:
			want = PlanePartial // ICMP answered, and then stopped
		}
		if got[k] != want {
			t.Errorf("round %d: host %s, want %s", k, got[k], want)
		}
	}
}

// Sparse blocks (|E(b)| < 15 or A < 0.1) are not judged down by the belief
// when healthy: their silence is no evidence.
func TestSparseBlocksNeverFalselyDown(t *testing.T) {
	for _, c := range []struct {
		n int
		a float64
	}{{10, 0.05}, {5, 0.3}, {100, 0.05}} {
		t.Run(fmt.Sprintf("|E|=%d A=%v", c.n, c.a), func(t *testing.T) {
			w := truth{rounds: 300, a: c.a, rng: rand.New(rand.NewPCG(uint64(c.n), 8))}
			census := kpCensus(c.n, c.a)
			vs, _ := kpAnalysis(census).Analyze(w.adaptive(census))
			for block, rounds := range roundsIn(vs, LevelBlock, PlaneDown) {
				t.Errorf("healthy %s read down in %d of 300 rounds", block, len(rounds))
			}
		})
	}
}

// A falling belief is followed up in the same round: a block that goes dark
// is down in the round the outage begins, for every A at which the budget
// can tell.
func TestFollowUpDetectsInOneRound(t *testing.T) {
	for _, a := range []float64{0.9, 0.5, 0.47} {
		res := BlockRound{A: a, E: responders(kpBlocks()[0], 40), Rand: rand.New(rand.NewPCG(1, 1))}.Run(func(netip.Addr) bool { return false })
		if res.State != PlaneDown {
			t.Errorf("A=%v: a dark block is %s after %d probes, want down in its first round", a, res.State, res.Probes)
		}
	}
	// At A = 0.15, 15 silences are no proof: the block is not called down
	// in the round, and a second silent round spends the budget and ends
	// uncertain, its belief reset to 0.5.
	dark := func(netip.Addr) bool { return false }
	r := BlockRound{A: 0.15, E: responders(kpBlocks()[0], 40)}
	res := r.Run(dark)
	if res.State == PlaneDown {
		t.Errorf("A=0.15: down after %d silences", res.Probes)
	}
	r.Prior = res.Belief
	if res = r.Run(dark); res.State != PlaneUncertain || res.Probes != ProbeBudget || res.Belief.BU != 0.5 {
		t.Errorf("A=0.15, second round: %s after %d probes with B(U) %v, want the budget spent and B(U) reset to 0.5", res.State, res.Probes, res.Belief.BU)
	}
}

// A block whose A is too low for one round's 15 silences to confirm a down
// (A < 0.46) is confirmed by two silent rounds together: down in the
// second round of its outage, by the node and by the analysis of its
// records alike, and never down while healthy.
func TestTwoSilentRoundsConfirm(t *testing.T) {
	dark := func(netip.Addr) bool { return false }
	for _, a := range []float64{0.45, 0.3} {
		r := BlockRound{A: a, E: responders(kpBlocks()[0], 40), Prior: Belief{BU: BeliefMax}, Rand: rand.New(rand.NewPCG(1, 2))}
		first := r.Run(dark)
		if first.State != PlaneUncertain || first.Belief.Silent != ProbeBudget {
			t.Errorf("A=%v, first dark round: %s holding %d silences, want uncertain holding %d", a, first.State, first.Belief.Silent, ProbeBudget)
		}
		r.Prior = first.Belief
		if second := r.Run(dark); second.State != PlaneDown {
			t.Errorf("A=%v, second dark round: %s after %d probes, want down", a, second.State, second.Probes)
		}
		// A reply in the first round holds nothing: the block was up then.
		r.Prior = Belief{BU: 0.5}
		if got := r.RunBatch(func(addrs []netip.Addr) []bool { return []bool{true} }); got.Belief.Silent != 0 {
			t.Errorf("A=%v: a round with a reply holds %d silences", a, got.Belief.Silent)
		}
	}

	const normal, outage = 200, 20
	for _, a := range []float64{0.45, 0.3} {
		t.Run(fmt.Sprintf("A=%v", a), func(t *testing.T) {
			w := truth{rounds: normal + outage, a: a, rng: rand.New(rand.NewPCG(5, uint64(a*100))),
				dark: func(k int64, _ netip.Prefix) bool { return k-kpFirst >= normal }}
			census := kpCensus(40, a)
			vs, _ := kpAnalysis(census).Analyze(w.adaptive(census))
			down := roundsIn(vs, LevelBlock, PlaneDown)
			for _, b := range kpBlocks() {
				rounds := down[b.String()]
				var want []int64
				for k := int64(normal + 1); k < normal+outage; k++ {
					want = append(want, k)
				}
				if !slices.Equal(rounds, want) {
					t.Errorf("%s down in rounds %v, want %d to %d (the outage from its second round)", b, rounds, normal+1, normal+outage-1)
				}
			}
		})
	}
}

// Verdicts fall on the Unix-epoch round grid, as rounds and BGP bins do.
func TestBinsOnEpochGrid(t *testing.T) {
	census := kpCensus(40, 0.8)
	w := truth{rounds: 5, a: 1, rng: rand.New(rand.NewPCG(1, 9))}
	vs, _ := kpAnalysis(census).Analyze(w.adaptive(census))
	if len(vs) == 0 {
		t.Fatal("no verdicts")
	}
	for _, v := range vs {
		if v.Time.Unix()%660 != 0 || v.Time.Nanosecond() != 0 {
			t.Fatalf("%s %s at %v: not on the 11-minute grid of the Unix epoch", v.Level, v.Entity, v.Time)
		}
	}
}

// An AS's or a country's control plane is the share of its prefixes
// announced, not any one of them.
func TestSetsControlPlaneShare(t *testing.T) {
	set := TargetSet{Name: "as", ASN: 64500, Country: "ZZ"}
	for i := range 4 {
		set.Prefixes = append(set.Prefixes, netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", i)))
	}
	for _, c := range []struct {
		withdrawn int
		want      string
	}{{0, ControlAnnounced}, {1, ControlAnnounced}, {2, ControlAnnounced}, {3, ControlWithdrawn}, {4, ControlWithdrawn}} {
		an := Analysis{Sets: []TargetSet{set}, ControlPlane: func(p netip.Prefix, _ time.Time) string {
			if int(p.Addr().As4()[2]) < c.withdrawn {
				return ControlWithdrawn
			}
			return ControlAnnounced
		}}
		for _, level := range []struct{ level, entity string }{{LevelASN, "AS64500"}, {LevelCountry, "ZZ"}} {
			if got := an.setsControlPlane(level.level, level.entity, t0); got != c.want {
				t.Errorf("%d of 4 prefixes withdrawn: %s is %s, want %s", c.withdrawn, level.entity, got, c.want)
			}
		}
	}
}

// A vantage point is healthy when most of its canaries answer; one with no
// canary record is a gap, not a healthy witness of an outage.
func TestVantageHealthMajority(t *testing.T) {
	var recs []Record
	for i, c := range kpCanaries {
		o := OutcomeTimeout
		if i == 0 {
			o = OutcomeReply
		}
		recs = append(recs, Record{Time: t0, Vantage: "vp1", Round: 1, Method: MethodICMP, Target: c.String(), Outcome: o})
	}
	if VantageHealth(recs).Healthy("vp1", 1) {
		t.Error("one canary of three answered: healthy, want vantage-down")
	}

	// vp3 has no canary records and sees the block down; vp1 and vp2 see
	// it up. Its silence is a gap: the block is up, not partial.
	census := kpCensus(40, 0.8)
	w := truth{rounds: 3, a: 1, rng: rand.New(rand.NewPCG(1, 10)),
		dark: func(int64, netip.Prefix) bool { return false }}
	var kept []Record
	for _, r := range w.adaptive(census) {
		if r.Vantage == "vp3" {
			if slices.Contains(kpCanaries, netip.MustParseAddr(r.Target)) {
				continue
			}
			r.Outcome = OutcomeTimeout
		}
		kept = append(kept, r)
	}
	vs, _ := kpAnalysis(census).Analyze(kept)
	for _, v := range vs {
		switch {
		case v.Level == LevelBlock && (v.DataPlane != PlaneUp || v.Vantages.Gap != 1):
			t.Errorf("%s at %v: %s with %+v, want up with vp3 a gap", v.Entity, v.Time, v.DataPlane, *v.Vantages)
		case v.Level == LevelVantage && v.Entity == "vp3" && v.Verdict != VerdictVantageUnknown:
			t.Errorf("vp3 at %v: %s, want %s", v.Time, v.Verdict, VerdictVantageUnknown)
		}
	}
}

// A round cut short (SIGTERM between the ICMP and the TCP sweep) leaves ICMP
// silent and TCP, which answers there, unasked: no outage.
func TestUnaskedMethodIsNoOutage(t *testing.T) {
	w := truth{rounds: 6, a: 1, responded: 40, rng: rand.New(rand.NewPCG(1, 11)),
		dark: func(k int64, _ netip.Prefix) bool { return k-kpFirst == 5 }}
	recs := append(w.swept(MethodICMP, 0, kpBlocks()), w.swept(MethodTCP, 80, kpBlocks())...)
	recs = slices.DeleteFunc(recs, func(r Record) bool { return r.Method == MethodTCP && r.Round-kpFirst == 5 })
	vs, _ := kpAnalysis(nil).Analyze(recs)
	for _, v := range vs {
		if v.DataPlane == PlaneDown {
			t.Errorf("round %d: %s %s reads %s with TCP unasked", v.Time.Unix()/660-kpFirst, v.Level, v.Entity, v.Verdict)
		}
	}
	// Asked and silent, it is an outage.
	w.rng = rand.New(rand.NewPCG(1, 11))
	all := append(w.swept(MethodICMP, 0, kpBlocks()), w.swept(MethodTCP, 80, kpBlocks())...)
	vs, _ = kpAnalysis(nil).Analyze(all)
	if got := roundsIn(vs, LevelPrefix, PlaneDown)["175.45.176.0/22"]; !slices.Equal(got, []int64{5}) {
		t.Errorf("prefix down in rounds %v, want [5]", got)
	}
}
