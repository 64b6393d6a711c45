package results

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// eps is P(reply | down), written out again so that the tests do not lean on
// the constant they check.
const eps = 0.99 / 256

func TestBeliefNonRepliesToDown(t *testing.T) {
	for i := 1; i <= 9; i++ {
		a := float64(i) / 10
		t.Run(fmt.Sprintf("A=%.1f", a), func(t *testing.T) {
			// In odds, each silence multiplies B/(1−B) by (1−A)/(1−eps):
			// from 0.99 (odds 99) below 0.1 (odds 1/9) takes the smallest k
			// with 99·r^k < 1/9, that is k > ln(1/891)/ln r. The cap at 0.01
			// never matters: B stays above 0.1 until the step that crosses it.
			r := (1 - a) / (1 - eps)
			want := int(math.Floor(math.Log(1.0/891)/math.Log(r))) + 1

			var b Belief
			got := 0
			for b.State() != PlaneDown {
				b.Update(false, a)
				got++
				if got > 1000 {
					t.Fatal("never down")
				}
			}
			if got != want {
				t.Errorf("non-replies from %v to down: got %d, want %d", BeliefNew, got, want)
			}
			if b.BU >= 0.1 {
				t.Errorf("down with B(U) = %v", b.BU)
			}
			t.Logf("A=%.1f: %d non-replies take B(U) from 0.99 below 0.1", a, got)
		})
	}
}

func TestBeliefOneReplyUp(t *testing.T) {
	for _, a := range []float64{0.5, 0.6, 0.7, 0.8, 0.9} {
		// Uncertain priors, and down ones close enough to the threshold.
		for _, prior := range []float64{0.1, 0.3, 0.5, 0.7, 0.9, 0.09, 0.07} {
			t.Run(fmt.Sprintf("A=%.1f/B=%.2f", a, prior), func(t *testing.T) {
				b := Belief{BU: prior}
				b.Update(true, a)
				if b.State() != PlaneUp {
					t.Errorf("after one reply: B(U) = %v (%s), want up", b.BU, b.State())
				}
			})
		}
		// From the floor, Bayes needs two replies: odds 0.01/0.99 times
		// A/eps (at most 0.99/eps ≈ 256) stay below 9.
		t.Run(fmt.Sprintf("A=%.1f/B=0.01", a), func(t *testing.T) {
			b := Belief{BU: BeliefMin}
			b.Update(true, a)
			odds := 0.01 / 0.99 * a / eps
			if want := odds / (1 + odds); math.Abs(b.BU-want) > 1e-12 || b.State() != PlaneUncertain {
				t.Errorf("after one reply: B(U) = %v (%s), want %v uncertain", b.BU, b.State(), want)
			}
			b.Update(true, a)
			if b.State() != PlaneUp {
				t.Errorf("after two replies: B(U) = %v (%s), want up", b.BU, b.State())
			}
		})
	}
}

