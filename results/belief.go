package results

import (
	"math"
	"math/rand/v2"
	"net/netip"
)

// Trinocular's constants (Quan, Heidemann, Pradkin, SIGCOMM 2013), as DESIGN.md
// states them.
const (
	// BeliefNew is B(U) of a block never probed before.
	BeliefNew = 0.99
	// BeliefMin and BeliefMax cap B(U), so that a few probes can always
	// change a block's state.
	BeliefMin = 0.01
	BeliefMax = 0.99
	// BeliefUp and BeliefDown are the thresholds: B(U) above BeliefUp is up,
	// below BeliefDown is down, in between uncertain.
	BeliefUp   = 0.9
	BeliefDown = 0.1
	// ReplyWhenDown is P(reply | block down): a reply from a down block is a
	// rare mistake spread over the block's 256 addresses.
	ReplyWhenDown = (1 - 0.01) / 256
	// ProbeBudget is the most probes a block gets in one round.
	ProbeBudget = 15
	// RecoveryMiss is the chance that recovery probing of a down block that
	// has come back up sees no reply: RecoveryProbes sends enough probes to
	// bring the chance of missing a recovery down to this.
	RecoveryMiss = 0.2
	// DownEvidence is the most one round's evidence may weigh for "up"
	// (its likelihood ratio, up to down) for a block that did not begin
	// the round down to be called down: the round's silences must be
	// 10,000 times likelier from a down block than from an up one. A
	// healthy block is then called down by one vantage point in fewer
	// than 1 in 10,000 rounds, and, with the quorum of two, is a false
	// outage in fewer than 1 in 10^8; a block can still be called down
	// within the 15 probes of a round when A ≥ 0.46. A block whose E(b)
	// and A cannot give that much in a round (a handful of addresses, a
	// low A) is never called down on silence: it reads uncertain, and its
	// prefix's roll-up judges it with its neighbours.
	DownEvidence = 1e-4
	// ConfirmMaxA is the most availability a round's silences are weighed
	// with when they confirm a down. A path can lose a third of the probes
	// for a while (congestion, a lossy link) with the block alive: at its
	// census A of 0.99, two silences would confirm a down that such a path
	// gives in one round of four. Capped, a down needs at least 8 distinct
	// silent addresses of E(b), which a lossy path to a live block almost
	// never gives in one round.
	ConfirmMaxA = 0.7
	// RecoveryMaxGap is the longest interval, in rounds, between two rounds of
	// recovery probing of a block that stays down (see RecoveryDue).
	RecoveryMaxGap = 16
)

// Belief is what darkwatch believes about one block (or host) from one vantage
// point, carried from round to round. The zero Belief is a new block's:
// B(U) = BeliefNew.
type Belief struct {
	// BU is B(U), the belief that the block is up, in [BeliefMin, BeliefMax];
	// 0 stands for a new block (BeliefNew).
	BU float64
	// DownRounds counts the consecutive rounds that ended with the block down,
	// for the backoff of recovery probing. BlockRound keeps it; Update does
	// not touch it.
	DownRounds int
	// Silent counts the distinct addresses of E(b) silent in the previous
	// round when that round ended uncertain with no reply, and is 0
	// otherwise. A block whose A is too low for one round's silences to
	// confirm a down (DownEvidence) is confirmed by two such rounds'
	// silences together: it reads down in its second dark round rather
	// than never. Only one round is held, so that a block whose A falls
	// for a while (a diurnal block at night) is not called down on the
	// silences of many rounds; and a round with a reply holds nothing, as
	// the block was up then.
	Silent int
}

// Value returns B(U), BeliefNew for the zero Belief.
func (b Belief) Value() float64 {
	if b.BU == 0 {
		return BeliefNew
	}
	return b.BU
}

// Update applies Bayes' rule for one probe of an address of E(b), given the
// block's availability A: P(reply|up) = A, P(reply|down) = ReplyWhenDown, and
// the complements for no reply. B(U) is then capped to [BeliefMin, BeliefMax].
// A is taken within [BeliefMin, BeliefMax] too, so that a reply is always
// evidence for up and a single silence never proves down on its own.
func (b *Belief) Update(reply bool, a float64) {
	a = clampA(a)
	u := b.Value()
	pu, pd := a, ReplyWhenDown
	if !reply {
		pu, pd = 1-a, 1-ReplyWhenDown
	}
	b.BU = min(max(pu*u/(pu*u+pd*(1-u)), BeliefMin), BeliefMax)
}

