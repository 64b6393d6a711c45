package results

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"time"

	"darkwatch/results/bgp"
)

// Saver is where an analysis saves what it concludes: the verdicts, and the
// events, which replace those of the time analysed.
type Saver interface {
	PutVerdicts(ctx context.Context, vs []Verdict) error
	// Events returns the events that overlap [since, until).
	Events(ctx context.Context, since, until time.Time) ([]Event, error)
	// ReplaceEvents deletes the events drop and stores put, in one
	// transaction.
	ReplaceEvents(ctx context.Context, drop, put []Event) error
}

// AnalysisStore is what Update reads and writes: records and stored
// verdicts, the census, the routes of the control plane, and where it saves.
// results/store's stores are AnalysisStores through store.AnalysisSource.
type AnalysisStore interface {
	Source
	RouteSource
	Saver
	// Census returns the census of every block, vantage and method.
	Census(ctx context.Context) ([]BlockStat, error)
}

// Update analyses the rounds from since to until inclusive (Window: since
// zero is the live verdict at until) with st's census and routes, saves what
// it concludes to st (SaveAnalysis), and returns every verdict of the
// records read (the caller keeps those it asked for, see SelectVerdicts) and
// the events. `verdict`, `report`, `run` and `serve` all analyse with it.
//
// A census or routes st cannot read leave the census learnt from the
// records and the control plane unknown; a store that refuses what is saved
// (a read-only role, a full disk) does not stop the caller. Each is logged.
func (an Analysis) Update(ctx context.Context, st AnalysisStore, vis bgp.Config, since, until time.Time, log *slog.Logger) ([]Verdict, []Event, error) {
	if census, err := st.Census(ctx); err == nil {
		an.Census = append(an.Census, census...)
	} else {
		log.Warn("census unknown: reading the store's blocks failed", "err", err)
	}
	w := Window{Since: since, Until: until.Add(time.Nanosecond)}
	var err error
	if an.ControlPlane, err = an.JoinControlPlane(ctx, st, vis, w.Read(an.Round), until); err != nil {
		log.Warn("control plane unknown: reading the store's routes failed", "err", err)
	}
	vs, evs, err := an.AnalyzeWindow(ctx, st, w)
	if err != nil {
		return nil, nil, err
	}
	if err := SaveAnalysis(ctx, st, vs, evs, w.Read(an.Round), w.Trusted(an.Round), w.Until, an.Round); err != nil {
		log.Warn("verdicts not saved to the store", "err", err)
	}
	return vs, evs, nil
}

// SaveAnalysis stores an analysis of the records from `from` on that answers
// for the time from trusted to until (zero: open): the verdicts of that time
// (earlier ones only warm the beliefs and baselines up), and the events,
// merged with those stored (mergeEvents).
func SaveAnalysis(ctx context.Context, st Saver, vs []Verdict, evs []Event, from, trusted, until time.Time, round time.Duration) error {
	keep := make([]Verdict, 0, len(vs))
	judged := map[entityKey]bool{}
	for _, v := range vs {
		if !v.Time.Before(trusted) {
			keep = append(keep, v)
			judged[entityKey{v.Level, v.Entity}] = true
		}
	}
	if err := st.PutVerdicts(ctx, keep); err != nil {
		return err
	}
	var stored []Event
	if len(evs) > 0 || len(judged) > 0 {
		var err error
		if stored, err = st.Events(ctx, from.Add(-round), time.Time{}); err != nil {
			return err
		}
	}
	drop, put := mergeEvents(stored, evs, judged, trusted, until, round)
	return st.ReplaceEvents(ctx, drop, put)
}

