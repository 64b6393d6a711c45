package results

import (
	"context"
	"log/slog"
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
	// ReplaceEvents deletes the events that start after after and stores
	// es, in one transaction.
	ReplaceEvents(ctx context.Context, after time.Time, es []Event) error
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
	if err := SaveAnalysis(ctx, st, vs, evs, w.Read(an.Round), w.Trusted(an.Round), an.Round); err != nil {
		log.Warn("verdicts not saved to the store", "err", err)
	}
	return vs, evs, nil
}

// SaveAnalysis stores an analysis of the records from `from` on: the verdicts
// at or after trusted (earlier ones only warm the beliefs and baselines up),
// and the events, which replace those stored that start after the first
// round read. An event that starts in the analysis' first round may have
// begun earlier, before the records read: when the store holds such an event
// of the same entity and kind, still open or ended within a round of from, it
// is that event going on, and is stored under its first start, with its
// minutes and severity grown to match.
func SaveAnalysis(ctx context.Context, st Saver, vs []Verdict, evs []Event, from, trusted time.Time, round time.Duration) error {
	keep := make([]Verdict, 0, len(vs))
	for _, v := range vs {
		if !v.Time.Before(trusted) {
			keep = append(keep, v)
		}
	}
	if err := st.PutVerdicts(ctx, keep); err != nil {
		return err
	}
	if err := continueEvents(ctx, st, evs, from, round); err != nil {
		return err
	}
	// Every event that starts after the first round read is this
	// analysis' to say: one an earlier analysis stored there and this one
	// does not find (its start moved as later records came in) goes.
	after := from.Add(round)
	if from.IsZero() {
		after = time.Time{}
	}
	return st.ReplaceEvents(ctx, after, evs)
}

// continueEvents gives the events of evs that start in the first round read
// the start of the stored event they continue, if any.
func continueEvents(ctx context.Context, st Saver, evs []Event, from time.Time, round time.Duration) error {
	var earlier []Event
	for i := range evs {
		e := &evs[i]
		if from.IsZero() || e.Start.After(from.Add(round)) {
			continue
		}
		if earlier == nil {
			var err error
			if earlier, err = st.Events(ctx, from.Add(-round), from.Add(round)); err != nil {
				return err
			}
		}
		for _, old := range earlier {
			if old.Level != e.Level || old.Entity != e.Entity || old.Kind != e.Kind || !old.Start.Before(e.Start) ||
				!old.End.IsZero() && old.End.Before(from.Add(-round)) {
				continue
			}
			grown := e.Minutes + e.Start.Sub(old.Start).Minutes()
			if e.Minutes > 0 {
				e.Severity *= grown / e.Minutes
			}
			e.Start, e.Minutes = old.Start, grown
			break
		}
	}
	return nil
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
