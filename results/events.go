package results

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Bin is one time bin of an entity's verdict series, with the weight its
// minutes carry in an event's severity.
type Bin struct {
	Verdict
	// Drop is the relative drop, in [0, 1]: (baseline − up) / baseline for a
	// roll-up entity (RollupBin.Bin), 1 for a block or host (VerdictBins).
	Drop float64
}

// VerdictBins returns vs as bins of Drop 1: a block or a host is all there or
// not at all.
func VerdictBins(vs []Verdict) []Bin {
	bins := make([]Bin, len(vs))
	for i, v := range vs {
		bins[i] = Bin{Verdict: v, Drop: 1}
	}
	return bins
}

// eventRank orders the non-reachable verdicts by how bad they are; 0 is not
// an outage verdict.
func eventRank(verdict string) int {
	switch verdict {
	case VerdictOutage, VerdictDataPlaneOutage, VerdictControlPlaneOutage:
		return 3
	case VerdictWithdrawn:
		return 2
	case VerdictPartial:
		return 1
	}
	return 0
}

// reachable reports whether a verdict says the entity is reachable in the data
// plane.
func reachable(verdict string) bool {
	return verdict == VerdictReachable || verdict == VerdictReachableUnrouted
}

// Events finds the outage events in bins, which may mix entities and need not
// be sorted; round is the bin length, by which missing bins are found (0 when
// unknown: then only the bins present count). The result is sorted by level,
// entity, then start.
//
// A bin is bad when its verdict is partial, data-plane-outage,
// control-plane-outage, outage or withdrawn; good when it is reachable or
// reachable-unrouted; anything else (uncertain) says nothing, like a missing
// bin. An event is a run of bad bins with gaps of at most one round: one
// good, uncertain or missing bin between two bad bins does not split it, two
// do.
//
// Start is the first bad bin's time. End is the time of the first good bin
// after the last bad one; when the next event of the entity starts before any
// good bin, End is one round after the last bad bin (the next bin's time when
// round is 0); when there is no good bin yet, the event is ongoing and End is
// zero. Minutes is End − Start, and for an ongoing event runs to one round
// after the last bad bin. Kind is the worst verdict of its bad bins (outage,
// data-plane-outage and control-plane-outage over withdrawn over partial), the
// earliest among equals: an event that is partial at its edges and an outage
// in its middle is one outage. Severity is the mean Drop of the bad bins times
// Minutes (IODA's relative drop × minutes).
func Events(bins []Bin, round time.Duration) []Event {
	series := make(map[entityKey][]Bin)
	for _, b := range bins {
		k := entityKey{b.Level, b.Entity}
		series[k] = append(series[k], b)
	}
	var events []Event
	for _, s := range series {
		slices.SortStableFunc(s, func(a, b Bin) int { return a.Time.Compare(b.Time) })
		events = append(events, seriesEvents(s, round)...)
	}
	sortEvents(events)
	return events
}

// openEvent is an event being built.
type openEvent struct {
	ev        Event
	rank      int
	lastBad   time.Time
	since     int       // bins since lastBad that were not bad
	afterBad  time.Time // the first bin after lastBad, zero while none
	firstGood time.Time // the first good bin after lastBad, zero while none
	drops     float64
	bad       int
}

// seriesEvents finds the events of one entity's time-sorted bins.
func seriesEvents(s []Bin, round time.Duration) []Event {
	es := eventSeries{round: round}
	for _, b := range s {
		es.add(b)
	}
	return es.close()
}

// eventSeries finds the events of one entity's bins, given one at a time in
// time order: the state of seriesEvents, kept between bins so that a stream
// of bins needs no more than the events open.
type eventSeries struct {
	round  time.Duration
	cur    *openEvent
	events []Event
}

