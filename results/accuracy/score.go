// Package accuracy holds darkwatch's accuracy benchmark: a ground truth of what
// really happened to blocks, prefixes, ASes and countries (Truth), the scoring of
// verdicts against it (Score, Print), and a simulation that turns a truth model
// into the probe records `run` writes and feeds them through the real analysis
// (Simulate, Replay2014). It knows nothing of sockets or stores: no packet is
// sent, nothing is kept on disk.
package accuracy

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"darkwatch/results"
)

// Outage is a ground-truth outage of one entity: the rounds whose bins start in [Start, End).
type Outage struct {
	Level, Entity string
	Start, End    time.Time
}

// Truth is what really happened in an experiment.
type Truth struct {
	Round time.Duration
	// From and Until bound the scored bins: [From, Until), on the Unix-epoch
	// round grid.
	From, Until time.Time
	// Entities lists every scored entity (healthy ones too), any level.
	Entities []results.EntityRef
	Outages  []Outage
	// Unmeasurable holds the blocks not judged by design: they are left out
	// of recall and precision, and counted.
	Unmeasurable map[results.EntityRef]bool
	// Sampled, when set, says which entity-rounds a reader looked at (a live
	// view read now and then): the others are left out of every count, and
	// no duration error is given.
	Sampled func(e results.EntityRef, bin time.Time) bool
}

// Row is one level's scores.
type Row struct {
	Level                  string
	Entities, Unmeasurable int
	// OutageRounds counts the true outage entity-rounds of measurable
	// entities; Detected those of them whose verdict's data plane is down.
	OutageRounds, Detected int
	// Recall is Detected / OutageRounds; Precision is Detected over all the
	// down entity-rounds of measurable entities. Each is 1 when its
	// denominator is 0 (nothing to find, nothing claimed).
	Recall, Precision float64
	// HealthyRounds counts the healthy entity-rounds of measurable entities;
	// FalseOutage those of them read down, FalsePartial those read partial.
	HealthyRounds, FalseOutage int
	FalsePartial               int
	// Outages counts the true outages of measurable entities (overlapping or
	// touching outages of one entity are one), Missed those never read down.
	Outages, Missed int
	// LatencyMean and LatencyMax are, over detected outages, the rounds from
	// an outage's first round to its first down verdict.
	LatencyMean, LatencyMax float64
	// DurationErr is the mean |detected length − true length| in rounds over
	// detected outages. The detected length runs from the first down round
	// inside the outage to the last down round of the run it starts, a run
	// that may go on past the outage's end and bridges single non-down
	// rounds, as outage events do.
	DurationErr float64
}

// levelOrder is the order of rows: the smallest entity first.
var levelOrder = []string{results.LevelHost, results.LevelBlock, results.LevelPrefix, results.LevelASN, results.LevelCountry}

func levelIndex(level string) int {
	if i := slices.Index(levelOrder, level); i >= 0 {
		return i
	}
	return len(levelOrder)
}

// roundOf is the number of the epoch-aligned round bin holding t.
func roundOf(t time.Time, round time.Duration) int64 {
	ns, r := t.UnixNano(), int64(round)
	q := ns / r
	if ns%r < 0 {
		q--
	}
	return q
}

// firstRoundAtOrAfter is the number of the first round bin starting at or
// after t.
func firstRoundAtOrAfter(t time.Time, round time.Duration) int64 {
	k := roundOf(t, round)
	if time.Unix(0, k*int64(round)).Before(t) {
		k++
	}
	return k
}

// reading is what the verdicts say of one entity-round.
type reading uint8

const (
	readNone reading = iota // no verdict, or one neither down nor partial
	readPartial
	readDown
)

// span is a half-open range of round numbers [from, to).
type span struct{ from, to int64 }

// Score scores verdicts against the truth t: one Row per level present in
// t.Entities, hosts first, then blocks, prefixes, ASes and countries (other
// levels after, by name). Only the round bins in [t.From, t.Until) count; a
// verdict's bin is the epoch-aligned round holding its Time. A verdict reads
// outage when its data plane is down (verdicts outage, data-plane-outage and
// control-plane-outage); an entity-round without a verdict reads not down.
// When several verdicts speak of one entity-round, down wins over partial.
func Score(t Truth, verdicts []results.Verdict) []Row {
	if t.Round <= 0 {
		return nil
	}
	s := newScorer(t)
	s.readVerdicts(verdicts)
	s.clipOutages()
	for e := range s.ents {
		s.scoreEntity(e)
	}
	return s.rowsInOrder()
}

