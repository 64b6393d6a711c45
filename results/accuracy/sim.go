package accuracy

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// Config sizes a simulation: the truth model (blocks, their hierarchy and
// what happens to them) and the measurement (vantage points, census, rounds).
// SmallConfig and FullConfig are the two the tests run.
type Config struct {
	// Seed makes the run repeatable: the same Config gives the same records.
	Seed uint64
	// Start is when the first round begins; it is moved to the next round
	// boundary of the Unix-epoch grid.
	Start  time.Time
	Round  time.Duration
	Rounds int
	// Blocks is the number of /24 blocks, shared out evenly among Countries
	// countries (each analysed on its own, which bounds memory).
	Blocks    int
	Countries int
	// Vantages is the number of vantage points; each loses a random share of
	// its probes between LossMin and LossMax and probes Canaries canary
	// addresses of its own every round.
	Vantages         int
	LossMin, LossMax float64
	Canaries         int
	// The last vantage point loses its uplink (every probe, canaries too,
	// times out) for UplinkRounds rounds from round UplinkFrom.
	UplinkFrom, UplinkRounds int
	// TCPBlocks is about how many blocks lie in target sets swept with tcp:80
	// as well as probed with icmp.
	TCPBlocks int
	// Filtered blocks answer tcp:80 only; FilteredOutside of them lie outside
	// the tcp-swept sets, where no method can see them.
	Filtered, FilteredOutside int
	// OutageShare of the blocks have an outage of their own; PrefixOutages
	// whole prefixes and ASOutages whole ASes go dark too. Outages last 1 to
	// MaxOutage rounds.
	OutageShare   float64
	PrefixOutages int
	ASOutages     int
	MaxOutage     int
	// Withdrawals prefixes are withdrawn for a while: half of them during an
	// outage of the prefix, the others while their blocks stay up.
	Withdrawals int
	// The census the run starts with merges CensusRuns censuses of
	// CensusPasses passes each, as `darkwatch census` run that many times
	// keeps them.
	CensusRuns, CensusPasses int
	// Progress, when set, is told how each country went.
	Progress func(format string, args ...any)
}

// SmallConfig is the simulation `go test` runs: 5,000 blocks for a day of
// 11-minute rounds.
func SmallConfig() Config {
	return Config{
		Seed: 2013, Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Round: 11 * time.Minute, Rounds: 131,
		Blocks: 5000, Countries: 10,
		Vantages: 3, LossMin: 0.01, LossMax: 0.05, Canaries: 3,
		UplinkFrom: 60, UplinkRounds: 18,
		TCPBlocks: 80, Filtered: 40, FilteredOutside: 8,
		OutageShare: 0.01, PrefixOutages: 5, ASOutages: 1, MaxOutage: 60,
		Withdrawals: 6,
		CensusRuns:  results.DefaultCensusWindow, CensusPasses: 2,
	}
}

// FullConfig is the simulation `make accuracy` runs: 5,000 blocks for seven
// days of 11-minute rounds (916 rounds). Every tcp-swept or ICMP-filtered
// block costs 256 records a vantage point a round, so it has fewer of them
// than SmallConfig: memory stays well under 4 GiB.
func FullConfig() Config {
	c := SmallConfig()
	c.Rounds = 7 * 24 * 60 / 11
	c.UplinkFrom, c.UplinkRounds = 400, 40
	c.TCPBlocks, c.Filtered, c.FilteredOutside = 20, 12, 2
	c.PrefixOutages, c.ASOutages, c.Withdrawals = 12, 2, 16
	return c
}

// Measurability of a block. A block is measurable when darkwatch judges it
// by design and one round can tell its state:
//
//   - by design: for some method that reaches the block (icmp unless the block
//     filters it; tcp:80 where its target set is swept with it), the census
//     of that method is not sparse from any vantage point (|E| ≥
//     results.SparseMinE and A ≥ results.SparseMinA): Trinocular does not
//     judge sparse blocks, and the analysis reports them uncertain;
//   - one round: with n the distinct addresses of that method's true E a
//     round can probe (min(|E|, results.ProbeBudget) for adaptive ICMP,
//     |E| for a sweep) and a the chance that one of them answers
//     (A·(1 − the worst vantage loss)), (1 − a)^n ≤ SilentUp. Then an up
//     block is almost never silent to a whole round, and the n silences
//     of a down block carry Trinocular from B(U) = 0.99 to below 0.1
//     (which needs (1 − a)^n < 1/891), so the outage is read in its
//     first round. a is taken at most results.ConfirmMaxA, as the
//     analysis weighs silences, so n ≥ 8; with n = 15 it asks for A ≥ 0.46.
//
// Blocks darkwatch could judge only after several rounds, or not at all
// (ICMP-filtered blocks no tcp sweep covers), are unmeasurable: counted, not
// scored. A looser rule (say |E| ≥ 3 with the same bound on silence) would
// count blocks the analysis declines to judge; Result.OneRoundSparse counts
// those.
const SilentUp = results.DownEvidence

// oneRound is the second condition above for n addresses answering at a,
// at most budget of them probed a round (0: all).
func oneRound(n int, a float64, budget int) bool {
	if n == 0 {
		return false
	}
	if budget > 0 {
		n = min(n, budget)
	}
	return math.Pow((1-min(a, results.ConfirmMaxA))/(1-results.ReplyWhenDown), float64(n)) <= SilentUp
}

// answersRound is the chance that n addresses answering at a, at most
// budget of them probed a round (0: all), answer a round.
func answersRound(n int, a float64, budget int) float64 {
	if n == 0 {
		return 0
	}
	if budget > 0 {
		n = min(n, budget)
	}
	return 1 - math.Pow(1-a, float64(n))
}

// Table is one scored view of a run.
type Table struct {
	Title string
	Rows  []Row
}