// State returns PlaneUp when B(U) > BeliefUp, PlaneDown when B(U) < BeliefDown,
// and PlaneUncertain in between.
func (b Belief) State() string {
	switch u := b.Value(); {
	case u > BeliefUp:
		return PlaneUp
	case u < BeliefDown:
		return PlaneDown
	}
	return PlaneUncertain
}

func clampA(a float64) float64 {
	if !(a > BeliefMin) { // NaN too
		return BeliefMin
	}
	return min(a, BeliefMax)
}

// RecoveryProbes is how many probes a round of recovery probing sends to a down
// block of availability A: ⌈log RecoveryMiss / log(1−A)⌉, the fewest after
// which a block that is up again has answered at least once with probability
// 1 − RecoveryMiss. A is taken within [BeliefMin, BeliefMax], so the result is
// at least 1; BlockRound caps it at its budget.
func RecoveryProbes(a float64) int {
	x := math.Log(RecoveryMiss) / math.Log1p(-clampA(a))
	// A hair of tolerance, so that an exact integer (A = 0.8: 1) is not
	// pushed to the next one by rounding.
	return max(1, int(math.Ceil(x-1e-9)))
}

// RecoveryDue reports whether a block that has ended downRounds consecutive
// rounds down gets recovery probing this round: after 1, 2, 4, 8 … rounds down
// (exponential backoff), and then every RecoveryMaxGap rounds. In the other
// rounds a down block gets only its periodic probe.
func RecoveryDue(downRounds int) bool {
	if downRounds <= 0 {
		return false
	}
	return downRounds&(downRounds-1) == 0 || downRounds%RecoveryMaxGap == 0
}

// BlockRound is one round of Trinocular probing of one block from one vantage
// point. Run sends the periodic probe, then adaptive probes while the belief is
// uncertain, and recovery probes for a down block, all within the budget.
type BlockRound struct {
	// A is the block's availability and E its ever-responsive addresses, from
	// the census (BlockStat).
	A float64
	E []netip.Addr
	// Prior is the belief the previous round ended with (the zero Belief for a
	// new block).
	Prior Belief
	// Budget is the most probes this round; 0 means ProbeBudget.
	Budget int
	// Rand picks the addresses to probe; nil uses math/rand/v2's global source.
	Rand *rand.Rand
}

// RoundResult is what one BlockRound found.
type RoundResult struct {
	// State is PlaneUp, PlaneDown or PlaneUncertain (also when the budget ran
	// out before the belief was certain, and when E is empty).
	State   string
	Probes  int
	Replies int
	// Belief is the belief to carry into the next round.
	Belief Belief
}

// Run plays the round. probe sends one probe to addr and reports whether the
// address answered; the caller sends real packets (or, in tests, fakes them).
// Addresses are drawn from E at random without repetition until E is used up.
//
// The round always sends the periodic probe. It goes on while the belief is
// uncertain, while it has fallen below where the round began (an up block
// whose probe went unanswered is probed again at once, so that an outage is
// seen in the round it begins), while a block that began the round up is
// down without the round's evidence confirming it (DownEvidence; a round
// that cannot confirm it ends uncertain), and for a block that began the round down
// and is due recovery probing (RecoveryDue) while it is still down and fewer
// than RecoveryProbes(A) probes have been sent; it stops at the budget. A
// round that spends its budget uncertain ends with B(U) = 0.5, as
// Trinocular's does. A block with an empty E cannot be probed: it is
// uncertain, with no probe sent and its belief unchanged. A round that
// cannot confirm a down on its own silences may with those the previous
// round held (Belief.Silent).
func (r BlockRound) Run(probe func(addr netip.Addr) bool) RoundResult {
	return r.play(false, func(addrs []netip.Addr) []bool {
		out := make([]bool, len(addrs))
		for i, a := range addrs {
			out[i] = probe(a)
		}
		return out
	})
}

// RunBatch plays the round as Run does, with the same rules for going on and
// stopping, but sends the follow-up probes in batches, so that a round takes a
// few probe timeouts rather than one a probe: after the periodic probe, batches
// of 2, 4, 8 … addresses, each no larger than the silences that would still
// confirm a down (or the recovery probes still due) and the budget left. probe
// sends one probe to every address of a batch at once and reports, in order,
// which answered. A block that answers costs at most the rest of its batch.
func (r BlockRound) RunBatch(probe func(addrs []netip.Addr) []bool) RoundResult {
	return r.play(true, probe)
}