// scorer is the state of one Score call: the scored rounds [lo, hi), each
// scored entity's readings and true outages, and the rows and per-level
// latencies and duration errors being tallied.
type scorer struct {
	t      Truth
	lo, hi int64
	n      int
	index  map[results.EntityRef]int
	ents   []results.EntityRef
	// reads holds each entity's readings, round by round; outages each
	// entity's true outages, clipped to the scored rounds and merged.
	reads   [][]reading
	outages [][]span
	rows    map[string]*Row
	latency map[string][]float64
	durErr  map[string][]float64
}

// newScorer sets up the scoring of truth t: the scored round range, the
// scored entities (each once, in order of first mention) and their empty
// readings.
func newScorer(t Truth) *scorer {
	lo, hi := firstRoundAtOrAfter(t.From, t.Round), firstRoundAtOrAfter(t.Until, t.Round)
	if hi < lo {
		hi = lo
	}
	s := &scorer{
		t: t, lo: lo, hi: hi, n: int(hi - lo),
		index:   make(map[results.EntityRef]int, len(t.Entities)),
		rows:    map[string]*Row{},
		latency: map[string][]float64{},
		durErr:  map[string][]float64{},
	}
	for _, e := range t.Entities {
		if _, ok := s.index[e]; !ok {
			s.index[e] = len(s.ents)
			s.ents = append(s.ents, e)
		}
	}
	s.reads = make([][]reading, len(s.ents))
	for i := range s.reads {
		s.reads[i] = make([]reading, s.n)
	}
	return s
}

// readVerdicts records what each verdict of a scored entity in a scored
// round says, down winning over partial.
func (s *scorer) readVerdicts(verdicts []results.Verdict) {
	for i := range verdicts {
		v := &verdicts[i]
		e, ok := s.index[results.EntityRef{Level: v.Level, Entity: v.Entity}]
		if !ok {
			continue
		}
		k := roundOf(v.Time, s.t.Round)
		if k < s.lo || k >= s.hi {
			continue
		}
		r := readNone
		switch v.DataPlane {
		case results.PlaneDown:
			r = readDown
		case results.PlanePartial:
			r = readPartial
		}
		s.reads[e][k-s.lo] = max(s.reads[e][k-s.lo], r)
	}
}

// clipOutages sets each scored entity's true outages as spans of scored
// rounds, clipped to them, sorted and with overlapping or touching ones
// merged.
func (s *scorer) clipOutages() {
	s.outages = make([][]span, len(s.ents))
	for _, o := range s.t.Outages {
		e, ok := s.index[results.EntityRef{Level: o.Level, Entity: o.Entity}]
		if !ok {
			continue
		}
		sp := span{max(firstRoundAtOrAfter(o.Start, s.t.Round), s.lo) - s.lo, min(firstRoundAtOrAfter(o.End, s.t.Round), s.hi) - s.lo}
		if sp.from < sp.to {
			s.outages[e] = append(s.outages[e], sp)
		}
	}
	for e, ss := range s.outages {
		s.outages[e] = mergeSpans(ss)
	}
}

// scoreEntity adds entity e to its level's row: as unmeasurable, or by its
// rounds and its outages.
func (s *scorer) scoreEntity(e int) {
	ref := s.ents[e]
	row := s.rows[ref.Level]
	if row == nil {
		row = &Row{Level: ref.Level}
		s.rows[ref.Level] = row
	}
	row.Entities++
	if s.t.Unmeasurable[ref] {
		row.Unmeasurable++
		return
	}
	seen := func(k int64) bool {
		return s.t.Sampled == nil || s.t.Sampled(ref, time.Unix(0, (s.lo+k)*int64(s.t.Round)).UTC())
	}
	s.countRounds(row, e, seen)
	for _, sp := range s.outages[e] {
		s.scoreOutage(row, e, sp, seen)
	}
}

