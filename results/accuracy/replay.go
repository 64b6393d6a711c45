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
	rng := rand.New(rand.NewPCG(2014, 1222))
	darkFrom := firstRoundAtOrAfter(KPDarkFrom, KPRound)
	start := darkFrom - kpBefore
	rounds := kpBefore + KPDarkRounds + kpAfter
	at := func(r int) time.Time { return time.Unix(0, (start+int64(r))*int64(KPRound)).UTC() }
	dark := span{kpBefore, kpBefore + KPDarkRounds}

	// The four /24s and their hosts.
	var blocks []netip.Prefix
	var hosts []addrSet
	for i := range 4 {
		a := KPPrefix.Addr().As4()
		a[2] += byte(i)
		blocks = append(blocks, netip.PrefixFrom(netip.AddrFrom4(a), 24))
		var s addrSet
		for _, h := range rng.Perm(254)[:kpHosts] {
			s.add(h + 1)
		}
		hosts = append(hosts, s)
	}
	addr := func(b, h int) netip.Addr {
		a := blocks[b].Addr().As4()
		a[3] = byte(h)
		return netip.AddrFrom4(a)
	}
	type vantage struct {
		name     string
		canaries []netip.Addr
	}
	var vantages []vantage
	var canaries []netip.Addr
	for v := range 3 {
		vp := vantage{name: fmt.Sprintf("vp%d", v+1)}
		for i := range 3 {
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(10*(v+1) + i)})
			vp.canaries = append(vp.canaries, a)
			canaries = append(canaries, a)
		}
		vantages = append(vantages, vp)
	}
	// answers plays one probe of host h of block b from a vantage point in
	// round r.
	answers := func(b, h, r int) bool {
		if r >= int(dark.from) && r < int(dark.to) || !hosts[b].has(h) {
			return false
		}
		p := kpA * (1 - kpVantageLoss)
		if inSpans(kpUnstableRounds, r) {
			p *= 1 - kpUnstable
		}
		return rng.Float64() < p
	}
	outcome := func(ok bool) string {
		if ok {
			return results.OutcomeReply
		}
		return results.OutcomeTimeout
	}

	an := results.Analysis{
		Sets:     []results.TargetSet{{Name: "kp", Prefixes: []netip.Prefix{KPPrefix}, ASN: KPASN, Country: KPCountry}},
		Canaries: canaries,
		Round:    KPRound,
		ControlPlane: func(p netip.Prefix, t time.Time) string {
			if !KPPrefix.Overlaps(p) {
				return results.ControlUnknown
			}
			if inSpans([]span{dark}, int(roundOf(t, KPRound)-start)) {
				return results.ControlWithdrawn
			}
			return results.ControlAnnounced
		},
	}
	// The census: two passes a census, merged over the window, before the
	// replay's first round.
	stats := map[[2]int]results.BlockStat{}
	if census {
		for v, vp := range vantages {
			for b := range blocks {
				var merged []results.BlockStat
				for run := range results.DefaultCensusWindow {
					var recs []results.Record
					for pass := range 2 {
						for h := range 256 {
							ok := hosts[b].has(h) && rng.Float64() < kpA*(1-kpVantageLoss)
							recs = append(recs, results.Record{Time: at(-1 - run), Vantage: vp.name, Round: int64(pass),
								Method: results.MethodICMP, Target: addr(b, h).String(), Outcome: outcome(ok)})
						}
					}
					merged = results.MergeCensus(merged, results.Census(recs, nil), results.DefaultCensusWindow)
				}
				s := merged[0]
				s.Method, s.History = results.MethodICMP, nil
				stats[[2]int{v, b}] = s
				an.Census = append(an.Census, s)
			}
		}
	}

	var recs []results.Record
	beliefs := map[[2]int]results.Belief{}
	for r := range rounds {
		k := start + int64(r)
		for v, vp := range vantages {
			t0 := at(r).Add(time.Duration(v) * 7 * time.Second)
			for i, a := range vp.canaries {
				recs = append(recs, results.Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Vantage: vp.name,
					Round: k, Method: results.MethodICMP, Target: a.String(), Seq: 1,
					Outcome: outcome(rng.Float64() < 1-kpVantageLoss)})
			}
			for b := range blocks {
				tb := t0.Add(time.Second + time.Duration(b)*time.Minute)
				if !census {
					for h := range 256 {
						recs = append(recs, results.Record{Time: tb.Add(time.Duration(h) * time.Millisecond), Vantage: vp.name,
							Round: k, Method: results.MethodICMP, Target: addr(b, h).String(), Outcome: outcome(answers(b, h, r))})
					}
					continue
				}
				s := stats[[2]int{v, b}]
				seq := 0
				res := results.BlockRound{A: s.A, E: s.E, Prior: beliefs[[2]int{v, b}], Rand: rng}.RunBatch(each(func(a netip.Addr) bool {
					seq++
					ok := answers(b, int(a.As4()[3]), r)
					recs = append(recs, results.Record{Time: tb.Add(time.Duration(seq) * 10 * time.Millisecond), Vantage: vp.name,
						Round: k, Method: results.MethodICMP, Target: a.String(), Seq: seq, Outcome: outcome(ok)})
					return ok
				}))
				beliefs[[2]int{v, b}] = res.Belief
			}
		}
	}

	verdicts, _ := an.Analyze(recs)
	res := ReplayResult{DarkFrom: at(int(dark.from)), DarkUntil: at(int(dark.to)), Records: len(recs)}
	for _, v := range verdicts {
		if v.Level != results.LevelVantage && v.Level != results.LevelHost {
			res.Verdicts = append(res.Verdicts, v)
		}
	}
	t := Truth{Round: KPRound, From: at(0), Until: at(rounds)}
	var ents []results.EntityRef
	for _, b := range blocks {
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
