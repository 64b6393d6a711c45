package results

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Stream is the analysis fed one record at a time, oldest first. It keeps,
// per vantage point, entity and method, the belief and rolling census that
// carry from round to round, and the records of the few rounds still open;
// it emits each round's verdicts once no record of that round can still
// come, and holds no verdict. A window of any length is analysed in memory
// that grows with the entities, not with the records: Analyze and
// AnalyzeWindow are built on it.
//
// Records may come out of order by less than StreamLag rounds (a store
// merges its chunks into time order; nodes' clocks differ by seconds).
type Stream struct {
	an   Analysis
	emit func(Verdict) error
	err  error

	canary, host map[netip.Addr]bool
	census       censusIndex
	series       map[followed]*entityViews // the entities not in pages
	all          []*entityViews            // the entities by number
	names        []entityKey               // their levels and names, by number
	rank         []int32                   // their ranks by names (ranks)
	pages        map[uint32]*blockPage     // IPv4 /24 blocks' numbers by /16
	page         *blockPage                // the page asked for last, pageKey's
	pageKey      uint32
	last         *entityViews // the entity asked for last (views)
	open         []*openRound // by first record's time: the order they close in
	closed       int          // open[:closed] are closed
	health       Health
	reported     map[VantageRound]bool // health already emitted
	bins         map[int64]*obsBin     // by bin start, Unix nanoseconds
	prev         *obsBin               // the last bin closed
	spare        *obsBin               // the one closed before, for a new bin
	lastBin      *obsBin               // the bin asked for last (bin), lastBinStart's
	lastBinStart int64
	prevBin      int64
	merging      []Observation // the observations of the bin merged
	merged       []Verdict     // their verdicts, which only emit's copies outlive
	ids          []int32       // their entities' numbers
	strs         []string      // vantage points and methods by number
	strIndex     map[string]int32
	h            *Hierarchy
	// The roll-up counts (rollupCounts): blocks by entity number, the
	// entities they roll up into, numbered.
	blocks      []streamBlock
	entities    []streamEntity
	entityIndex map[EntityRef]int32
	touched     []int32
	countSeq    int64
	freeRounds  []*openRound // closed rounds, for new ones
	events      map[entityKey]*eventSeries
	traces      []Record
	now         time.Time
}

// StreamLag is how many rounds after a round's first record a Stream waits
// for more of its records before it judges the round; its verdicts come one
// round later still, once every vantage point's round is judged.
const StreamLag = 3

// streamKey names one vantage point's view of one entity: a block, or a
// known host (a single-address prefix).
type streamKey struct {
	vantage string
	host    bool
	prefix  netip.Prefix
}

// followed names an entity a Stream follows: a block, or a known host
// (a single-address prefix).
type followed struct {
	host   bool
	prefix netip.Prefix
}

// entityViews are the vantage points' series of one entity. A block's
// probes from every vantage point come together, so the entity asked for
// last is often the one asked for next.
type entityViews struct {
	followed
	id            int32 // the entity's number
	level, entity string
	series        []*entitySeries
}

// entitySeries is one vantage point's series of rounds of one entity, one
// blockSeries per method.
type entitySeries struct {
	vantage   string
	id        int32 // the entity's number
	vantageID int32 // the vantage point's number (Stream.strs)
	methods   []*methodSeries
	open      []openRef
	// firstUp lists, per method, the round in which it first saw the
	// entity up (see closeRound).
	firstUp []methodRound
}

type methodSeries struct {
	method   string
	methodID int32 // the method's number (Stream.strs)
	blockSeries
}

type methodRound struct {
	method string
	round  int64
}

// openRef is an open round of a series, by its round number.
type openRef struct {
	round int64
	o     *openRound
}

// openRound is one round of an entity series whose records are still
// coming; first is its first record's time, in Unix nanoseconds.
type openRound struct {
	s       *entitySeries
	round   int64
	first   int64
	methods []openMethod
	one     [1]openMethod // methods' memory while a round has one method
}

// openMethod is an open round's probes by one method; first is the first
// one's time, in Unix nanoseconds.
type openMethod struct {
	m      *methodSeries
	first  int64
	tally  roundTally // the probes, when m's E(b) is fixed
	probes *[]probe   // the probes, when m learns its E(b)
}

// probe is what a round's judgement needs of a record.
type probe struct {
	addr     netip.Addr
	answered bool
}

