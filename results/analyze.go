package results

import (
	"cmp"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Analysis says how to turn records into verdicts and events.
type Analysis struct {
	// Sets map blocks to prefixes, ASes and countries for the roll-up.
	Sets []TargetSet
	// Hosts are known single hosts: entities of level host besides their block.
	Hosts []netip.Addr
	// Canaries are the addresses whose records tell vantage health.
	Canaries []netip.Addr
	// Census gives A per block and vantage; a block without one is taken at
	// DefaultA.
	Census []BlockStat
	Quorum int
	// Round is the bin length (the round length of `run`).
	Round time.Duration
	// BlockBits6 is the length of IPv6 blocks; 0 means CensusBits6 (a /48).
	BlockBits6 int
	// Rollup holds the roll-up thresholds and window; the zero value is IODA's.
	Rollup Rollup
	// ControlPlane, when set, gives the control plane (ControlAnnounced,
	// ControlWithdrawn or ControlUnknown) of a prefix at the end of the
	// round that begins at t; host, block and prefix verdicts then combine
	// it with the data plane. Without it the control plane is unknown.
	ControlPlane func(p netip.Prefix, t time.Time) string
	// Before gives, per block or host, the data plane of its last stored
	// verdict before the records analysed: one down then starts down, so
	// that an outage older than the records read is still seen as one.
	Before map[string]string
}

// HostA is the availability assumed for a known host: it is expected to
// answer.
const HostA = 0.9

// Analyze turns probe records from any number of vantage points into verdicts
// at every level (host, block, prefix, asn, country, vantage) per round, and
// the outage events those verdicts make, with the last responsive hop of the
// traces taken during each event.
//
// Per vantage, block (or host) and method, the records of a round update a
// Trinocular belief that carries over from the round before (see
// blockSeries); its state is that vantage's observation. Only E(b) is
// evidence: a silence of an address outside E(b) says nothing. E(b) and A are
// the census's for the block and method when Census has one, else learnt from
// the records themselves (a rolling census: the addresses that answered in
// earlier rounds). Canary records decide vantage health; Merge combines the
// healthy vantages' observations; the hierarchy rolls blocks up against a
// sliding-median baseline.
func (an Analysis) Analyze(recs []Record) (verdicts []Verdict, events []Event) {
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return recs[i].Time.Compare(recs[j].Time) })
	var c collector
	st := an.NewStream(c.add)
	for _, i := range order {
		_ = st.Add(&recs[i]) // c.add never fails
	}
	events, _ = st.Close()
	return c.verdicts(), events
}

// collector gathers a Stream's verdicts.
type collector struct{ entities, rollups, vantages []Verdict }

func (c *collector) add(v Verdict) error {
	switch v.Level {
	case LevelVantage:
		c.vantages = append(c.vantages, v)
	case LevelPrefix, LevelASN, LevelCountry:
		c.rollups = append(c.rollups, v)
	default:
		c.entities = append(c.entities, v)
	}
	return nil
}

// verdicts returns what was gathered in Analyze's order: blocks and hosts by
// level, entity and time (Merge's order), roll-ups by time, level and entity
// (Count's), vantage points by name and time (Health's).
func (c *collector) verdicts() []Verdict {
	slices.SortStableFunc(c.entities, func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Entity, b.Entity), a.Time.Compare(b.Time))
	})
	slices.SortStableFunc(c.vantages, func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Entity, b.Entity), a.Time.Compare(b.Time))
	})
	return slices.Concat(c.entities, c.rollups, c.vantages)
}

// CensusMethod is the method name a census is kept under: "icmp" for the
// empty name.
func CensusMethod(m string) string {
	if m == "" {
		return MethodICMP
	}
	return m
}

// RecordMethod is the method a record was probed with as a census names it:
// "tcp:80" for a TCP record of port 80, the method alone otherwise.
func RecordMethod(r *Record) string {
	if r.Method == MethodTCP && r.Port != 0 {
		return MethodTCP + ":" + strconv.Itoa(r.Port)
	}
	return r.Method
}

