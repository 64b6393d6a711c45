package results

import (
	"cmp"
	"math"
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
	canary := map[netip.Addr]bool{}
	for _, a := range an.Canaries {
		canary[a] = true
	}
	host := map[netip.Addr]bool{}
	for _, a := range an.Hosts {
		host[a] = true
	}
	census := map[seriesKey]*BlockStat{}
	for i := range an.Census {
		b := &an.Census[i]
		if !b.Host {
			census[seriesKey{b.Vantage, LevelBlock, b.Block.String(), CensusMethod(b.Method)}] = b
		}
	}

	var canaryRecs, traces []Record
	type group struct {
		round int64
		first time.Time
		recs  []*Record
	}
	groups := map[seriesKey]map[int64]*group{}
	add := func(k seriesKey, r *Record) {
		if groups[k] == nil {
			groups[k] = map[int64]*group{}
		}
		g := groups[k][r.Round]
		if g == nil {
			g = &group{round: r.Round, first: r.Time}
			groups[k][r.Round] = g
		}
		if r.Time.Before(g.first) {
			g.first = r.Time
		}
		g.recs = append(g.recs, r)
	}
	for i := range recs {
		r := &recs[i]
		addr, err := netip.ParseAddr(r.Target)
		if err != nil || r.Outcome == OutcomeError {
			continue
		}
		addr = addr.Unmap()
		switch {
		case canary[addr]:
			canaryRecs = append(canaryRecs, *r)
			continue
		case r.Method == MethodTrace:
			traces = append(traces, *r)
			continue
		}
		m := RecordMethod(r)
		add(seriesKey{r.Vantage, LevelBlock, CensusBlock(addr).String(), m}, r)
		if host[addr] {
			add(seriesKey{r.Vantage, LevelHost, addr.String(), m}, r)
		}
	}

	// Beliefs carry over from round to round, so each series runs in order.
	var obs []Observation
	for k, byRound := range groups {
		rounds := make([]int64, 0, len(byRound))
		for n := range byRound {
			rounds = append(rounds, n)
		}
		slices.Sort(rounds)
		s := blockSeries{census: census[k], host: k.level == LevelHost}
		if an.Before[k.entity] == PlaneDown {
			s.belief = Belief{BU: BeliefMin, DownRounds: 1}
		}
		for _, n := range rounds {
			g := byRound[n]
			state, carried := s.round(g.recs)
			obs = append(obs, Observation{Vantage: k.vantage, Level: k.level, Entity: k.entity, Round: n,
				Time: binStart(g.first, an.Round), State: state, Method: k.method, Belief: s.belief.Value(), Carried: carried})
		}
	}

	obs = unaskedMethods(obs)
	health := VantageHealth(canaryRecs)
	for vr, st := range health {
		st.Time = binStart(st.Time, an.Round)
		health[vr] = st
	}
	if len(an.Canaries) > 0 {
		// A vantage with no canary record in a round is unknown: a gap.
		for _, o := range obs {
			vr := VantageRound{o.Vantage, o.Round}
			if _, ok := health[vr]; !ok {
				health[vr] = VantageStatus{Vantage: o.Vantage, Round: o.Round, Time: o.Time}
			}
		}
	}
	merged := Merge(obs, health, an.Quorum)
	for i := range merged {
		v := &merged[i]
		v.ControlPlane = an.controlPlane(v.Entity, v.Time)
		v.Verdict = Combine(v.DataPlane, v.ControlPlane)
	}
	verdicts = append(verdicts, merged...)

	var bins []Bin
	bins = append(bins, VerdictBins(merged)...)
	h := NewHierarchy(an.Sets)
	roll := an.Rollup
	if roll.Window <= 0 {
		roll.Window = RollupWindow(an.Round)
	}
	for _, rb := range roll.AddCounts(h.Count(merged, an.Round)) {
		cp := ControlUnknown
		switch rb.Level {
		case LevelPrefix:
			cp = an.controlPlane(rb.Entity, rb.Time)
		case LevelASN, LevelCountry:
			cp = an.setsControlPlane(rb.Level, rb.Entity, rb.Time)
		}
		bins = append(bins, rb.Bin(cp))
		verdicts = append(verdicts, rb.Verdict(cp))
	}
	verdicts = append(verdicts, health.Verdicts()...)
	events = Events(bins, an.Round)
	AttachLastHops(events, traces, h)
	return verdicts, events
}