// NewStream starts an analysis that gives every verdict it makes to emit, in
// round order (within a round: blocks and hosts, then roll-ups, then vantage
// points). An error from emit stops the stream: Add and Close return it.
func (an Analysis) NewStream(emit func(Verdict) error) *Stream {
	s := &Stream{an: an, emit: emit, canary: map[netip.Addr]bool{}, host: map[netip.Addr]bool{},
		series: map[followed]*entityViews{}, pages: map[uint32]*blockPage{}, health: Health{}, reported: map[VantageRound]bool{},
		bins: map[int64]*obsBin{}, strIndex: map[string]int32{}, h: NewHierarchy(an.Sets),
		entityIndex: map[EntityRef]int32{}, events: map[entityKey]*eventSeries{}}
	if s.an.Rollup.Window <= 0 {
		s.an.Rollup.Window = RollupWindow(an.Round)
	}
	for _, a := range an.Canaries {
		s.canary[a] = true
	}
	for _, a := range an.Hosts {
		s.host[a] = true
	}
	s.census = newCensusIndex(an.Census)
	return s
}

// censusIndex finds the census of a vantage point's block by a method
// among stats: the indexes of stats' blocks (not hosts), sorted by vantage
// point, block and method, which take less room than a map of them.
type censusIndex struct {
	stats []BlockStat
	order []int32
}

func newCensusIndex(stats []BlockStat) censusIndex {
	c := censusIndex{stats: stats}
	for i := range stats {
		if !stats[i].Host {
			c.order = append(c.order, int32(i))
		}
	}
	slices.SortStableFunc(c.order, func(i, j int32) int {
		a, b := &stats[i], &stats[j]
		return c.compare(a.Vantage, a.Block, CensusMethod(a.Method), b)
	})
	return c
}

// compare orders (vantage, block, method) and b's.
func (c censusIndex) compare(vantage string, block netip.Prefix, method string, b *BlockStat) int {
	return cmp.Or(cmp.Compare(vantage, b.Vantage), block.Compare(b.Block), cmp.Compare(method, CensusMethod(b.Method)))
}

// find returns the census of block by method from vantage, the last one
// given when there are several, or nil.
func (c censusIndex) find(vantage string, block netip.Prefix, method string) *BlockStat {
	// The first index past the matches; the one before it is the last match.
	n, _ := slices.BinarySearchFunc(c.order, 0, func(i int32, _ int) int {
		if c.compare(vantage, block, method, &c.stats[i]) >= 0 {
			return -1
		}
		return 1
	})
	if n == 0 || c.compare(vantage, block, method, &c.stats[c.order[n-1]]) != 0 {
		return nil
	}
	return &c.stats[c.order[n-1]]
}

// Add takes the next record. Records that name no address, and errors of
// the prober, are no evidence and are skipped.
func (s *Stream) Add(r *Record) error {
	addr, _ := netip.ParseAddr(r.Target)
	return s.addProbe(r, addr)
}

// addProbe is Add of a record whose target is addr, which is invalid when
// the target is not an address; r.Target may be empty when it is one
// (ProbeSource).
func (s *Stream) addProbe(r *Record, addr netip.Addr) error {
	if s.err != nil {
		return s.err
	}
	if r.Time.After(s.now) {
		s.now = r.Time
		s.closeBefore(s.now)
	}
	if !addr.IsValid() || r.Outcome == OutcomeError {
		return s.err
	}
	target := addr
	addr = addr.Unmap()
	switch {
	case s.canary[addr]:
		s.addCanary(r)
		return s.err
	case r.Method == MethodTrace:
		s.traces = append(s.traces, *r)
		if r.Target == "" {
			s.traces[len(s.traces)-1].Target = target.String()
		}
		return s.err
	}
	m := RecordMethod(r)
	p := probe{addr, r.Answered()}
	s.add(streamKey{r.Vantage, false, BlockOf(addr, s.an.BlockBits6)}, m, r, p)
	if s.host[addr] {
		s.add(streamKey{r.Vantage, true, hostPrefix(addr)}, m, r, p)
	}
	return s.err
}

// Close judges the rounds still open, emits their verdicts, and returns the
// outage events of everything analysed, with the last responsive hop of the
// traces taken during each, sorted by level, entity, then start.
func (s *Stream) Close() ([]Event, error) {
	s.closeBefore(time.Time{})
	if s.err != nil {
		return nil, s.err
	}
	var events []Event
	for _, es := range s.events {
		events = append(events, es.close()...)
	}
	sortEvents(events)
	AttachLastHops(events, s.traces, s.h)
	return events, nil
}

// addCanary counts a canary probe toward its vantage point's round, as
// VantageHealth does.
func (s *Stream) addCanary(r *Record) {
	k := VantageRound{r.Vantage, r.Round}
	st, ok := s.health[k]
	if !ok || r.Time.Before(st.Time) {
		st.Time = r.Time
	}
	st.Vantage, st.Round = r.Vantage, r.Round
	st.Probes++
	if r.Answered() {
		st.Answered++
	}
	s.health[k] = st
}