// blockSeries judges one vantage's rounds of one block (or known host) by one
// method, in round order.
type blockSeries struct {
	// census is the block's census for the method, nil when there is none:
	// E(b) and A are then learnt from the rounds (learnt, probes, answers).
	census *BlockStat
	host   bool
	// answered is set once the series has seen a reply: a known host that
	// never answered a method (it filters ICMP, say) is no evidence of an
	// outage by that method.
	answered bool

	belief  Belief
	learnt  map[netip.Addr]bool
	probes  int // probes of learnt addresses in rounds that answered
	answers int // of them, answered
}

// evidence gives A, 0 while unknown, and the size of E(b).
func (s *blockSeries) evidence() (a float64, size int) {
	switch {
	case s.host:
		return HostA, 1
	case s.census != nil:
		return s.census.A, len(s.census.E)
	}
	if s.probes > 0 {
		// Laplace's rule, so that a few probes do not give A = 1 or 0.
		a = float64(s.answers+1) / float64(s.probes+2)
	}
	return a, len(s.learnt)
}

// indexE is the index of x in a census's E(b), -1 when it is not there.
func (s *blockSeries) indexE(x netip.Addr) int {
	if len(s.census.E) <= 32 {
		return slices.Index(s.census.E, x) // a few comparisons beat a search by Compare
	}
	if i, ok := slices.BinarySearchFunc(s.census.E, x, netip.Addr.Compare); ok {
		return i
	}
	return -1
}

// inE says whether x is in E(b).
func (s *blockSeries) inE(x netip.Addr) bool {
	switch {
	case s.host:
		return true
	case s.census != nil && len(s.census.E) <= 32:
		return slices.Contains(s.census.E, x) // a few comparisons beat a search by Compare
	case s.census != nil:
		_, ok := slices.BinarySearchFunc(s.census.E, x, netip.Addr.Compare)
		return ok
	}
	return s.learnt[x]
}

// round applies one round's records and returns the series' state after
// it, and whether a down state is carried from earlier rounds rather than
// confirmed by this round's evidence (Observation.Carried).
//
// Replies count wherever they come from; silences only from E(b). A block
// with no E(b) or no A yet is up when anything answered and uncertain
// otherwise, never down unless it was down before the records read
// (Analysis.Before). A block that did not begin the round down reads
// down only when the round's own evidence is enough (DownEvidence);
// otherwise it is uncertain, and its belief starts the next round at 0.5, as
// Trinocular's does when a round's probe budget is spent.
func (s *blockSeries) round(probes []probe) (state string, carried bool) {
	var t roundTally
	for _, p := range probes {
		t.add(s, p)
	}
	return s.judge(&t, probes)
}

// roundTally is what a round's judgement needs of its probes: the replies,
// and the silences of E(b) with their addresses: by their index in E(b),
// as bits of mask, when E(b) is a census's of at most maskE addresses,
// else in silent.
type roundTally struct {
	replies, silences int32
	mask              uint64
	silent            []netip.Addr
}

// maskE is the most addresses of a census's E(b) whose silences a
// roundTally keeps as bits.
const maskE = 64

// add counts probe p of series s.
func (t *roundTally) add(s *blockSeries, p probe) {
	switch {
	case p.answered:
		t.replies++
	case s.census != nil && len(s.census.E) <= maskE:
		if i := s.indexE(p.addr); i >= 0 {
			t.silences++
			t.mask |= 1 << i
		}
	case s.inE(p.addr):
		t.silences++
		t.silent = append(t.silent, p.addr)
	}
}

// distinct is how many distinct addresses of E(b) were silent. It sorts
// t.silent.
func (t *roundTally) distinct() int {
	slices.SortFunc(t.silent, netip.Addr.Compare)
	return bits.OnesCount64(t.mask) + len(slices.Compact(t.silent))
}

// fixedE reports whether the series' E(b) stays as it is from round to
// round (a census's, or a known host's), so that a round's probes can be
// tallied as they come rather than kept until the round is judged.
func (s *blockSeries) fixedE() bool { return s.host || s.census != nil }

