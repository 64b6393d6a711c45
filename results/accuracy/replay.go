package accuracy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"darkwatch/results"
)

// The December 2014 North Korea outage as the replay models it: the country's
// one /22 (four /24s) of AS131279, dark for 52 rounds of 11 minutes (9 h 32 min)
// from the first round at or after 16:41 UTC on 22 December 2014, with its
// prefix withdrawn meanwhile, after a day of service with bouts of heavy loss.
var (
	KPPrefix   = netip.MustParsePrefix("175.45.176.0/22")
	KPASN      = uint32(131279)
	KPCountry  = "KP"
	KPDarkFrom = time.Date(2014, 12, 22, 16, 41, 0, 0, time.UTC)
)

// Replay timing, in 11-minute rounds.
const (
	KPRound       = 11 * time.Minute
	KPDarkRounds  = 52
	kpBefore      = 131 // a day of service before the dark
	kpAfter       = 48  // recovery after it
	kpHosts       = 40  // hosts a /24
	kpA           = 0.8 // their availability
	kpUnstable    = 0.3 // the loss of the unstable rounds
	kpVantageLoss = 0.02
)

// kpUnstableRounds are the rounds (from the replay's first) in which probes
// to KP lose kpUnstable of their packets besides: bouts of instability through
// the day before, the last one right before the dark.
var kpUnstableRounds = []span{{20, 26}, {58, 61}, {90, 98}, {120, kpBefore}}

// ReplayResult is what a replay found.
type ReplayResult struct {
	Truth Truth
	Rows  []Row
	// Verdicts holds every block, prefix, AS and country verdict.
	Verdicts []results.Verdict
	// DarkFrom and DarkUntil bound the dark rounds: [DarkFrom, DarkUntil).
	DarkFrom, DarkUntil time.Time
	Records             int
}

// Replay2014 replays the December 2014 North Korea outage from three vantage
// points with canaries, through results.Analysis.Analyze, and scores it. With
// census set, the run probes the four /24s adaptively (Trinocular) from a
// census that found 40 hosts each at A 0.8; without it, `run` sweeps every
// address of the /22 with ICMP every round, as it does without a census.
func Replay2014(census bool) ReplayResult {
	p := newKPReplay(census)
	if census {
		p.takeCensus()
	}
	for r := range p.rounds {
		p.probeRound(r)
	}
	return p.score()
}

// kpVantage is one vantage point of the replay and its canaries.
type kpVantage struct {
	name     string
	canaries []netip.Addr
}

// kpReplay is the state of one replay of the 2014 outage: its one random
// source, drawn from in a fixed order, its rounds, the four /24s and their
// hosts, the vantage points, the analysis, and the records written so far.
type kpReplay struct {
	census bool
	rng    *rand.Rand
	// start is the number of the replay's first round; rounds counts its
	// rounds and dark spans the dark ones, counted from the first.
	start  int64
	rounds int
	dark   span
	blocks []netip.Prefix
	hosts  []addrSet
	// vantages are the vantage points; canaries all their canaries.
	vantages []kpVantage
	canaries []netip.Addr
	an       results.Analysis
	// stats holds each vantage point's census of each block, beliefs its
	// belief in each block after the last round, both keyed by vantage and
	// block number.
	stats   map[[2]int]results.BlockStat
	beliefs map[[2]int]results.Belief
	recs    []results.Record
}

// newKPReplay sets up the replay: its timing, the four /24s of the /22 with
// kpHosts random hosts each, three vantage points with three canaries each,
// and the analysis that reads the records.
func newKPReplay(census bool) *kpReplay {
	p := &kpReplay{
		census:  census,
		rng:     rand.New(rand.NewPCG(2014, 1222)),
		rounds:  kpBefore + KPDarkRounds + kpAfter,
		dark:    span{kpBefore, kpBefore + KPDarkRounds},
		stats:   map[[2]int]results.BlockStat{},
		beliefs: map[[2]int]results.Belief{},
	}
	p.start = firstRoundAtOrAfter(KPDarkFrom, KPRound) - kpBefore
	for i := range 4 {
		a := KPPrefix.Addr().As4()
		a[2] += byte(i)
		p.blocks = append(p.blocks, netip.PrefixFrom(netip.AddrFrom4(a), 24))
		var s addrSet
		for _, h := range p.rng.Perm(254)[:kpHosts] {
			s.add(h + 1)
		}
		p.hosts = append(p.hosts, s)
	}
	for v := range 3 {
		vp := kpVantage{name: fmt.Sprintf("vp%d", v+1)}
		for i := range 3 {
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(10*(v+1) + i)})
			vp.canaries = append(vp.canaries, a)
			p.canaries = append(p.canaries, a)
		}
		p.vantages = append(p.vantages, vp)
	}
	p.an = p.analysis()
	return p
}