// censusOf is the census by method m from vantage of the entity k names:
// none for a host.
func (s *Stream) censusOf(vantage string, k streamKey, m string) *BlockStat {
	if k.host {
		return nil
	}
	return s.census.find(vantage, k.prefix, m)
}

// add files a probe of method m into its series' open round.
func (s *Stream) add(k streamKey, m string, r *Record, p probe) {
	ev := s.views(followed{k.host, k.prefix})
	var es *entitySeries
	for _, x := range ev.series {
		if x.vantage == k.vantage {
			es = x
			break
		}
	}
	if es == nil {
		es = &entitySeries{vantage: k.vantage, id: ev.id, vantageID: s.intern(k.vantage)}
		ev.series = append(ev.series, es)
	}
	var ms *methodSeries
	for _, x := range es.methods {
		if x.method == m {
			ms = x
		}
	}
	if ms == nil {
		ms = &methodSeries{method: m, methodID: s.intern(m), blockSeries: blockSeries{host: k.host,
			census: s.censusOf(es.vantage, k, m)}}
		if s.an.Before[ev.entity] == PlaneDown {
			ms.belief = Belief{BU: BeliefMin, DownRounds: 1}
		}
		es.methods = append(es.methods, ms)
	}
	ns := r.Time.UnixNano()
	var o *openRound
	for _, x := range es.open {
		if x.round == r.Round {
			o = x.o
		}
	}
	if o == nil {
		o = s.newRound(es, r.Round, ns)
		es.open = append(es.open, openRef{r.Round, o})
		s.open = append(s.open, o)
	}
	o.first = min(o.first, ns)
	for i := range o.methods {
		if om := &o.methods[i]; om.m == ms {
			om.first = min(om.first, ns)
			om.add(p)
			return
		}
	}
	om := openMethod{m: ms, first: ns}
	if n := len(o.methods); n < cap(o.methods) {
		old := o.methods[:n+1][n] // a closed round's: its memory is reused
		om.probes, om.tally.silent = old.probes, old.tally.silent[:0]
		if om.probes != nil {
			*om.probes = (*om.probes)[:0]
		}
	}
	om.add(p)
	o.methods = append(o.methods, om)
}

// add files probe p: tallied when the series' E(b) is fixed, kept for the
// judgement otherwise.
func (om *openMethod) add(p probe) {
	if om.m.fixedE() {
		om.tally.add(&om.m.blockSeries, p)
	} else {
		if om.probes == nil {
			om.probes = new([]probe)
		}
		*om.probes = append(*om.probes, p)
	}
}

// newRound returns an empty open round of es, one a closed round left when
// there is one.
func (s *Stream) newRound(es *entitySeries, round int64, first int64) *openRound {
	n := len(s.freeRounds)
	if n == 0 {
		o := &openRound{s: es, round: round, first: first}
		o.methods = o.one[:0]
		return o
	}
	o := s.freeRounds[n-1]
	s.freeRounds = s.freeRounds[:n-1]
	o.s, o.round, o.first, o.methods = es, round, first, o.methods[:0]
	return o
}

// closeBefore judges the open rounds whose first record is StreamLag rounds
// older than now, and emits the verdicts of the bins a round older still;
// a zero now closes everything.
func (s *Stream) closeBefore(now time.Time) {
	all := now.IsZero()
	lag := time.Duration(StreamLag) * s.an.Round
	if s.an.Round <= 0 && !now.IsZero() {
		return // no round length: nothing is known closed until the end
	}
	for s.closed < len(s.open) && (all || s.open[s.closed].first+int64(lag) <= now.UnixNano()) {
		s.closeRound(s.open[s.closed])
		s.open[s.closed] = nil
		s.closed++
	}
	if s.closed > 1024 && 2*s.closed > len(s.open) {
		s.open = append(s.open[:0], s.open[s.closed:]...)
		s.closed = 0
	}
	var latest map[string]int64
	if all {
		latest = s.latestBins()
	}
	for s.err == nil && len(s.bins) > 0 {
		bin := int64(math.MaxInt64)
		for b := range s.bins {
			bin = min(bin, b)
		}
		if !all && bin+int64(lag+s.an.Round) > now.UnixNano() {
			break
		}
		if all {
			s.carryLate(bin, latest)
		}
		s.closeBin(bin)
	}
}