// judge is round with the round's probes tallied in t; probes are needed
// only by a series that learns its E(b) (not fixedE). It sorts t.silent.
func (s *blockSeries) judge(t *roundTally, probes []probe) (state string, carried bool) {
	a, size := s.evidence()
	replies, silences := int(t.replies), int(t.silences)
	// Only distinct addresses confirm a down: a few addresses probed over
	// and over are not independent witnesses.
	distinct := t.distinct()
	prior := s.belief
	s.belief.Silent = 0
	s.answered = s.answered || replies > 0
	switch {
	case s.host && !s.answered && prior.State() != PlaneDown:
		state = PlaneUncertain // never answered this method: it may filter it
	case size == 0 || a == 0:
		switch {
		case replies > 0:
			state = PlaneUp
			s.belief.BU = BeliefMax
		case prior.State() == PlaneDown:
			state = PlaneDown // down before the records read, and nothing answers since
		default:
			state = PlaneUncertain
		}
	default:
		s.belief.BU = roundBelief(prior, replies, silences, a).BU
		state = s.belief.State()
		if state == PlaneDown && !s.host && prior.State() != PlaneDown && !confirmedDown(replies, distinct+prior.Silent, a) {
			state = PlaneUncertain
		}
		if state == PlaneUncertain && !s.host {
			s.belief.BU = 0.5
			if replies == 0 {
				s.belief.Silent = distinct // held for the next round
			}
		}
	}
	if s.census == nil && !s.host {
		s.learn(probes, state)
	}
	if state == PlaneDown {
		s.belief.DownRounds++
		carried = !s.host && !confirmedDown(replies, distinct+prior.Silent, a)
	} else {
		s.belief.DownRounds = 0
	}
	return state, carried
}

// learn updates the rolling census with a round: addresses that answered
// join E(b), and the round's probes of E(b) count towards A when something
// in the block answered and the round was not down (a dark round must not
// teach that the block answers less).
func (s *blockSeries) learn(probes []probe, state string) {
	if s.learnt == nil {
		s.learnt = map[netip.Addr]bool{}
	}
	answered := false
	for _, p := range probes {
		if p.answered {
			s.learnt[p.addr] = true
			answered = true
		}
	}
	if !answered || state == PlaneDown {
		return
	}
	for _, p := range probes {
		if s.learnt[p.addr] {
			s.probes++
			if p.answered {
				s.answers++
			}
		}
	}
}

// controlPlane is the control plane of an entity (a prefix, or a host's
// address) for the round that begins at t.
func (an Analysis) controlPlane(entity string, t time.Time) string {
	if an.ControlPlane == nil {
		return ControlUnknown
	}
	p, err := netip.ParsePrefix(entity)
	if err != nil {
		a, err := netip.ParseAddr(entity)
		if err != nil {
			return ControlUnknown
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return an.ControlPlane(p.Masked(), t)
}

// setsControlPlane is the control plane of an AS or a country from the share
// of its configured prefixes announced: withdrawn when more than half of
// those BGP knows are withdrawn, announced otherwise, unknown when BGP knows
// none. One prefix withdrawn of many is not the AS's withdrawal.
func (an Analysis) setsControlPlane(level, entity string, t time.Time) string {
	announced, withdrawn := 0, 0
	for _, s := range an.Sets {
		if level == LevelASN && (s.ASN == 0 || ASEntity(s.ASN) != entity) ||
			level == LevelCountry && (s.Country == "" || !strings.EqualFold(s.Country, entity)) {
			continue
		}
		for _, p := range s.Prefixes {
			switch an.controlPlane(p.String(), t) {
			case ControlAnnounced:
				announced++
			case ControlWithdrawn:
				withdrawn++
			}
		}
	}
	switch {
	case withdrawn > announced:
		return ControlWithdrawn
	case announced > 0:
		return ControlAnnounced
	}
	return ControlUnknown
}

// roundBelief applies one round's evidence, replies and silences, to the
// belief b with Trinocular's likelihoods for availability a, and caps the
// result to [BeliefMin, BeliefMax] once, at the end of the round. Trinocular
// caps after every probe because it stops probing as soon as it is sure; a
// sweep probes every address of the block, and capping probe by probe would
// let the last few of them decide alone, whatever the rest said.
func roundBelief(b Belief, replies, silences int, a float64) Belief {
	a = min(max(a, BeliefMin), BeliefMax)
	odds := math.Log(b.Value()/(1-b.Value())) +
		float64(replies)*math.Log(a/ReplyWhenDown) +
		float64(silences)*math.Log((1-a)/(1-ReplyWhenDown))
	bu := 1 / (1 + math.Exp(-odds))
	b.BU = min(max(bu, BeliefMin), BeliefMax)
	return b
}