// mergeEvents decides what an analysis that answers for [trusted, until]
// (until zero: open) changes in the stored events: the events to drop and
// those to store. The analysis is the authority for its own time only; the
// warm-up before trusted starts cold and may not see what an earlier
// analysis, trusted there, saw. So
//   - a stored event that starts in [trusted, until] is replaced by what the
//     analysis found (it goes if the analysis found none: its start moved, or
//     late records showed there was none);
//   - an event found that meets a stored event starting before trusted (it
//     overlaps it, or follows within a round) continues it: one event, from
//     the earlier start, of the worse kind, ending where the analysis says;
//   - an event found that starts before trusted and meets none is stored only
//     if it goes on at trusted (an outage confirmed late, dated back);
//   - a stored event open at trusted that no event found continues, of an
//     entity the analysis judged at trusted or later, ends at trusted.
func mergeEvents(stored, found []Event, judged map[entityKey]bool, trusted, until time.Time, round time.Duration) (drop, put []Event) {
	answered := func(t time.Time) bool { return !t.Before(trusted) && (until.IsZero() || !t.After(until)) }
	before := map[entityKey][]int{} // stored events starting before trusted, by entity
	var cands []Event
	for _, s := range stored {
		switch {
		case answered(s.Start):
			drop = append(drop, s)
		case s.Start.Before(trusted):
			k := entityKey{s.Level, s.Entity}
			before[k] = append(before[k], len(cands))
			cands = append(cands, s)
		}
	}
	orig := slices.Clone(cands)
	found = slices.Clone(found)
	sortEvents(found)
	for _, f := range found {
		i := meeting(cands, before[entityKey{f.Level, f.Entity}], f, round)
		switch {
		case i >= 0:
			cands[i] = continued(cands[i], f, trusted)
		case answered(f.Start) || f.End.IsZero() || f.End.After(trusted):
			put = append(put, f)
		}
	}
	for i, c := range cands {
		open := c.End.IsZero() || c.End.After(trusted)
		if c == orig[i] && open && judged[entityKey{c.Level, c.Entity}] {
			cands[i] = resized(c, c.Start, trusted)
		}
	}
	for i, c := range cands {
		if c == orig[i] {
			continue
		}
		if !c.Start.Equal(orig[i].Start) || c.Kind != orig[i].Kind {
			drop = append(drop, orig[i])
		}
		put = append(put, c)
	}
	return drop, put
}

// meeting returns the index, among the candidates cands[idx...] of one
// entity, of the first that f meets: overlaps, or follows within a round.
// It is -1 when f meets none.
func meeting(cands []Event, idx []int, f Event, round time.Duration) int {
	for _, i := range idx {
		c := cands[i]
		cEnd, fEnd := c.End, f.End
		if !cEnd.IsZero() {
			cEnd = cEnd.Add(round)
		}
		if !fEnd.IsZero() {
			fEnd = fEnd.Add(round)
		}
		if (cEnd.IsZero() || !f.Start.After(cEnd)) && (fEnd.IsZero() || !c.Start.After(fEnd)) {
			return i
		}
	}
	return -1
}

// continued is the stored event c continued by the event f an analysis
// found: from the earlier start, of the worse kind, ending where f ends;
// where f ends before trusted, in the warm-up, a later end stored stays.
func continued(c, f Event, trusted time.Time) Event {
	if eventRank(f.Kind) > eventRank(c.Kind) {
		c.Kind = f.Kind
	}
	if f.LastHop != "" {
		c.LastHop = f.LastHop
	}
	end := f.End
	if !end.IsZero() && end.Before(trusted) && (c.End.IsZero() || c.End.After(end)) {
		end = c.End
		if end.IsZero() || end.After(trusted) {
			end = trusted
		}
	}
	r := rate(f)
	if f.Minutes <= 0 {
		r = rate(c)
	}
	if f.Start.Before(c.Start) {
		c.Start = f.Start
	}
	c.End = end
	if end.IsZero() {
		c.Minutes = f.Minutes + f.Start.Sub(c.Start).Minutes() // to f's last bad round
	} else {
		c.Minutes = end.Sub(c.Start).Minutes()
	}
	c.Severity = r * c.Minutes
	return c
}

// rate is an event's severity per minute.
func rate(e Event) float64 {
	if e.Minutes <= 0 {
		return 0
	}
	return e.Severity / e.Minutes
}

// resized is e from start to end, its severity scaled to the minutes.
func resized(e Event, start, end time.Time) Event {
	r := rate(e)
	e.Start, e.End = start, end
	e.Minutes = end.Sub(start).Minutes()
	e.Severity = r * e.Minutes
	return e
}

// SelectVerdicts keeps level's verdicts: the latest per entity at tAt (or
// now, when tAt is zero), or, with t0 set, all of [t0, t1) (t1 zero: open).
// They come by entity, then time.
func SelectVerdicts(vs []Verdict, level string, t0, t1, tAt time.Time) []Verdict {
	var out []Verdict
	latest := map[string]int{}
	for _, v := range vs {
		if v.Level != level {
			continue
		}
		if !t0.IsZero() {
			if !v.Time.Before(t0) && (t1.IsZero() || v.Time.Before(t1)) {
				out = append(out, v)
			}
			continue
		}
		if !tAt.IsZero() && v.Time.After(tAt) {
			continue
		}
		if i, ok := latest[v.Entity]; !ok || out[i].Time.Before(v.Time) {
			if ok {
				out[i] = v
			} else {
				latest[v.Entity] = len(out)
				out = append(out, v)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Entity != out[j].Entity {
			return out[i].Entity < out[j].Entity
		}
		return out[i].Time.Before(out[j].Time)
	})
	return out
}
