package results

import (
	"context"
	"net/netip"
	"time"
)

// AnalysisWarmup is how many rounds of records before the asked span an
// analysis reads, so that beliefs and rolling censuses have a history.
const AnalysisWarmup = 24

// Source is what an analysis reads from: records, and the roll-up verdicts
// earlier analyses stored, which carry the baselines further back than the
// records read. results/store's stores are Sources (store.AnalysisSource).
type Source interface {
	// EachRecord calls fn with each record of [since, until), oldest first.
	EachRecord(ctx context.Context, since, until time.Time, fn func(Record) error) error
	// StoredVerdicts returns the stored verdicts of level in [since,
	// until), oldest first.
	StoredVerdicts(ctx context.Context, level string, since, until time.Time) ([]Verdict, error)
}

// ProbeSource is a Source that can give an analysis its records lean:
// fn's record is valid only during the call, and a target that is an
// address comes as addr, with the record's Target empty (any other target
// as Target, with the zero Addr). The records are EachRecord's, in its
// order. StreamWindow reads a Source that is one this way.
type ProbeSource interface {
	EachProbe(ctx context.Context, since, until time.Time, fn func(r *Record, addr netip.Addr) error) error
}

// Window is the span an analysis reads and the one it answers for. The same
// semantics serve `verdict`, `report`, `run` and `serve`.
type Window struct {
	// Since is the first time asked for; zero asks for the latest round
	// before Until only (the live verdict).
	Since time.Time
	// Until ends the span (exclusive).
	Until time.Time
}

// Read is the time records are read from: AnalysisWarmup rounds before
// Since, or before Until for the live verdict.
func (w Window) Read(round time.Duration) time.Time {
	from := w.Since
	if from.IsZero() {
		from = w.Until
	}
	return from.Add(-AnalysisWarmup * round)
}

// Trusted is the first time whose verdicts the window answers for: Since,
// or one round before Until for the live verdict. Earlier verdicts only warm
// beliefs and baselines up.
func (w Window) Trusted(round time.Duration) time.Time {
	if !w.Since.IsZero() {
		return w.Since
	}
	return w.Until.Add(-round)
}

// AnalyzeWindow is StreamWindow with every verdict collected, in Analyze's
// order.
func (an Analysis) AnalyzeWindow(ctx context.Context, src Source, w Window) ([]Verdict, []Event, error) {
	var c collector
	evs, err := an.StreamWindow(ctx, src, w, c.add)
	if err != nil {
		return nil, nil, err
	}
	return c.verdicts(), evs, nil
}

// StreamWindow reads the window's records from src into a Stream, which
// gives emit every verdict of what it read, round by round (the caller keeps
// those from Window.Trusted on), and returns the events. The roll-up
// baselines start from the normal bins stored for the DefaultRollupSpan
// before the records, and the blocks' beliefs from the last verdicts stored
// before the span asked for (Analysis.Before: a block that an earlier
// analysis, with more history, found down starts down). Neither the records
// nor the verdicts are held: memory stays flat however long the window.
func (an Analysis) StreamWindow(ctx context.Context, src Source, w Window, emit func(Verdict) error) ([]Event, error) {
	an, err := an.seeded(ctx, src, w)
	if err != nil {
		return nil, err
	}
	st := an.NewStream(emit)
	if ps, ok := src.(ProbeSource); ok {
		err = ps.EachProbe(ctx, w.Read(an.Round), w.Until, st.addProbe)
	} else {
		err = src.EachRecord(ctx, w.Read(an.Round), w.Until, func(r Record) error { return st.Add(&r) })
	}
	if err != nil {
		return nil, err
	}
	return st.Close()
}

// seeded returns an with its roll-up baselines and Before read from src for
// the window w.
func (an Analysis) seeded(ctx context.Context, src Source, w Window) (Analysis, error) {
	from := w.Read(an.Round)
	if an.Rollup.Window <= 0 {
		an.Rollup.Window = RollupWindow(an.Round)
	}
	span := time.Duration(an.Rollup.Window) * max(an.Round, time.Second)
	for _, level := range []string{LevelPrefix, LevelASN, LevelCountry} {
		vs, err := src.StoredVerdicts(ctx, level, from.Add(-span), from)
		if err != nil {
			return an, err
		}
		SeedRollup(&an.Rollup, vs)
	}
	an.Before = map[string]string{}
	for _, level := range []string{LevelBlock, LevelHost} {
		vs, err := src.StoredVerdicts(ctx, level, from.Add(-2*an.Round), w.Trusted(an.Round))
		if err != nil {
			return an, err
		}
		for _, v := range vs {
			an.Before[v.Entity] = v.DataPlane // oldest first: the last one stays
		}
	}
	return an, nil
}

// SeedRollup puts the normal bins of stored roll-up verdicts vs (oldest
// first) into r's baselines; bins that alerted stay out, as they do when
// the analysis makes them.
func SeedRollup(r *Rollup, vs []Verdict) {
	ups := map[entityKey][]int{}
	var order []entityKey
	for _, v := range vs {
		if v.Up == nil || v.DataPlane != PlaneUp {
			continue
		}
		k := entityKey{v.Level, v.Entity}
		if _, ok := ups[k]; !ok {
			order = append(order, k)
		}
		ups[k] = append(ups[k], *v.Up)
	}
	for _, k := range order {
		r.Seed(k.level, k.entity, ups[k])
	}
}