func (r BlockRound) play(batched bool, probe func(addrs []netip.Addr) []bool) RoundResult {
	b := r.Prior
	b.BU = b.Value()
	if len(r.E) == 0 {
		return RoundResult{State: PlaneUncertain, Belief: b}
	}
	budget := r.Budget
	if budget <= 0 {
		budget = ProbeBudget
	}
	recovery := 0
	if b.State() == PlaneDown && RecoveryDue(max(b.DownRounds, 1)) {
		recovery = RecoveryProbes(r.A)
	}
	start, startedDown := b.BU, b.State() == PlaneDown
	res := RoundResult{}
	pick := addrPicker{e: r.E, rng: r.Rand}
	silent := map[netip.Addr]bool{} // distinct addresses silent in the round
	size := 1
	for res.Probes < budget {
		n := 1
		if batched && res.Probes > 0 {
			size *= 2
			n = min(size, budget-res.Probes, pick.left())
			if b.State() == PlaneDown && startedDown {
				n = min(n, max(1, recovery-res.Probes))
			} else {
				n = min(n, silencesToConfirm(res.Replies, len(silent)+r.Prior.Silent, len(r.E)-len(silent), r.A, budget-res.Probes))
			}
		}
		addrs := make([]netip.Addr, n)
		for i := range addrs {
			addrs[i] = pick.next()
		}
		replies := probe(addrs)
		for i, addr := range addrs {
			reply := i < len(replies) && replies[i]
			res.Probes++
			if reply {
				res.Replies++
			} else {
				silent[addr] = true
			}
			b.Update(reply, r.A)
		}
		switch s := b.State(); {
		case s == PlaneUncertain,
			s == PlaneUp && b.BU < start,
			s == PlaneDown && res.Probes < recovery,
			s == PlaneDown && !startedDown && !confirmedDown(res.Replies, len(silent)+r.Prior.Silent, r.A):
			continue
		}
		break
	}
	res.State = b.State()
	if res.State == PlaneDown && !startedDown && !confirmedDown(res.Replies, len(silent)+r.Prior.Silent, r.A) {
		res.State = PlaneUncertain
	}
	b.Silent = 0
	if res.State == PlaneUncertain {
		b.BU = 0.5
		if res.Replies == 0 {
			b.Silent = len(silent)
		}
	}
	if res.State == PlaneDown {
		b.DownRounds++
	} else {
		b.DownRounds = 0
	}
	res.Belief = b
	return res
}

// silencesToConfirm is how many more silences of distinct addresses, of the
// fresh ones still unprobed, would confirm a down after replies and silences at
// availability a: at least 1, limit when fresh addresses cannot.
func silencesToConfirm(replies, silences, fresh int, a float64, limit int) int {
	for n := 1; n < limit && n <= fresh; n++ {
		if confirmedDown(replies, silences+n, a) {
			return n
		}
	}
	return max(1, limit)
}

// confirmedDown reports whether a round's replies and silences of distinct
// addresses of E(b), at availability a, are evidence enough to call a block down that began the
// round up: a likelihood ratio, up to down, of at most DownEvidence, the
// silences weighed at no more than ConfirmMaxA.
func confirmedDown(replies, silences int, a float64) bool {
	a = clampA(a)
	lr := float64(replies)*math.Log(a/ReplyWhenDown) + float64(silences)*math.Log((1-min(a, ConfirmMaxA))/(1-ReplyWhenDown))
	return lr <= math.Log(DownEvidence)
}

// addrPicker draws addresses of e at random without repetition, starting over
// when e is used up.
type addrPicker struct {
	e   []netip.Addr
	rng *rand.Rand
	idx []int
	n   int // idx[:n] are still to be drawn
}

// left is how many addresses next draws before it starts over.
func (p *addrPicker) left() int {
	if p.n == 0 {
		return len(p.e)
	}
	return p.n
}

func (p *addrPicker) next() netip.Addr {
	if p.n == 0 {
		if p.idx == nil {
			p.idx = make([]int, len(p.e))
			for i := range p.idx {
				p.idx[i] = i
			}
		}
		p.n = len(p.idx)
	}
	var j int
	if p.rng != nil {
		j = p.rng.IntN(p.n)
	} else {
		j = rand.IntN(p.n)
	}
	p.n--
	p.idx[j], p.idx[p.n] = p.idx[p.n], p.idx[j]
	return p.e[p.idx[p.n]]
}