// unaskedMethods drops a vantage's down observations of an entity in a round
// where a method that had seen the entity up in an earlier round was not
// asked (a round cut short by SIGTERM, a method mix that skips a round):
// ICMP silent while TCP, which answers there, went unasked is no evidence of
// an outage. It returns the observations kept.
func unaskedMethods(obs []Observation) []Observation {
	type entityRound struct {
		vantage, level, entity string
		round                  int64
	}
	type methodRound struct {
		method string
		round  int64
	}
	asked := map[entityRound][]int{}
	var order []entityRound
	for i := range obs {
		o := &obs[i]
		k := entityRound{o.Vantage, o.Level, o.Entity, o.Round}
		if _, ok := asked[k]; !ok {
			order = append(order, k)
		}
		asked[k] = append(asked[k], i)
	}
	slices.SortFunc(order, func(a, b entityRound) int { return cmp.Compare(a.round, b.round) })
	firstUp := map[entityRound][]methodRound{} // round 0: per vantage and entity
	for _, k := range order {
		ek := entityRound{k.vantage, k.level, k.entity, 0}
		missing := false
		for _, m := range firstUp[ek] {
			if m.round < k.round && !slices.ContainsFunc(asked[k], func(i int) bool { return obs[i].Method == m.method }) {
				missing = true
			}
		}
		for _, i := range asked[k] {
			o := &obs[i]
			if missing && o.State == PlaneDown {
				o.State = "" // dropped below
				continue
			}
			if o.State == PlaneUp && !slices.ContainsFunc(firstUp[ek], func(m methodRound) bool { return m.method == o.Method }) {
				firstUp[ek] = append(firstUp[ek], methodRound{o.Method, k.round})
			}
		}
	}
	return slices.DeleteFunc(obs, func(o Observation) bool { return o.State == "" })
}

// seriesKey names one vantage's series of rounds of one entity by one method.
type seriesKey struct {
	vantage, level, entity, method string
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

// evidence says whether a is in E(b), and gives A; A is 0 while unknown.
func (s *blockSeries) evidence() (inE func(netip.Addr) bool, a float64, size int) {
	switch {
	case s.host:
		return func(netip.Addr) bool { return true }, HostA, 1
	case s.census != nil:
		e := s.census.E
		return func(x netip.Addr) bool { _, ok := slices.BinarySearchFunc(e, x, netip.Addr.Compare); return ok },
			s.census.A, len(e)
	}
	if s.probes > 0 {
		// Laplace's rule, so that a few probes do not give A = 1 or 0.
		a = float64(s.answers+1) / float64(s.probes+2)
	}
	return func(x netip.Addr) bool { return s.learnt[x] }, a, len(s.learnt)
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
func (s *blockSeries) round(recs []*Record) (state string, carried bool) {
	inE, a, size := s.evidence()
	replies, silences := 0, 0
	var addrs []netip.Addr
	silent := map[netip.Addr]bool{} // E(b)'s addresses silent in the round
	for _, r := range recs {
		addr, _ := netip.ParseAddr(r.Target)
		addr = addr.Unmap()
		addrs = append(addrs, addr)
		switch {
		case r.Answered():
			replies++
		case inE(addr):
			silences++
			silent[addr] = true
		}
	}
	// Only distinct addresses confirm a down: a few addresses probed over
	// and over are not independent witnesses.
	distinct := len(silent)
	prior := s.belief
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
		s.belief = roundBelief(prior, replies, silences, a)
		state = s.belief.State()
		if state == PlaneDown && !s.host && prior.State() != PlaneDown && !confirmedDown(replies, distinct, a) {
			state = PlaneUncertain
		}
		if state == PlaneUncertain && !s.host {
			s.belief.BU = 0.5
		}
	}
	if s.census == nil && !s.host {
		s.learn(recs, addrs, state)
	}
	if state == PlaneDown {
		s.belief.DownRounds++
		carried = !s.host && !confirmedDown(replies, distinct, a)
	} else {
		s.belief.DownRounds = 0
	}
	return state, carried
}

// learn updates the rolling census with a round: addresses that answered
// join E(b), and the round's probes of E(b) count towards A when something
// in the block answered and the round was not down (a dark round must not
// teach that the block answers less).
func (s *blockSeries) learn(recs []*Record, addrs []netip.Addr, state string) {
	if s.learnt == nil {
		s.learnt = map[netip.Addr]bool{}
	}
	answered := false
	for i, r := range recs {
		if r.Answered() {
			s.learnt[addrs[i]] = true
			answered = true
		}
	}
	if !answered || state == PlaneDown {
		return
	}
	for i, r := range recs {
		if s.learnt[addrs[i]] {
			s.probes++
			if r.Answered() {
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