// closeRound judges one round of an entity series by each of its methods and
// files the observations under their bin. A down observation is dropped in a
// round where a method that had seen the entity up in an earlier round was
// not asked (a round cut short by SIGTERM, a method mix that skips a round):
// ICMP silent while TCP, which answers there, went unasked is no evidence of
// an outage.
func (s *Stream) closeRound(o *openRound) {
	es := o.s
	es.open = slices.DeleteFunc(es.open, func(x openRef) bool { return x.o == o })
	missing := false
	for _, m := range es.firstUp {
		if m.round < o.round && !slices.ContainsFunc(o.methods, func(om openMethod) bool { return om.m.method == m.method }) {
			missing = true
		}
	}
	for _, om := range o.methods {
		var state string
		var carried bool
		if om.m.fixedE() {
			state, carried = om.m.judge(&om.tally, nil)
		} else {
			state, carried = om.m.round(*om.probes) // not fixedE: it has one at least
		}
		if missing && state == PlaneDown {
			continue // a method that saw the entity up was not asked: no evidence
		}
		if state == PlaneUp && !slices.ContainsFunc(es.firstUp, func(m methodRound) bool { return m.method == om.m.method }) {
			es.firstUp = append(es.firstUp, methodRound{om.m.method, o.round})
		}
		t := binStart(time.Unix(0, om.first), s.an.Round)
		s.bin(t.UnixNano()).add(binObs{round: o.round, belief: om.m.belief.Value(), entity: es.id,
			vantage: es.vantageID, method: om.m.methodID, state: stateID(state), carried: carried})
	}
	o.s = nil
	s.freeRounds = append(s.freeRounds, o)
}

// closeBin merges the observations of one bin into block and host verdicts,
// rolls them up, and emits those and the vantage points' verdicts of the
// bin.
func (s *Stream) closeBin(bin int64) {
	b := s.bins[bin]
	delete(s.bins, bin)
	if s.lastBin == b {
		s.lastBin = nil
	}
	if s.spare == nil {
		s.spare = s.prev
	}
	s.prev, s.prevBin = b, bin
	obs := s.observations(b, bin)
	if len(s.an.Canaries) > 0 {
		// A vantage with no canary record in a round is unknown: a gap.
		for _, o := range obs {
			vr := VantageRound{o.Vantage, o.Round}
			if _, ok := s.health[vr]; !ok {
				s.health[vr] = VantageStatus{Vantage: o.Vantage, Round: o.Round, Time: o.Time}
			}
		}
	}
	merged, entities := mergeNumbered(s.merged, obs, s.ids, s.ranks(), s.health, s.an.Quorum)
	s.merged = merged
	for i := range merged {
		v := &merged[i]
		v.ControlPlane = s.an.controlPlane(v.Entity, v.Time)
		v.Verdict = Combine(v.DataPlane, v.ControlPlane)
		s.put(v, 1)
	}
	for _, rb := range s.an.Rollup.AddCounts(s.rollupCounts(merged, entities)) {
		cp := ControlUnknown
		switch rb.Level {
		case LevelPrefix:
			cp = s.an.controlPlane(rb.Entity, rb.Time)
		case LevelASN, LevelCountry:
			cp = s.an.setsControlPlane(rb.Level, rb.Entity, rb.Time)
		}
		v := rb.Verdict(cp)
		s.put(&v, rb.Drop())
	}
	// Each vantage-round's health is reported with the bin its canaries
	// began in, and kept StreamLag rounds more for its round's observations
	// that a later bin may still hold.
	round := int64(max(s.an.Round, 1))
	end := bin + round
	var due Health
	for vr, st := range s.health {
		switch t := st.Time.UnixNano(); {
		case t < end-StreamLag*round:
			delete(s.health, vr)
			delete(s.reported, vr)
		case t < end && !s.reported[vr]:
			if due == nil {
				due = Health{}
			}
			st.Time = binStart(st.Time, s.an.Round)
			due[vr] = st
			s.reported[vr] = true
		}
	}
	for _, v := range due.Verdicts() {
		if s.err == nil {
			s.err = s.emit(v)
		}
	}
}

// put emits a verdict and adds its bin, of weight drop, to its entity's
// events.
func (s *Stream) put(v *Verdict, drop float64) {
	if s.err != nil {
		return
	}
	if s.err = s.emit(*v); s.err != nil {
		return
	}
	k := entityKey{v.Level, v.Entity}
	es := s.events[k]
	if es == nil {
		if eventRank(v.Verdict) == 0 {
			return // nothing open, nothing to open
		}
		es = &eventSeries{round: s.an.Round}
		s.events[k] = es
	}
	es.add(Bin{Verdict: *v, Drop: drop})
}