// analysis is the analysis of the replay's records: one target set, the /22,
// with its prefix withdrawn in the dark rounds.
func (p *kpReplay) analysis() results.Analysis {
	return results.Analysis{
		Sets:     []results.TargetSet{{Name: "kp", Prefixes: []netip.Prefix{KPPrefix}, ASN: KPASN, Country: KPCountry}},
		Canaries: p.canaries,
		Round:    KPRound,
		ControlPlane: func(pfx netip.Prefix, t time.Time) string {
			if !KPPrefix.Overlaps(pfx) {
				return results.ControlUnknown
			}
			if inSpans([]span{p.dark}, int(roundOf(t, KPRound)-p.start)) {
				return results.ControlWithdrawn
			}
			return results.ControlAnnounced
		},
	}
}

// at is the start of round r, counted from the replay's first.
func (p *kpReplay) at(r int) time.Time {
	return time.Unix(0, (p.start+int64(r))*int64(KPRound)).UTC()
}

// addr is host h of block b.
func (p *kpReplay) addr(b, h int) netip.Addr {
	a := p.blocks[b].Addr().As4()
	a[3] = byte(h)
	return netip.AddrFrom4(a)
}

// answers plays one probe of host h of block b from a vantage point in
// round r.
func (p *kpReplay) answers(b, h, r int) bool {
	if r >= int(p.dark.from) && r < int(p.dark.to) || !p.hosts[b].has(h) {
		return false
	}
	pr := kpA * (1 - kpVantageLoss)
	if inSpans(kpUnstableRounds, r) {
		pr *= 1 - kpUnstable
	}
	return p.rng.Float64() < pr
}

// kpOutcome is the outcome of a probe answered or not.
func kpOutcome(ok bool) string {
	if ok {
		return results.OutcomeReply
	}
	return results.OutcomeTimeout
}

// takeCensus gives each vantage point its census of each block, which the
// analysis shares.
func (p *kpReplay) takeCensus() {
	for v, vp := range p.vantages {
		for b := range p.blocks {
			s := p.censusOf(vp.name, b)
			p.stats[[2]int{v, b}] = s
			p.an.Census = append(p.an.Census, s)
		}
	}
}

// censusOf is a vantage point's census of block b: two passes a census,
// merged over the window, before the replay's first round.
func (p *kpReplay) censusOf(vantage string, b int) results.BlockStat {
	var merged []results.BlockStat
	for run := range results.DefaultCensusWindow {
		var recs []results.Record
		for pass := range 2 {
			for h := range 256 {
				ok := p.hosts[b].has(h) && p.rng.Float64() < kpA*(1-kpVantageLoss)
				recs = append(recs, results.Record{Time: p.at(-1 - run), Vantage: vantage, Round: int64(pass),
					Method: results.MethodICMP, Target: p.addr(b, h).String(), Outcome: kpOutcome(ok)})
			}
		}
		merged = results.MergeCensus(merged, results.Census(recs, nil), results.DefaultCensusWindow)
	}
	s := merged[0]
	s.Method, s.History = results.MethodICMP, nil
	return s
}

// probeRound writes round r's records: each vantage point probes its
// canaries, then each block, swept or probed adaptively.
func (p *kpReplay) probeRound(r int) {
	k := p.start + int64(r)
	for v, vp := range p.vantages {
		t0 := p.at(r).Add(time.Duration(v) * 7 * time.Second)
		for i, a := range vp.canaries {
			p.recs = append(p.recs, results.Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Vantage: vp.name,
				Round: k, Method: results.MethodICMP, Target: a.String(), Seq: 1,
				Outcome: kpOutcome(p.rng.Float64() < 1-kpVantageLoss)})
		}
		for b := range p.blocks {
			tb := t0.Add(time.Second + time.Duration(b)*time.Minute)
			if !p.census {
				p.sweep(vp.name, b, r, tb)
				continue
			}
			p.probeAdaptive(v, b, r, tb)
		}
	}
}