// countRounds adds entity e's looked-at rounds to row: its outage rounds and
// those detected, its healthy rounds and those read down or partial.
func (s *scorer) countRounds(row *Row, e int, seen func(int64) bool) {
	rd := s.reads[e]
	out := make([]bool, s.n)
	for _, sp := range s.outages[e] {
		for k := sp.from; k < sp.to; k++ {
			out[k] = true
		}
	}
	for k := range s.n {
		switch {
		case !seen(int64(k)):
		case out[k]:
			row.OutageRounds++
			if rd[k] == readDown {
				row.Detected++
			}
		default:
			row.HealthyRounds++
			switch rd[k] {
			case readDown:
				row.FalseOutage++
			case readPartial:
				row.FalsePartial++
			}
		}
	}
}

// scoreOutage adds one true outage sp of entity e to row, unless none of its
// rounds was looked at: missed, or detected with its latency and, when every
// round is looked at, its duration error.
func (s *scorer) scoreOutage(row *Row, e int, sp span, seen func(int64) bool) {
	rd, level := s.reads[e], s.ents[e].Level
	first := int64(-1)
	looked := false
	for k := sp.from; k < sp.to; k++ {
		looked = looked || seen(k)
		if rd[k] == readDown && seen(k) {
			first = k
			break
		}
	}
	if !looked {
		return
	}
	row.Outages++
	if first < 0 {
		row.Missed++
		return
	}
	s.latency[level] = append(s.latency[level], float64(first-sp.from))
	if s.t.Sampled != nil {
		return
	}
	last := downRunEnd(rd, first)
	s.durErr[level] = append(s.durErr[level], math.Abs(float64(last-first+1)-float64(sp.to-sp.from)))
}

// downRunEnd is the last round of the run of down readings starting at
// first, a run that bridges single non-down rounds.
func downRunEnd(rd []reading, first int64) int64 {
	n := int64(len(rd))
	last := first
	for k := first + 1; k < n; k++ {
		if rd[k] == readDown {
			last = k
			continue
		}
		if k+1 < n && rd[k+1] == readDown {
			continue // a single non-down round does not end the run
		}
		break
	}
	return last
}

// rowsInOrder finishes the rows, their ratios, latencies and duration
// errors, and returns them in level order.
func (s *scorer) rowsInOrder() []Row {
	out := make([]Row, 0, len(s.rows))
	for level, row := range s.rows {
		row.Recall = ratio(row.Detected, row.OutageRounds)
		row.Precision = ratio(row.Detected, row.Detected+row.FalseOutage)
		if ls := s.latency[level]; len(ls) > 0 {
			row.LatencyMean = meanOf(ls)
			row.LatencyMax = slices.Max(ls)
		}
		if ds := s.durErr[level]; len(ds) > 0 {
			row.DurationErr = meanOf(ds)
		}
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b Row) int {
		if c := cmp.Compare(levelIndex(a.Level), levelIndex(b.Level)); c != 0 {
			return c
		}
		return cmp.Compare(a.Level, b.Level)
	})
	return out
}

// ratio is num/den, 1 when den is 0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 1
	}
	return float64(num) / float64(den)
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Print writes rows as a fixed-width table under title.
func Print(w io.Writer, title string, rows []Row) {
	fmt.Fprintf(w, "%s\n", title)
	fmt.Fprintf(w, "%-8s %8s %6s %9s %9s %8s %9s %10s %8s %8s %7s %6s %8s %7s %7s\n",
		"level", "entities", "unmeas", "out-rnds", "detected", "recall", "precision",
		"ok-rnds", "false-dn", "false-pt", "outages", "missed", "lat-mean", "lat-max", "dur-err")
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s %8d %6d %9d %9d %8.4f %9.4f %10d %8d %8d %7d %6d %8.2f %7.0f %7.2f\n",
			r.Level, r.Entities, r.Unmeasurable, r.OutageRounds, r.Detected, r.Recall, r.Precision,
			r.HealthyRounds, r.FalseOutage, r.FalsePartial, r.Outages, r.Missed,
			r.LatencyMean, r.LatencyMax, r.DurationErr)
	}
}