// Result is what a simulation found.
type Result struct {
	Truth Truth
	// Tables holds the scores: all entities over the whole run, then the
	// rounds of the uplink cut, then the tcp-swept blocks alone; and last
	// the reference (see seen), which says what the records allow.
	Tables []Table
	// Verdicts holds the block, prefix, AS and country verdicts whose data
	// plane is down or partial: the ones the scores count.
	Verdicts []results.Verdict
	// MethodPartials counts the healthy block-rounds of measurable blocks
	// read partial because their methods disagree (the verdict's Methods is
	// set). Row.FalsePartial counts these and the partials of vantage
	// points that disagree: one vantage point's own false down, or its
	// lag in seeing a block come back, which DESIGN.md's merge reads
	// partial.
	MethodPartials int
	// VantageDown counts each vantage point's vantage-down rounds;
	// UplinkVantage is the one whose uplink was cut, for UplinkRounds.
	VantageDown   map[string]int
	UplinkVantage string
	UplinkRounds  int
	// Blocks counts the blocks, Measurable those measurable, and
	// OneRoundSparse those that one round could judge (|E| ≥ 3) but whose
	// census is sparse.
	Blocks, Measurable, OneRoundSparse int
	// Misses describes the outages of measurable blocks that were not read
	// down in every round: the block, the outage's rounds, how many were
	// read down, and what the block and each census were.
	Misses []string
	// CensusEmpty counts the (vantage, block) pairs whose ICMP census found
	// no address: `run` sweeps those blocks.
	CensusEmpty int
	Records     int
	Elapsed     time.Duration
	// PeakRSS is the process's peak resident set during the run in bytes
	// (0 where /proc does not tell).
	PeakRSS int64

	reference []results.Verdict
}