func TestBeliefBounds(t *testing.T) {
	t.Run("extremes", func(t *testing.T) {
		for _, c := range []struct {
			prior float64
			reply bool
			a     float64
			want  float64
		}{
			// A is taken as at most 0.99: one silence never proves down.
			{0.99, false, 1, 0.99 * 0.01 / (0.99*0.01 + 0.01*(1-eps))},
			{0.99, false, 0.999, 0.99 * 0.01 / (0.99*0.01 + 0.01*(1-eps))},
			{0.3, false, 1, BeliefMin},
			{0.01, true, 1, 0.01 * 0.99 / (0.01*0.99 + eps*0.99)},
			{0.99, true, 0, BeliefMax},
			{0.5, true, math.NaN(), 0.01 * 0.5 / (0.01*0.5 + eps*0.5)},
			{0.02, false, 0.9, BeliefMin},
			{0.98, true, 0.9, BeliefMax},
		} {
			b := Belief{BU: c.prior}
			b.Update(c.reply, c.a)
			if math.Abs(b.BU-c.want) > 1e-12 {
				t.Errorf("B=%v reply=%v A=%v: got %v, want %v", c.prior, c.reply, c.a, b.BU, c.want)
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var b Belief
		for i := range 100000 {
			a := rng.Float64()
			if i%97 == 0 {
				a = float64(i % 2) // 0 and 1 now and then
			}
			b.Update(rng.IntN(2) == 0, a)
			if b.BU < BeliefMin || b.BU > BeliefMax {
				t.Fatalf("step %d: B(U) = %v outside [0.01, 0.99]", i, b.BU)
			}
		}
	})
	t.Run("zero value is new", func(t *testing.T) {
		var b Belief
		if b.Value() != 0.99 || b.State() != PlaneUp {
			t.Errorf("zero Belief: %v %s", b.Value(), b.State())
		}
	})
}

func TestBeliefState(t *testing.T) {
	for _, c := range []struct {
		bu   float64
		want string
	}{
		{0.99, PlaneUp}, {0.91, PlaneUp}, {0.9, PlaneUncertain}, {0.5, PlaneUncertain},
		{0.1, PlaneUncertain}, {0.099, PlaneDown}, {0.01, PlaneDown},
	} {
		t.Run(fmt.Sprint(c.bu), func(t *testing.T) {
			if got := (Belief{BU: c.bu}).State(); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestRecoveryProbes(t *testing.T) {
	// want: ⌈log 0.2 / log(1−A)⌉ worked out by hand.
	for _, c := range []struct {
		a    float64
		want int
	}{
		{0.05, 32}, {0.1, 16}, {0.2, 8}, {0.3, 5}, {0.4, 4}, {0.5, 3},
		{0.6, 2}, {0.7, 2}, {0.8, 1}, {0.9, 1}, {0.99, 1},
	} {
		t.Run(fmt.Sprintf("A=%.2f", c.a), func(t *testing.T) {
			// It is the smallest n with (1−A)^n ≤ 0.2.
			n := 1
			for math.Pow(1-c.a, float64(n)) > 0.2 {
				n++
			}
			if n != c.want {
				t.Fatalf("table wrong: smallest n is %d", n)
			}
			if got := RecoveryProbes(c.a); got != c.want {
				t.Errorf("RecoveryProbes(%v) = %d, want %d", c.a, got, c.want)
			}
		})
	}
}

func TestRecoveryDue(t *testing.T) {
	due := map[int]bool{1: true, 2: true, 4: true, 8: true, 16: true, 32: true, 48: true, 64: true, 80: true}
	for n := 0; n <= 80; n++ {
		if got := RecoveryDue(n); got != due[n] {
			t.Errorf("RecoveryDue(%d) = %v, want %v", n, got, due[n])
		}
	}
}

// block returns n addresses of 198.18.b.0/24.
func block(b, n int) []netip.Addr {
	e := make([]netip.Addr, n)
	for i := range e {
		e[i] = netip.AddrFrom4([4]byte{198, 18, byte(b), byte(i + 1)})
	}
	return e
}

// oddsProbe answers so as to keep the belief uncertain: it tracks B(U) in odds
// by itself and answers when they are below 1.
func oddsProbe(prior, a float64) func(netip.Addr) bool {
	odds := prior / (1 - prior)
	return func(netip.Addr) bool {
		reply := odds < 1
		if reply {
			odds *= a / eps
		} else {
			odds *= (1 - a) / (1 - eps)
		}
		odds = min(max(odds, 0.01/0.99), 99)
		return reply
	}
}

// alternate answers every other probe, the first one not.
func alternate() func(netip.Addr) bool {
	n := 0
	return func(netip.Addr) bool { n++; return n%2 == 0 }
}

func TestBlockRound(t *testing.T) {
	never := func(netip.Addr) bool { return false }
	always := func(netip.Addr) bool { return true }
	for _, c := range []struct {
		name       string
		round      BlockRound
		probe      func(netip.Addr) bool
		state      string
		probes     int
		downRounds int
	}{
		{"new block answers", BlockRound{A: 0.8, E: block(0, 20)}, always, PlaneUp, 1, 0},
		{"new block silent is followed up and goes down in the round", BlockRound{A: 0.8, E: block(0, 20)}, never, PlaneDown, 8, 1},
		{"up block with one silence is probed until it answers", BlockRound{A: 0.5, E: block(0, 20)}, alternate(), PlaneUp, 2, 0},
		{"falling low-A block spends its budget and resets to 0.5", BlockRound{A: 0.2, E: block(0, 20)}, never, PlaneUncertain, 15, 0},
		{"silent from 0.95 goes down once confirmed", BlockRound{A: 0.8, E: block(0, 20), Prior: Belief{BU: 0.95}}, never, PlaneDown, 8, 1},
		{"two silences of an A 0.99 block are not an outage", BlockRound{A: 0.99, E: block(0, 20), Prior: Belief{BU: 0.95}}, func() func(netip.Addr) bool {
			n := 0
			return func(netip.Addr) bool { n++; return n > 2 }
		}(), PlaneUp, 4, 0},
		{"low A silent ends uncertain at budget", BlockRound{A: 0.1, E: block(0, 20), Prior: Belief{BU: 0.5}}, never, PlaneUncertain, 15, 0},
		{"ambiguous answers end uncertain at budget", BlockRound{A: 0.02, E: block(0, 20), Prior: Belief{BU: 0.5}}, oddsProbe(0.5, 0.02), PlaneUncertain, 15, 0},
		{"ambiguous with a smaller budget", BlockRound{A: 0.02, E: block(0, 20), Prior: Belief{BU: 0.5}, Budget: 5}, oddsProbe(0.5, 0.02), PlaneUncertain, 5, 0},
		{"down block recovers in two", BlockRound{A: 0.8, E: block(0, 20), Prior: Belief{BU: 0.01, DownRounds: 3}}, always, PlaneUp, 2, 0},
		{"down block not due: periodic probe only", BlockRound{A: 0.3, E: block(0, 20), Prior: Belief{BU: 0.01, DownRounds: 3}}, never, PlaneDown, 1, 4},
		{"empty E", BlockRound{A: 0.8, Prior: Belief{BU: 0.5}}, always, PlaneUncertain, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.round.Run(c.probe)
			if res.State != c.state || res.Probes != c.probes || res.Belief.DownRounds != c.downRounds {
				t.Errorf("got %s after %d probes (down rounds %d), want %s after %d (%d); B(U) %v",
					res.State, res.Probes, res.Belief.DownRounds, c.state, c.probes, c.downRounds, res.Belief.BU)
			}
			if res.Belief.BU < BeliefMin || res.Belief.BU > BeliefMax {
				t.Errorf("B(U) = %v", res.Belief.BU)
			}
		})
	}
}

// TestBlockRoundBatch checks that sending follow-ups in batches reaches the
// verdicts that probe-by-probe rounds reach, in a few batches.
func TestBlockRoundBatch(t *testing.T) {
	never := func(netip.Addr) bool { return false }
	always := func(netip.Addr) bool { return true }
	for _, c := range []struct {
		name       string
		round      BlockRound
		probe      func() func(netip.Addr) bool
		state      string
		maxBatches int
	}{
		{"up block answers at once", BlockRound{A: 0.8, E: block(0, 20)}, func() func(netip.Addr) bool { return always }, PlaneUp, 1},
		{"dark block of A 0.9 confirmed down", BlockRound{A: 0.9, E: block(0, 20), Prior: Belief{BU: 0.95}}, func() func(netip.Addr) bool { return never }, PlaneDown, 4},
		{"dark block of A 0.5 confirmed down", BlockRound{A: 0.5, E: block(0, 40), Prior: Belief{BU: 0.95}}, func() func(netip.Addr) bool { return never }, PlaneDown, 4},
		{"dark block of A 0.3 confirmed down", BlockRound{A: 0.3, E: block(0, 40), Prior: Belief{BU: 0.95}}, func() func(netip.Addr) bool { return never }, PlaneUncertain, 4},
		{"up block with one silence", BlockRound{A: 0.5, E: block(0, 20), Prior: Belief{BU: 0.95}}, alternate, PlaneUp, 2},
		{"low A silent ends uncertain at budget", BlockRound{A: 0.1, E: block(0, 20), Prior: Belief{BU: 0.5}}, func() func(netip.Addr) bool { return never }, PlaneUncertain, 4},
		{"down block recovers", BlockRound{A: 0.8, E: block(0, 20), Prior: Belief{BU: 0.01, DownRounds: 3}}, func() func(netip.Addr) bool { return always }, PlaneUp, 2},
		{"down block not due: periodic probe only", BlockRound{A: 0.3, E: block(0, 20), Prior: Belief{BU: 0.01, DownRounds: 3}}, func() func(netip.Addr) bool { return never }, PlaneDown, 1},
		{"E of three cannot confirm", BlockRound{A: 0.9, E: block(0, 3), Prior: Belief{BU: 0.95}}, func() func(netip.Addr) bool { return never }, PlaneUncertain, 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			seq := c.round.Run(c.probe())
			p := c.probe()
			batches := 0
			res := c.round.RunBatch(func(addrs []netip.Addr) []bool {
				batches++
				seen := map[netip.Addr]bool{}
				out := make([]bool, len(addrs))
				for i, a := range addrs {
					if seen[a] {
						t.Errorf("batch %d sends to %s twice", batches, a)
					}
					seen[a] = true
					out[i] = p(a)
				}
				return out
			})
			if res.State != c.state || seq.State != c.state {
				t.Errorf("batched %s after %d probes, one by one %s after %d; want %s", res.State, res.Probes, seq.State, seq.Probes, c.state)
			}
			if batches > c.maxBatches || res.Probes > ProbeBudget {
				t.Errorf("%d probes in %d batches, want at most %d batches and %d probes", res.Probes, batches, c.maxBatches, ProbeBudget)
			}
			if res.Belief.DownRounds != seq.Belief.DownRounds {
				t.Errorf("down rounds %d, one by one %d", res.Belief.DownRounds, seq.Belief.DownRounds)
			}
		})
	}
}

func TestBlockRoundRecoveryProbes(t *testing.T) {
	for i := 1; i <= 9; i++ {
		a := float64(i) / 10
		t.Run(fmt.Sprintf("A=%.1f", a), func(t *testing.T) {
			n := 1 // the smallest n with (1−A)^n ≤ 0.2, capped at the budget
			for math.Pow(1-a, float64(n)) > 0.2 {
				n++
			}
			n = min(n, 15)
			r := BlockRound{A: a, E: block(0, 20), Prior: Belief{BU: 0.01, DownRounds: 1}}
			res := r.Run(func(netip.Addr) bool { return false })
			if res.Probes != n || res.State != PlaneDown || res.Belief.DownRounds != 2 {
				t.Errorf("got %d probes, %s, down rounds %d; want %d, down, 2", res.Probes, res.State, res.Belief.DownRounds, n)
			}
		})
	}
}

func TestBlockRoundAddresses(t *testing.T) {
	for _, c := range []struct {
		name     string
		e        int
		distinct int
		most     int
	}{
		{"E larger than the budget: no repeats", 20, 15, 1},
		{"E smaller: each address in turn", 3, 3, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen := make(map[netip.Addr]int)
			r := BlockRound{A: 0.02, E: block(0, c.e), Prior: Belief{BU: 0.5}, Rand: rand.New(rand.NewPCG(7, 7))}
			ambiguous := oddsProbe(0.5, 0.02)
			res := r.Run(func(a netip.Addr) bool { seen[a]++; return ambiguous(a) })
			if res.Probes != 15 {
				t.Fatalf("%d probes", res.Probes)
			}
			most := 0
			for _, n := range seen {
				most = max(most, n)
			}
			if len(seen) != c.distinct || most != c.most {
				t.Errorf("%d distinct addresses, one probed %d times; want %d, %d", len(seen), most, c.distinct, c.most)
			}
		})
	}
}
