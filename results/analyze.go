package results

import (
	"math"
	"net/netip"
	"slices"
	"sort"
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
}

// DefaultA is the availability assumed for a block that has no census yet.
const DefaultA = 0.5

// Analyze turns probe records from any number of vantage points into verdicts
// at every level (host, block, prefix, asn, country, vantage) per round, and
// the outage events those verdicts make, with the last responsive hop of the
// traces taken during each event.
//
// Per vantage, block (or host) and method, the records of a round update a
// Trinocular belief that carries over from the round before (see roundBelief);
// its state is that vantage's observation. Canary records decide vantage health; Merge
// combines the healthy vantages' observations; the hierarchy rolls blocks up
// against a sliding-median baseline.
func (an Analysis) Analyze(recs []Record) (verdicts []Verdict, events []Event) {
	canary := map[netip.Addr]bool{}
	for _, a := range an.Canaries {
		canary[a] = true
	}
	host := map[netip.Addr]bool{}
	for _, a := range an.Hosts {
		host[a] = true
	}
	availability := map[[2]string]float64{}
	for _, b := range an.Census {
		if !b.Host {
			availability[[2]string{b.Vantage, b.Block.String()}] = b.A
		}
	}

	var canaryRecs, traces []Record
	type key struct {
		vantage, level, entity, method string
	}
	type group struct {
		key
		round int64
		first time.Time
		recs  []*Record
	}
	groups := map[key]map[int64]*group{}
	// swept marks the block series with probes of other addresses than
	// known hosts; the rest (a method only a known host is probed with)
	// are judged as the host is.
	swept := map[key]bool{}
	add := func(k key, r *Record) {
		if groups[k] == nil {
			groups[k] = map[int64]*group{}
		}
		g := groups[k][r.Round]
		if g == nil {
			g = &group{key: k, round: r.Round, first: r.Time}
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
		switch {
		case canary[addr]:
			canaryRecs = append(canaryRecs, *r)
			continue
		case r.Method == MethodTrace:
			traces = append(traces, *r)
			continue
		}
		bk := key{r.Vantage, LevelBlock, CensusBlock(addr).String(), r.Method}
		add(bk, r)
		if host[addr] {
			add(key{r.Vantage, LevelHost, addr.String(), r.Method}, r)
		} else {
			swept[bk] = true
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
		a := DefaultA
		if v, ok := availability[[2]string{k.vantage, k.entity}]; ok && k.level == LevelBlock {
			a = v
		}
		if k.level == LevelHost || k.level == LevelBlock && !swept[k] {
			a = 0.9 // a known host is expected to answer
		}
		var b Belief
		for _, n := range rounds {
			g := byRound[n]
			sort.Slice(g.recs, func(i, j int) bool { return g.recs[i].Time.Before(g.recs[j].Time) })
			replies := 0
			for _, r := range g.recs {
				if r.Answered() {
					replies++
				}
			}
			b = roundBelief(b, replies, len(g.recs)-replies, a)
			obs = append(obs, Observation{Vantage: k.vantage, Level: k.level, Entity: k.entity, Round: n,
				Time: an.binTime(g.first), State: b.State(), Method: k.method, Belief: b.Value()})
		}
	}

	health := VantageHealth(canaryRecs)
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

// setsControlPlane is the control plane of an AS or a country: announced
// when any of its configured prefixes is, else withdrawn when any is, else
// unknown.
func (an Analysis) setsControlPlane(level, entity string, t time.Time) string {
	state := ControlUnknown
	for _, s := range an.Sets {
		if level == LevelASN && (s.ASN == 0 || ASEntity(s.ASN) != entity) ||
			level == LevelCountry && (s.Country == "" || !strings.EqualFold(s.Country, entity)) {
			continue
		}
		for _, p := range s.Prefixes {
			switch an.controlPlane(p.String(), t) {
			case ControlAnnounced:
				return ControlAnnounced
			case ControlWithdrawn:
				state = ControlWithdrawn
			}
		}
	}
	return state
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

// binTime is t at the start of its round bin (t itself without a round).
func (an Analysis) binTime(t time.Time) time.Time {
	if an.Round <= 0 {
		return t.UTC()
	}
	return t.UTC().Truncate(an.Round)
}