// add takes the entity's next bin.
func (es *eventSeries) add(b Bin) {
	cur := es.cur
	rank := eventRank(b.Verdict.Verdict)
	if rank == 0 {
		if cur != nil {
			cur.since++
			if cur.afterBad.IsZero() {
				cur.afterBad = b.Time
			}
			if cur.firstGood.IsZero() && reachable(b.Verdict.Verdict) {
				cur.firstGood = b.Time
			}
		}
		return
	}
	if cur != nil && gapBetween(cur.lastBad, b.Time, cur.since, es.round) > 1 {
		es.finish(true)
		cur = nil
	}
	if cur == nil {
		cur = &openEvent{ev: Event{Level: b.Level, Entity: b.Entity, Kind: b.Verdict.Verdict, Start: b.Time}}
		es.cur = cur
	}
	if rank > cur.rank {
		cur.rank, cur.ev.Kind = rank, b.Verdict.Verdict
	}
	cur.lastBad, cur.since, cur.afterBad, cur.firstGood = b.Time, 0, time.Time{}, time.Time{}
	cur.drops += min(max(b.Drop, 0), 1)
	cur.bad++
}

// finish ends the open event: split says that a later bad bin starts a new one.
func (es *eventSeries) finish(split bool) {
	cur := es.cur
	e := cur.ev
	switch {
	case !cur.firstGood.IsZero():
		e.End = cur.firstGood
	case split && es.round > 0:
		e.End = cur.lastBad.Add(es.round)
	case split:
		e.End = cur.afterBad
	}
	stop := e.End
	if stop.IsZero() {
		stop = cur.lastBad.Add(max(es.round, 0))
	}
	e.Minutes = stop.Sub(e.Start).Minutes()
	e.Severity = cur.drops / float64(cur.bad) * e.Minutes
	es.events = append(es.events, e)
	es.cur = nil
}

// close ends the series and returns its events.
func (es *eventSeries) close() []Event {
	if es.cur != nil {
		es.finish(false)
	}
	return es.events
}

// sortEvents sorts events by level, entity, then start.
func sortEvents(events []Event) {
	slices.SortFunc(events, func(a, b Event) int {
		if c := cmp.Compare(a.Level, b.Level); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Entity, b.Entity); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
}

// gapBetween is how many rounds lie between a bad bin at last and the next one
// at next, given the bins that came between: those bins, or, when the round
// length is known, the rounds between the two to the nearest round if more.
func gapBetween(last, next time.Time, between int, round time.Duration) int {
	if round <= 0 {
		return between
	}
	return max(between, int(math.Round(float64(next.Sub(last))/float64(round)))-1)
}

// LastHop names the hop where traces that did not reach their target stopped:
// for each trace record that did not reach it, the address of its highest-TTL
// hop that answered; then the address most traces agree on (the one seen in
// the latest trace among equals). It returns "" when no such trace has an
// answering hop.
func LastHop(traces []Record) string {
	type tally struct {
		n      int
		latest time.Time
	}
	tallies := make(map[string]*tally)
	for i := range traces {
		r := &traces[i]
		if r.Method != MethodTrace || (r.Reached != nil && *r.Reached) {
			continue
		}
		addr, ttl := "", -1
		for _, h := range r.Hops {
			if h.Addr != "" && h.TTL >= ttl {
				addr, ttl = h.Addr, h.TTL
			}
		}
		if addr == "" {
			continue
		}
		t := tallies[addr]
		if t == nil {
			t = &tally{}
			tallies[addr] = t
		}
		t.n++
		if r.Time.After(t.latest) {
			t.latest = r.Time
		}
	}
	best, bt := "", tally{}
	for addr, t := range tallies {
		if best == "" || t.n > bt.n || t.n == bt.n && (t.latest.After(bt.latest) ||
			t.latest.Equal(bt.latest) && addr < best) {
			best, bt = addr, *t
		}
	}
	return best
}

// AttachLastHops sets each event's LastHop from the trace records taken during
// it (from Start until End, or on while ongoing) towards a target inside its
// entity; h resolves AS and country entities (nil: only hosts, blocks and
// prefixes get a last hop). An event with no such trace keeps its LastHop.
func AttachLastHops(events []Event, traces []Record, h *Hierarchy) {
	for i := range events {
		e := &events[i]
		var during []Record
		for j := range traces {
			r := &traces[j]
			if r.Time.Before(e.Start) || !e.End.IsZero() && !r.Time.Before(e.End) {
				continue
			}
			a, err := netip.ParseAddr(r.Target)
			if err != nil || !h.Contains(e.Level, e.Entity, a) {
				continue
			}
			during = append(during, *r)
		}
		if hop := LastHop(during); hop != "" {
			e.LastHop = hop
		}
	}
}