// Print writes every table of the result, with a line of figures on top.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "%d blocks (%d measurable; %d more one round could judge have a sparse census), %d census-empty (vantage, block) pairs, %d records, %s, peak RSS %d MiB\n",
		r.Blocks, r.Measurable, r.OneRoundSparse, r.CensusEmpty, r.Records, r.Elapsed.Round(time.Millisecond), r.PeakRSS>>20)
	fmt.Fprintf(w, "vantage-down rounds: %v (uplink of %s cut for %d rounds); healthy block-rounds read partial because methods disagree: %d\n",
		r.VantageDown, r.UplinkVantage, r.UplinkRounds, r.MethodPartials)
	for _, t := range r.Tables {
		Print(w, t.Title, t.Rows)
	}
	if len(r.Misses) > 0 {
		fmt.Fprintf(w, "outages of measurable blocks not read down in every round: %d\n", len(r.Misses))
		for i, line := range r.Misses {
			if i == 20 {
				fmt.Fprintf(w, "  … %d more\n", len(r.Misses)-i)
				break
			}
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// Simulate builds the truth model of cfg, generates the records `run` would
// write for it from every vantage point, feeds them to results.Analysis.Analyze
// one country at a time, and scores the verdicts.
func Simulate(cfg Config) Result {
	began := time.Now()
	resetPeakRSS()
	m := newModel(cfg)
	res := Result{VantageDown: map[string]int{}, Blocks: len(m.blocks),
		UplinkVantage: m.vantages[len(m.vantages)-1].name, UplinkRounds: cfg.UplinkRounds}
	runs, most := m.prepareCountries(&res)
	buf := make([]results.Record, 0, most)
	for c := range m.countries {
		vs, ref := m.analyzeCountry(c, runs[c], buf)
		res.reference = append(res.reference, ref...)
		runs[c].census, runs[c].icmp, runs[c].tcp = nil, nil, nil
		res.Records += runs[c].records
		res.keep(c, vs)
	}
	// Measurability needs the census, which each country ran.
	m.judgeBlocks(&res)
	m.makeTruth()
	res.Truth = m.truth
	res.Misses = m.misses(res.Verdicts)
	res.MethodPartials = methodPartials(m.truth, res.Verdicts)
	m.scoreTables(&res)
	res.reference = nil
	res.Elapsed = time.Since(began)
	res.PeakRSS = peakRSS()
	return res
}

// prepareCountries runs every country's census and counts its records first,
// so that one buffer the size of the largest country holds each country's
// records in turn: fresh memory is slow to come by, and a buffer that grows
// holds the old one and the new at once. It returns the countries' runs and
// the most records of one, and counts the census-empty pairs in res.
func (m *model) prepareCountries(res *Result) (runs []countryRun, most int) {
	runs = make([]countryRun, len(m.countries))
	for c := range m.countries {
		runs[c] = m.prepare(c)
		most = max(most, runs[c].records)
		for v := range runs[c].icmp {
			for _, s := range runs[c].icmp[v] {
				if len(s.E) == 0 {
					res.CensusEmpty++
				}
			}
		}
	}
	return runs, most
}

// keep takes country c's verdicts into res: the vantage-down rounds (once,
// from the first country, as every country sees the same vantage points),
// and the verdicts whose data plane is down or partial.
func (res *Result) keep(c int, vs []results.Verdict) {
	for _, v := range vs {
		switch {
		case v.Level == results.LevelVantage:
			if c == 0 && v.Verdict == results.VerdictVantageDown {
				res.VantageDown[v.Entity]++
			}
		case v.DataPlane == results.PlaneDown || v.DataPlane == results.PlanePartial:
			res.Verdicts = append(res.Verdicts, results.Verdict{Time: v.Time, Level: v.Level, Entity: v.Entity,
				Verdict: v.Verdict, DataPlane: v.DataPlane, ControlPlane: v.ControlPlane, Methods: v.Methods})
		}
	}
}

// judgeBlocks sets each block's measurability and its weight, the chance
// that it answers a round when up, from its census, and counts the
// measurable blocks and those one round could judge despite a sparse
// census in res.
func (m *model) judgeBlocks(res *Result) {
	for i := range m.blocks {
		b := &m.blocks[i]
		a := b.a * (1 - m.cfg.LossMax)
		b.measurable = !b.filtered && !b.sparseICMP && oneRound(len(b.e), a, results.ProbeBudget) ||
			m.sets[b.set].tcp && !b.sparseTCP && oneRound(b.nTCP, a, 0)
		if !b.filtered {
			b.weight = answersRound(len(b.e), a, results.ProbeBudget)
		}
		if m.sets[b.set].tcp {
			b.weight = max(b.weight, answersRound(b.nTCP, a, 0))
		}
		switch {
		case b.measurable:
			res.Measurable++
		case !b.filtered && len(b.e) >= 3 && oneRound(len(b.e), a, results.ProbeBudget):
			res.OneRoundSparse++
		}
	}
}

// scoreTables scores res's verdicts against the truth into res.Tables: all
// entities over all rounds, the rounds of the uplink cut, the tcp-swept
// blocks, and the reference's verdicts of every block.
func (m *model) scoreTables(res *Result) {
	cfg := m.cfg
	res.Tables = append(res.Tables, Table{"all entities, all rounds", Score(m.truth, res.Verdicts)})
	if cfg.UplinkRounds > 0 {
		cut := m.truth
		cut.From, cut.Until = m.at(cfg.UplinkFrom), m.at(cfg.UplinkFrom+cfg.UplinkRounds)
		res.Tables = append(res.Tables, Table{fmt.Sprintf("rounds %d to %d, %s's uplink cut", cfg.UplinkFrom,
			cfg.UplinkFrom+cfg.UplinkRounds-1, res.UplinkVantage), Score(cut, res.Verdicts)})
	}
	mixed := m.truth
	mixed.Entities = nil
	for i := range m.blocks {
		if m.sets[m.blocks[i].set].tcp {
			mixed.Entities = append(mixed.Entities, results.EntityRef{Level: results.LevelBlock, Entity: m.blocks[i].prefix.String()})
		}
	}
	res.Tables = append(res.Tables, Table{"blocks swept with tcp:80 besides icmp", Score(mixed, res.Verdicts)})
	blocks := m.truth
	blocks.Entities = nil
	for _, e := range m.truth.Entities {
		if e.Level == results.LevelBlock {
			blocks.Entities = append(blocks.Entities, e)
		}
	}
	res.Tables = append(res.Tables, Table{"reference, no analysis: the run's own Trinocular states, merged", Score(blocks, res.reference)})
}

// addrSet is a set of the host numbers (last octets) of a /24.
type addrSet [4]uint64

func (s *addrSet) add(h int)      { s[h>>6] |= 1 << (h & 63) }
func (s *addrSet) has(h int) bool { return s[h>>6]&(1<<(h&63)) != 0 }

// inSpans reports whether round r lies in one of ss.
func inSpans(ss []span, r int) bool {
	for _, s := range ss {
		if int64(r) >= s.from && int64(r) < s.to {
			return true
		}
	}
	return false
}

// mergeSpans sorts ss and merges the spans that overlap or touch.
func mergeSpans(ss []span) []span {
	slices.SortFunc(ss, func(a, b span) int { return int(a.from - b.from) })
	out := ss[:0]
	for _, s := range ss {
		if n := len(out); n > 0 && s.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// simBlock is a /24 of the truth model.
type simBlock struct {
	prefix netip.Prefix
	set    int
	// e lists the host numbers of the ever-responsive addresses; icmp and tcp
	// are those that answer each method (icmp is empty for an ICMP-filtered
	// block), open those of tcp whose port 80 is open.
	e         []int
	icmp, tcp addrSet
	open      addrSet
	nTCP      int
	a         float64
	filtered  bool
	down      []span
	// sparseICMP and sparseTCP say that the census of the method was
	// sparse from some vantage point.
	sparseICMP, sparseTCP bool
	measurable            bool
	// weight is the chance that the block, up, answers a round.
	weight float64
	// census notes what each vantage point's census found, for Result.Misses.
	census []string
	addrs  *[256]string // the addresses as text, made while the block's country runs
}

func (b *simBlock) addr(h int) string {
	if b.addrs == nil {
		b.addrs = new([256]string)
		base := b.prefix.Addr().As4()
		for i := range b.addrs {
			base[3] = byte(i)
			b.addrs[i] = netip.AddrFrom4(base).String()
		}
	}
	return b.addrs[h]
}

// simSet is a configured prefix: a target set of its own, so that its
// methods are its own.
type simSet struct {
	prefix    netip.Prefix
	blocks    []int
	as        int
	tcp       bool
	withdrawn []span
}

type simAS struct {
	asn     uint32
	country int
	sets    []int
}

type simCountry struct {
	code   string
	ases   []int
	blocks []int
}

type simVantage struct {
	name     string
	loss     float64
	canaries []netip.Addr
	uplink   span
}

// model is the truth model of a simulation.
type model struct {
	cfg       Config
	start     int64 // the first round's number on the epoch grid
	blocks    []simBlock
	sets      []simSet
	setOf     map[netip.Prefix]int
	ases      []simAS
	countries []simCountry
	vantages  []simVantage
	canaries  []netip.Addr
	truth     Truth
}

// at is the start of relative round r.
func (m *model) at(r int) time.Time {
	return time.Unix(0, (m.start+int64(r))*int64(m.cfg.Round)).UTC()
}

// blockAddr is the address of the n-th block: the blocks are labels in
// memory only, counted from 1.0.0.0 upward, since no packet is ever sent.
func blockAddr(n int) netip.Prefix {
	v := uint32(1)<<24 + uint32(n)<<8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
}

// newModel draws the truth model of cfg from its seed: the vantage points,
// the countries, ASes, prefixes and blocks, each block's hosts and the
// methods they answer, and the outages and withdrawals.
func newModel(cfg Config) *model {
	m := &model{cfg: cfg, setOf: map[netip.Prefix]int{}}
	m.start = firstRoundAtOrAfter(cfg.Start, cfg.Round)
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	m.addVantages(rng)
	for c := range cfg.Countries {
		m.addCountry(rng, c)
	}
	m.drawHosts(rng)
	for c := range m.countries {
		m.pickMethods(rng, c)
	}
	m.drawAnswers(rng)
	m.outages(rng)
	return m
}

// addVantages adds the vantage points, each with its loss and canaries of
// its own (documentation addresses, labels too); the last one's uplink is
// cut for the configured rounds.
func (m *model) addVantages(rng *rand.Rand) {
	cfg := m.cfg
	for v := range cfg.Vantages {
		vp := simVantage{name: fmt.Sprintf("vp%d", v+1), loss: cfg.LossMin + rng.Float64()*(cfg.LossMax-cfg.LossMin)}
		for i := range cfg.Canaries {
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(10*(v+1) + i)})
			vp.canaries = append(vp.canaries, a)
			m.canaries = append(m.canaries, a)
		}
		m.vantages = append(m.vantages, vp)
	}
	if cfg.UplinkRounds > 0 {
		m.vantages[len(m.vantages)-1].uplink = span{int64(cfg.UplinkFrom), int64(cfg.UplinkFrom + cfg.UplinkRounds)}
	}
}

// setSizes are the sizes in blocks of the prefixes a model draws, with
// setSizeWeights their chances.
var (
	setSizes       = []int{1, 2, 4, 8, 16}
	setSizeWeights = []float64{0.35, 0.25, 0.2, 0.12, 0.08}
)

// addCountry adds country c with its share of the blocks, in ASes of
// prefixes of 1 to 16 aligned blocks.
func (m *model) addCountry(rng *rand.Rand, c int) {
	cfg := m.cfg
	country := simCountry{code: "X" + string(rune('A'+c%26))}
	if c >= 26 {
		country.code = fmt.Sprintf("X%d", c)
	}
	left := share(cfg.Blocks, cfg.Countries, c)
	for left > 0 {
		left -= m.addAS(rng, c, &country, left)
	}
	m.countries = append(m.countries, country)
}

// addAS adds an AS of country c of 2 to 8 prefixes, holding at most left
// blocks in all, and returns how many it holds. Blocks are numbered in
// order, each prefix's aligned on its size.
func (m *model) addAS(rng *rand.Rand, c int, country *simCountry, left int) int {
	as := simAS{asn: uint32(64512 + len(m.ases)), country: c}
	placed := 0
	for range 2 + rng.IntN(7) {
		if left == 0 {
			break
		}
		cursor := len(m.blocks)
		size := setSizes[pick(rng, setSizeWeights)]
		for size > left || cursor%size != 0 {
			size /= 2
		}
		s := simSet{prefix: netip.PrefixFrom(blockAddr(cursor).Addr(), 24-bitsOf(size)), as: len(m.ases)}
		for range size {
			s.blocks = append(s.blocks, len(m.blocks))
			country.blocks = append(country.blocks, len(m.blocks))
			m.blocks = append(m.blocks, simBlock{prefix: blockAddr(len(m.blocks)), set: len(m.sets)})
		}
		left -= size
		placed += size
		m.setOf[s.prefix] = len(m.sets)
		as.sets = append(as.sets, len(m.sets))
		m.sets = append(m.sets, s)
	}
	country.ases = append(country.ases, len(m.ases))
	m.ases = append(m.ases, as)
	return placed
}

// drawHosts draws each block's ever-responsive hosts and its availability:
// |E| log-uniform in [1, 250], A uniform in [0.05, 1].
func (m *model) drawHosts(rng *rand.Rand) {
	for i := range m.blocks {
		b := &m.blocks[i]
		n := int(math.Round(math.Exp(rng.Float64() * math.Log(250))))
		for _, h := range rng.Perm(254)[:n] {
			b.e = append(b.e, h+1)
		}
		slices.Sort(b.e)
		b.a = 0.05 + 0.95*rng.Float64()
	}
}

// pickMethods picks country c's prefixes swept with tcp:80 too, and its
// ICMP-filtered blocks, inside those prefixes and outside.
func (m *model) pickMethods(rng *rand.Rand, c int) {
	cfg := m.cfg
	cb := m.countries[c].blocks
	var sets []int
	for _, as := range m.countries[c].ases {
		sets = append(sets, m.ases[as].sets...)
	}
	need := share(cfg.TCPBlocks, cfg.Countries, c)
	var tcpBlocks, other []int
	for _, s := range shuffled(rng, sets) {
		if n := len(m.sets[s].blocks); need > 0 && n <= max(need, 2) {
			m.sets[s].tcp = true
			need -= n
			tcpBlocks = append(tcpBlocks, m.sets[s].blocks...)
		}
	}
	for _, b := range cb {
		if !m.sets[m.blocks[b].set].tcp {
			other = append(other, b)
		}
	}
	outside := share(cfg.FilteredOutside, cfg.Countries, c)
	inside := share(cfg.Filtered-cfg.FilteredOutside, cfg.Countries, c)
	for _, b := range shuffled(rng, tcpBlocks)[:min(inside, len(tcpBlocks))] {
		m.blocks[b].filtered = true
	}
	for _, b := range shuffled(rng, other)[:min(outside, len(other))] {
		m.blocks[b].filtered = true
	}
}

// drawAnswers draws which hosts of each block answer icmp, tcp:80, and
// which have port 80 open.
func (m *model) drawAnswers(rng *rand.Rand) {
	for i := range m.blocks {
		b := &m.blocks[i]
		tcp := m.sets[b.set].tcp
		for _, h := range b.e {
			if !b.filtered {
				b.icmp.add(h)
			}
			// Hosts of a tcp-swept block answer tcp:80 unless a firewall
			// drops it (30 %); a filtered block answers tcp:80 only.
			if tcp && (b.filtered || rng.Float64() < 0.7) {
				b.tcp.add(h)
				b.nTCP++
				if rng.Float64() < 0.3 {
					b.open.add(h)
				}
			}
		}
	}
}

// outages places the outages and withdrawals of the truth model.
func (m *model) outages(rng *rand.Rand) {
	cfg := m.cfg
	const warmup = 6 // rounds before the first outage
	place := func(i int) span {
		d := 1 + rng.IntN(cfg.MaxOutage)
		d = min(d, cfg.Rounds-warmup)
		from := warmup + rng.IntN(cfg.Rounds-warmup-d+1)
		if i%8 == 0 && cfg.UplinkRounds > 0 {
			// An eighth of them start while a vantage point is cut off.
			from = min(cfg.UplinkFrom+rng.IntN(cfg.UplinkRounds), cfg.Rounds-d)
		}
		return span{int64(from), int64(from + d)}
	}
	nb := int(math.Round(cfg.OutageShare * float64(len(m.blocks))))
	for i, b := range rng.Perm(len(m.blocks))[:nb] {
		m.blocks[b].down = append(m.blocks[b].down, place(i))
	}
	// Whole prefixes and ASes that go dark are big enough to hold measurable
	// blocks (about a third of all blocks are).
	var multi []int
	for s := range m.sets {
		if len(m.sets[s].blocks) >= 4 {
			multi = append(multi, s)
		}
	}
	multi = shuffled(rng, multi)
	var outaged []int
	for i, s := range multi[:min(cfg.PrefixOutages, len(multi))] {
		sp := place(i)
		for _, b := range m.sets[s].blocks {
			m.blocks[b].down = append(m.blocks[b].down, sp)
		}
		outaged = append(outaged, s)
		if i < cfg.Withdrawals/2 {
			m.sets[s].withdrawn = append(m.sets[s].withdrawn, sp)
		}
	}
	var big []int
	for as := range m.ases {
		n := 0
		for _, s := range m.ases[as].sets {
			n += len(m.sets[s].blocks)
		}
		if n >= 8 {
			big = append(big, as)
		}
	}
	for i, as := range shuffled(rng, big)[:min(cfg.ASOutages, len(big))] {
		sp := place(i + 1)
		for _, s := range m.ases[as].sets {
			for _, b := range m.sets[s].blocks {
				m.blocks[b].down = append(m.blocks[b].down, sp)
			}
		}
	}
	// Withdrawals of prefixes whose blocks stay up (reachable-unrouted).
	left := cfg.Withdrawals - min(cfg.Withdrawals/2, len(outaged))
	for _, s := range rng.Perm(len(m.sets)) {
		if left == 0 {
			break
		}
		if slices.Contains(outaged, s) {
			continue
		}
		m.sets[s].withdrawn = append(m.sets[s].withdrawn, place(1))
		left--
	}
	for i := range m.blocks {
		m.blocks[i].down = mergeSpans(m.blocks[i].down)
	}
}

// makeTruth writes the truth: every block, prefix, AS and country; the
// blocks' outages; and the roll-up entities' outages, the rounds in which
// fewer than half of their usual blocks are up (IODA's critical level: the
// roll-up compares the blocks seen up with the median of earlier rounds, so
// a block counts when, up, it answers more rounds than not: weight ≥ 0.5).
// A roll-up entity with no such block is unmeasurable, and so is one with
// fewer than results.MinRollupDrop of them unless all are measurable: its
// drop is too small to tell from noise unless a block is proven dark.
func (m *model) makeTruth() {
	t := Truth{Round: m.cfg.Round, From: m.at(0), Until: m.at(m.cfg.Rounds), Unmeasurable: map[results.EntityRef]bool{}}
	for i := range m.blocks {
		b := &m.blocks[i]
		ref := results.EntityRef{Level: results.LevelBlock, Entity: b.prefix.String()}
		t.Entities = append(t.Entities, ref)
		if !b.measurable {
			t.Unmeasurable[ref] = true
		}
		for _, s := range b.down {
			t.Outages = append(t.Outages, Outage{ref.Level, ref.Entity, m.at(int(s.from)), m.at(int(s.to))})
		}
	}
	rollup := func(level, entity string, blocks []int) {
		ref := results.EntityRef{Level: level, Entity: entity}
		t.Entities = append(t.Entities, ref)
		dark := make([]int, m.cfg.Rounds)
		n, measurable := 0, true
		for _, b := range blocks {
			if m.blocks[b].weight < 0.5 {
				continue
			}
			n++
			measurable = measurable && m.blocks[b].measurable
			for _, s := range m.blocks[b].down {
				for r := s.from; r < s.to; r++ {
					dark[r]++
				}
			}
		}
		if n == 0 || n < results.MinRollupDrop && !measurable {
			t.Unmeasurable[ref] = true
			return
		}
		from := -1
		for r := 0; r <= m.cfg.Rounds; r++ {
			out := r < m.cfg.Rounds && 2*(n-dark[r]) < n
			switch {
			case out && from < 0:
				from = r
			case !out && from >= 0:
				t.Outages = append(t.Outages, Outage{level, entity, m.at(from), m.at(r)})
				from = -1
			}
		}
	}
	for _, s := range m.sets {
		rollup(results.LevelPrefix, s.prefix.String(), s.blocks)
	}
	for _, as := range m.ases {
		var blocks []int
		for _, s := range as.sets {
			blocks = append(blocks, m.sets[s].blocks...)
		}
		rollup(results.LevelASN, results.ASEntity(as.asn), blocks)
	}
	for _, c := range m.countries {
		rollup(results.LevelCountry, c.code, c.blocks)
	}
	m.truth = t
}

// controlPlane is the Analysis's ControlPlane: a configured prefix (or a
// block or address inside one) is withdrawn in the rounds of its
// withdrawals and announced in the others; anything else is unknown.
func (m *model) controlPlane(p netip.Prefix, t time.Time) string {
	for bits := min(p.Bits(), 24); bits >= 20; bits-- {
		q := netip.PrefixFrom(p.Addr(), bits).Masked()
		if s, ok := m.setOf[q]; ok {
			if inSpans(m.sets[s].withdrawn, int(roundOf(t, m.cfg.Round)-m.start)) {
				return results.ControlWithdrawn
			}
			return results.ControlAnnounced
		}
	}
	return results.ControlUnknown
}

// census runs the censuses of country c's blocks from every vantage point:
// CensusRuns censuses of CensusPasses passes, merged as the store merges
// them, by results.Census and results.MergeCensus; tcp:80 for the tcp-swept
// blocks on its own, as a census of one method. A census probes every
// address of a block, but an address that never answers adds nothing to
// E or A, so only the ever-responsive ones are simulated. It returns the
// stats for Analysis.Census and, per vantage point and block of the
// country, the ICMP stat `run` probes from and the tcp:80 one.
func (m *model) census(c int) (all []results.BlockStat, icmp, tcp [][]results.BlockStat) {
	cfg := m.cfg
	blocks := m.countries[c].blocks
	icmp = make([][]results.BlockStat, len(m.vantages))
	tcp = make([][]results.BlockStat, len(m.vantages))
	for v := range m.vantages {
		vp := &m.vantages[v]
		icmp[v] = make([]results.BlockStat, len(blocks))
		tcp[v] = make([]results.BlockStat, len(blocks))
		for j, bi := range blocks {
			b := &m.blocks[bi]
			rng := rand.New(rand.NewPCG(cfg.Seed^0xc3a5c85c97cb3127, uint64(v)<<32|uint64(bi)))
			for _, method := range []string{results.MethodICMP, results.MethodTCP} {
				if method == results.MethodTCP && !m.sets[b.set].tcp {
					continue
				}
				var merged []results.BlockStat
				for run := range cfg.CensusRuns {
					var recs []results.Record
					for pass := range cfg.CensusPasses {
						for _, h := range b.e {
							ok := false
							if method == results.MethodICMP {
								ok = b.icmp.has(h)
							} else {
								ok = b.tcp.has(h)
							}
							ok = ok && rng.Float64() < b.a*(1-vp.loss)
							rec := results.Record{Time: m.at(-1 - run), Vantage: vp.name, Round: int64(pass),
								Method: method, Target: b.addr(h), Outcome: results.OutcomeTimeout}
							if ok {
								rec.Outcome = results.OutcomeReply
								if method == results.MethodTCP {
									rec.Outcome = results.OutcomeClosed
								}
							}
							if method == results.MethodTCP {
								rec.Port = 80
							}
							recs = append(recs, rec)
						}
					}
					merged = results.MergeCensus(merged, results.Census(recs, nil), results.DefaultCensusWindow)
				}
				if len(merged) == 0 {
					// A block of no ever-responsive address (a filtered
					// one for icmp): the census saw it and found nothing.
					merged = []results.BlockStat{{Vantage: vp.name, Block: b.prefix, Sparse: true, History: []float64{0}}}
				}
				s := merged[0]
				s.History = nil
				b.census = append(b.census, fmt.Sprintf("%s %s |E|=%d A=%.2f", vp.name, method, len(s.E), s.A))
				if method == results.MethodICMP {
					s.Method = results.MethodICMP
					icmp[v][j] = s
					b.sparseICMP = b.sparseICMP || s.Sparse
				} else {
					s.Method = "tcp:80"
					tcp[v][j] = s
					b.sparseTCP = b.sparseTCP || s.Sparse
				}
				all = append(all, s)
			}
		}
	}
	return all, icmp, tcp
}

// countryRun is what a country's run needs before its records are made: its
// census and how many records it makes.
type countryRun struct {
	census    []results.BlockStat
	icmp, tcp [][]results.BlockStat
	records   int
	took      time.Duration
}

// prepare runs country c's census and counts its records.
func (m *model) prepare(c int) countryRun {
	t0 := time.Now()
	var cr countryRun
	cr.census, cr.icmp, cr.tcp = m.census(c)
	count := recordSink{}
	m.records(c, &cr, &count)
	cr.records, cr.took = count.n, time.Since(t0)
	return cr
}

// analyzeCountry generates the records of country c's blocks and of every
// vantage point's canaries for the whole run into buf (which must have room
// for them all), analyses them, and returns the verdicts.
func (m *model) analyzeCountry(c int, cr countryRun, buf []results.Record) (verdicts, reference []results.Verdict) {
	t0 := time.Now()
	fill := recordSink{fill: true, recs: buf[:0], seen: newSeen(len(m.vantages), len(m.countries[c].blocks), m.cfg.Rounds)}
	m.records(c, &cr, &fill)
	recs := fill.recs
	var sets []results.TargetSet
	for _, as := range m.countries[c].ases {
		for _, s := range m.ases[as].sets {
			sets = append(sets, results.TargetSet{Name: m.sets[s].prefix.String(), Prefixes: []netip.Prefix{m.sets[s].prefix},
				ASN: m.ases[as].asn, Country: m.countries[c].code})
		}
	}
	an := results.Analysis{Sets: sets, Canaries: m.canaries, Census: cr.census, Round: m.cfg.Round, ControlPlane: m.controlPlane}
	t1 := time.Now()
	verdicts, _ = an.Analyze(recs)
	if m.cfg.Progress != nil {
		m.cfg.Progress("country %s: %d blocks, %d records; census and count %v, records %v, analysis %v",
			m.countries[c].code, len(m.countries[c].blocks), len(recs), cr.took.Round(time.Millisecond),
			t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	}
	for _, b := range m.countries[c].blocks {
		m.blocks[b].addrs = nil
	}
	return verdicts, fill.seen.verdicts(m, c)
}

// recordSink takes the records of a country: it counts them, or, with fill
// set, appends them to recs.
type recordSink struct {
	fill bool
	n    int
	recs []results.Record
	seen *seen // when filling
}

func (s *recordSink) add(r *results.Record) {
	s.n++
	if s.fill {
		s.recs = append(s.recs, *r)
	}
}

// records plays the run over country c's blocks and gives sink every record
// `run` writes, round by round: per vantage point, its canaries (icmp), then
// per block adaptive ICMP probing (results.BlockRound, the belief carried
// from round to round) where the census found addresses, else an ICMP sweep
// of the whole block, and a tcp:80 sweep of the whole block where its target
// set has that method. It is deterministic, so it can be played twice: once
// to count (sweeps, of a known size and with random draws of their own, are
// then only counted), once to fill.
func (m *model) records(c int, cr *countryRun, sink *recordSink) {
	p := m.newRecordPlayer(c, cr, sink)
	for r := range m.cfg.Rounds {
		for v := range m.vantages {
			p.playVantage(v, r)
		}
	}
}

// probeState is one vantage point's probing of one block, carried from
// round to round.
type probeState struct {
	rng, sweep *rand.Rand // adaptive probing, sweeps
	belief     results.Belief
	tcp        results.Belief // the reference's, of the tcp:80 sweeps
}

// recordPlayer plays the run over one country's blocks for records.
type recordPlayer struct {
	m      *model
	cr     *countryRun
	sink   *recordSink
	blocks []int
	// states holds each vantage point's probing of each block; vrng each
	// vantage point's draws for its canaries.
	states [][]probeState
	vrng   []*rand.Rand
	// spread is the time between the starts of two blocks' probing.
	spread  time.Duration
	rec     results.Record
	replied [256]bool
}

// newRecordPlayer sets up the play of country c: the random sources of each
// vantage point and of each of its blocks, seeded from the configuration.
func (m *model) newRecordPlayer(c int, cr *countryRun, sink *recordSink) *recordPlayer {
	cfg := m.cfg
	blocks := m.countries[c].blocks
	p := &recordPlayer{m: m, cr: cr, sink: sink, blocks: blocks,
		states: make([][]probeState, len(m.vantages)), vrng: make([]*rand.Rand, len(m.vantages)),
		spread: cfg.Round * 3 / 4 / time.Duration(max(len(blocks), 1))}
	for v := range m.vantages {
		p.vrng[v] = rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(v)<<32|uint64(c)))
		p.states[v] = make([]probeState, len(blocks))
		for j, bi := range blocks {
			p.states[v][j].rng = rand.New(rand.NewPCG(cfg.Seed, uint64(v)<<32|uint64(bi)))
			p.states[v][j].sweep = rand.New(rand.NewPCG(cfg.Seed^0x2545f4914f6cdd1d, uint64(v)<<32|uint64(bi)))
		}
	}
	return p
}

// blockTurn is one vantage point's probing of one block in one round.
type blockTurn struct {
	v, j, r int
	k       int64 // the round's number on the epoch grid
	vp      *simVantage
	b       *simBlock
	st      *probeState
	// down says the block cannot answer the vantage point: it is down, or
	// the vantage point's uplink is cut.
	down bool
	tb   time.Time // when the block's probing starts
}

// answers plays one probe of host h, drawing from rng: it answers when the
// block can, h answers the method (set), and the probe is not lost.
func (t *blockTurn) answers(rng *rand.Rand, set *addrSet, h int) bool {
	return !t.down && set.has(h) && rng.Float64() < t.b.a*(1-t.vp.loss)
}

// playVantage plays vantage point v's round r: its canaries, then each of
// the country's blocks.
func (p *recordPlayer) playVantage(v, r int) {
	m := p.m
	k := m.start + int64(r)
	vp := &m.vantages[v]
	cut := inSpans([]span{vp.uplink}, r)
	t0 := m.at(r).Add(time.Duration(v) * 7 * time.Second)
	for i, a := range vp.canaries {
		p.rec = results.Record{Time: t0.Add(time.Duration(i) * time.Millisecond), Vantage: vp.name, Round: k,
			Method: results.MethodICMP, Target: a.String(), Seq: 1, Outcome: results.OutcomeTimeout}
		if !cut && p.vrng[v].Float64() < 1-vp.loss {
			p.rec.Outcome = results.OutcomeReply
		}
		p.sink.add(&p.rec)
		p.sink.seen.canary(v, r, p.rec.Answered())
	}
	for j, bi := range p.blocks {
		b := &m.blocks[bi]
		t := blockTurn{v: v, j: j, r: r, k: k, vp: vp, b: b, st: &p.states[v][j],
			down: cut || inSpans(b.down, r), tb: t0.Add(time.Second + time.Duration(j)*p.spread)}
		switch s := &p.cr.icmp[v][j]; {
		case len(s.E) > 0:
			p.probeICMP(&t, s)
		case !p.sink.fill:
			p.sink.n += 256
		default:
			p.sweepICMP(&t)
		}
		if !m.sets[b.set].tcp {
			continue
		}
		if !p.sink.fill {
			p.sink.n += 256
			continue
		}
		p.sweepTCP(&t)
	}
}

// probeICMP probes the block adaptively with ICMP from its census s
// (results.BlockRound), carrying the belief to the next round.
func (p *recordPlayer) probeICMP(t *blockTurn, s *results.BlockStat) {
	seq := 0
	res := results.BlockRound{A: s.A, E: s.E, Prior: t.st.belief, Rand: t.st.rng}.RunBatch(each(func(addr netip.Addr) bool {
		seq++
		h := int(addr.As4()[3])
		p.rec = results.Record{Time: t.tb.Add(time.Duration(seq) * 10 * time.Millisecond), Vantage: t.vp.name,
			Round: t.k, Method: results.MethodICMP, Target: t.b.addr(h), Seq: seq, Outcome: results.OutcomeTimeout}
		ok := t.answers(t.st.rng, &t.b.icmp, h)
		if ok {
			p.rec.Outcome = results.OutcomeReply
		}
		p.sink.add(&p.rec)
		return ok
	}))
	t.st.belief = res.Belief
	p.sink.seen.saw(t.v, t.j, t.r, res.State)
}

// sweepICMP sweeps every address of a block the census found nothing in
// with ICMP.
func (p *recordPlayer) sweepICMP(t *blockTurn) {
	for h := range 256 {
		p.rec = results.Record{Time: t.tb.Add(time.Duration(h) * time.Millisecond), Vantage: t.vp.name, Round: t.k,
			Method: results.MethodICMP, Target: t.b.addr(h), Outcome: results.OutcomeTimeout}
		if t.answers(t.st.sweep, &t.b.icmp, h) {
			p.rec.Outcome = results.OutcomeReply
			// A block without a census is up when
			// anything answers, else uncertain.
			p.sink.seen.saw(t.v, t.j, t.r, results.PlaneUp)
		}
		p.sink.add(&p.rec)
	}
}

// sweepTCP sweeps every address of the block with tcp:80 as `run` does (no
// sequence number, port 80), and reads the sweep for the reference.
func (p *recordPlayer) sweepTCP(t *blockTurn) {
	for h := range 256 {
		p.rec = results.Record{Time: t.tb.Add(time.Duration(256+h) * time.Millisecond), Vantage: t.vp.name, Round: t.k,
			Method: results.MethodTCP, Target: t.b.addr(h), Port: 80, Outcome: results.OutcomeTimeout}
		p.replied[h] = t.answers(t.st.sweep, &t.b.tcp, h)
		if p.replied[h] {
			p.rec.Outcome = results.OutcomeClosed
			if t.b.open.has(h) {
				p.rec.Outcome = results.OutcomeOpen
			}
		}
		p.sink.add(&p.rec)
	}
	t.st.tcp = sweepBelief(t.st.tcp, &p.cr.tcp[t.v][t.j], &p.replied)
	p.sink.seen.saw(t.v, t.j, t.r, t.st.tcp.State())
}

// misses describes the outages of measurable blocks that verdicts do not
// read down in every round (see Result.Misses).
func (m *model) misses(verdicts []results.Verdict) []string {
	down := map[string]map[int64]bool{}
	for _, v := range verdicts {
		if v.Level == results.LevelBlock && v.DataPlane == results.PlaneDown {
			if down[v.Entity] == nil {
				down[v.Entity] = map[int64]bool{}
			}
			down[v.Entity][roundOf(v.Time, m.cfg.Round)-m.start] = true
		}
	}
	var out []string
	for i := range m.blocks {
		b := &m.blocks[i]
		if !b.measurable {
			continue
		}
		for _, s := range b.down {
			n := 0
			var missed []int64
			for r := s.from; r < s.to; r++ {
				if down[b.prefix.String()][r] {
					n++
				} else {
					missed = append(missed, r)
				}
			}
			if n < int(s.to-s.from) {
				out = append(out, fmt.Sprintf("%s rounds [%d, %d): %d read down, missed %v; |E|=%d A=%.2f tcp=%d filtered=%v swept=%v; %s",
					b.prefix, s.from, s.to, n, missed, len(b.e), b.a, b.nTCP, b.filtered, m.sets[b.set].tcp, strings.Join(b.census, "; ")))
			}
		}
	}
	return out
}

// pick draws an index with the given weights (summing to 1).
func pick(rng *rand.Rand, weights []float64) int {
	x := rng.Float64()
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// bitsOf is log2 of a power of two.
func bitsOf(n int) int {
	b := 0
	for n > 1 {
		n /= 2
		b++
	}
	return b
}

// share is country c's part of total shared out among n.
func share(total, n, c int) int {
	s := total / n
	if c < total%n {
		s++
	}
	return s
}

func shuffled(rng *rand.Rand, xs []int) []int {
	out := slices.Clone(xs)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// resetPeakRSS resets the kernel's peak resident set of the process
// (Linux), so that peakRSS tells the peak from now on.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is the process's peak resident set in bytes (VmHWM), 0 when unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// seen is the reference: what the run itself saw, before any analysis. Per
// vantage point and round it keeps how many canaries answered; per vantage
// point, block and round, whether a method read the block up or down:
// adaptive ICMP by BlockRound's state, a sweep by sweepBelief, an ICMP sweep
// of a block the census found nothing in as up when anything answered.
// Merged as DESIGN.md says (vantage points where most canaries answered;
// one up → up, partial when another read down; at least
// results.DefaultQuorum down → down), the reference shows what the records
// allow: the targets are within reach of an analysis that reads them right.
type seen struct {
	rounds            int
	canaryN, canaryOK [][]uint8 // [vantage][round]
	views             [][]uint8 // [vantage][block*rounds+round]: seenUp|seenDown
}

const (
	seenUp = 1 << iota
	seenDown
)

func newSeen(vantages, blocks, rounds int) *seen {
	s := &seen{rounds: rounds}
	for range vantages {
		s.canaryN = append(s.canaryN, make([]uint8, rounds))
		s.canaryOK = append(s.canaryOK, make([]uint8, rounds))
		s.views = append(s.views, make([]uint8, blocks*rounds))
	}
	return s
}

// canary notes one canary probe of vantage point v in round r.
func (s *seen) canary(v, r int, answered bool) {
	if s == nil {
		return
	}
	s.canaryN[v][r]++
	if answered {
		s.canaryOK[v][r]++
	}
}

// saw notes that vantage point v read block j state in round r.
func (s *seen) saw(v, j, r int, state string) {
	if s == nil {
		return
	}
	switch state {
	case results.PlaneUp:
		s.views[v][j*s.rounds+r] |= seenUp
	case results.PlaneDown:
		s.views[v][j*s.rounds+r] |= seenDown
	}
}

// verdicts merges what was seen of country c's blocks into block verdicts,
// the down and partial ones only.
func (s *seen) verdicts(m *model, c int) []results.Verdict {
	var out []results.Verdict
	for j, bi := range m.countries[c].blocks {
		for r := range s.rounds {
			up, down := 0, 0
			for v := range s.views {
				if 2*int(s.canaryOK[v][r]) <= int(s.canaryN[v][r]) {
					continue // vantage-down: a gap
				}
				switch x := s.views[v][j*s.rounds+r]; {
				case x&seenUp != 0:
					up++
				case x&seenDown != 0:
					down++
				}
			}
			plane := ""
			switch {
			case up > 0 && down > 0:
				plane = results.PlanePartial
			case up == 0 && down >= results.DefaultQuorum:
				plane = results.PlaneDown
			}
			if plane != "" {
				out = append(out, results.Verdict{Time: m.at(r), Level: results.LevelBlock,
					Entity: m.blocks[bi].prefix.String(), DataPlane: plane})
			}
		}
	}
	return out
}

// sweepBelief is the reference's reading of one sweep of every address of a
// block whose census for the method is s: Trinocular's update for each
// address of E(b), and for no other, from the belief the last round ended
// with, capped once at the end of the round (a sweep does not stop when it is
// sure, so capping probe by probe would let its last probes decide alone).
// Without a census the block is up when anything answered, else uncertain.
func sweepBelief(prior results.Belief, s *results.BlockStat, replied *[256]bool) results.Belief {
	if len(s.E) == 0 {
		for _, ok := range replied {
			if ok {
				return results.Belief{BU: results.BeliefMax}
			}
		}
		return results.Belief{BU: 0.5}
	}
	a := min(max(s.A, results.BeliefMin), results.BeliefMax)
	u := prior.Value()
	odds := math.Log(u / (1 - u))
	for _, addr := range s.E {
		if replied[addr.As4()[3]] {
			odds += math.Log(a / results.ReplyWhenDown)
		} else {
			odds += math.Log((1 - a) / (1 - results.ReplyWhenDown))
		}
	}
	return results.Belief{BU: min(max(1/(1+math.Exp(-odds)), results.BeliefMin), results.BeliefMax)}
}

// methodPartials counts the healthy block-rounds of measurable blocks in t
// that verdicts read partial with a method disagreement (Methods set).
func methodPartials(t Truth, verdicts []results.Verdict) int {
	outages := map[string][]Outage{}
	for _, o := range t.Outages {
		if o.Level == results.LevelBlock {
			outages[o.Entity] = append(outages[o.Entity], o)
		}
	}
	seen := map[results.EntityRef]map[int64]bool{}
	n := 0
	for _, v := range verdicts {
		ref := results.EntityRef{Level: v.Level, Entity: v.Entity}
		if v.Level != results.LevelBlock || v.DataPlane != results.PlanePartial || len(v.Methods) == 0 ||
			t.Unmeasurable[ref] || v.Time.Before(t.From) || !v.Time.Before(t.Until) {
			continue
		}
		k := roundOf(v.Time, t.Round)
		bin := time.Unix(0, k*int64(t.Round))
		out := false
		for _, o := range outages[v.Entity] {
			out = out || !bin.Before(o.Start) && bin.Before(o.End)
		}
		if out || seen[ref][k] {
			continue
		}
		if seen[ref] == nil {
			seen[ref] = map[int64]bool{}
		}
		seen[ref][k] = true
		n++
	}
	return n
}