// sweep writes a vantage point's probes of every address of block b in
// round r, one a millisecond from tb.
func (p *kpReplay) sweep(vantage string, b, r int, tb time.Time) {
	k := p.start + int64(r)
	for h := range 256 {
		p.recs = append(p.recs, results.Record{Time: tb.Add(time.Duration(h) * time.Millisecond), Vantage: vantage,
			Round: k, Method: results.MethodICMP, Target: p.addr(b, h).String(), Outcome: kpOutcome(p.answers(b, h, r))})
	}
}

// probeAdaptive writes vantage point v's adaptive probes of block b in round
// r, one every 10 ms after tb, from its census and its belief after the
// round before, and keeps its new belief.
func (p *kpReplay) probeAdaptive(v, b, r int, tb time.Time) {
	k := p.start + int64(r)
	name := p.vantages[v].name
	s := p.stats[[2]int{v, b}]
	seq := 0
	res := results.BlockRound{A: s.A, E: s.E, Prior: p.beliefs[[2]int{v, b}], Rand: p.rng}.RunBatch(each(func(a netip.Addr) bool {
		seq++
		ok := p.answers(b, int(a.As4()[3]), r)
		p.recs = append(p.recs, results.Record{Time: tb.Add(time.Duration(seq) * 10 * time.Millisecond), Vantage: name,
			Round: k, Method: results.MethodICMP, Target: a.String(), Seq: seq, Outcome: kpOutcome(ok)})
		return ok
	}))
	p.beliefs[[2]int{v, b}] = res.Belief
}

// score analyses the records and scores the block, prefix, AS and country
// verdicts against the truth: each of them dark in the dark rounds.
func (p *kpReplay) score() ReplayResult {
	verdicts, _ := p.an.Analyze(p.recs)
	res := ReplayResult{DarkFrom: p.at(int(p.dark.from)), DarkUntil: p.at(int(p.dark.to)), Records: len(p.recs)}
	for _, v := range verdicts {
		if v.Level != results.LevelVantage && v.Level != results.LevelHost {
			res.Verdicts = append(res.Verdicts, v)
		}
	}
	t := Truth{Round: KPRound, From: p.at(0), Until: p.at(p.rounds)}
	var ents []results.EntityRef
	for _, b := range p.blocks {
		ents = append(ents, results.EntityRef{Level: results.LevelBlock, Entity: b.String()})
	}
	ents = append(ents,
		results.EntityRef{Level: results.LevelPrefix, Entity: KPPrefix.String()},
		results.EntityRef{Level: results.LevelASN, Entity: results.ASEntity(KPASN)},
		results.EntityRef{Level: results.LevelCountry, Entity: KPCountry})
	for _, e := range ents {
		t.Entities = append(t.Entities, e)
		t.Outages = append(t.Outages, Outage{e.Level, e.Entity, res.DarkFrom, res.DarkUntil})
	}
	res.Truth = t
	res.Rows = Score(t, res.Verdicts)
	return res
}

// DownRounds lists the rounds, as offsets from from in rounds of length
// round, in which verdicts read entity's data plane down, in order.
func DownRounds(verdicts []results.Verdict, level, entity string, from time.Time, round time.Duration) []int {
	base := roundOf(from, round)
	var out []int
	for _, v := range verdicts {
		if v.Level == level && v.Entity == entity && v.DataPlane == results.PlaneDown {
			out = append(out, int(roundOf(v.Time, round)-base))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// each turns a probe of one address into the probe of a batch that
// BlockRound.RunBatch sends, as a node does: the batch's addresses one after
// the other, in order.
func each(probe func(netip.Addr) bool) func([]netip.Addr) []bool {
	return func(addrs []netip.Addr) []bool {
		out := make([]bool, len(addrs))
		for i, a := range addrs {
			out[i] = probe(a)
		}
		return out
	}
}
