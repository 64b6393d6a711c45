// Package accuracy scores verdicts against a ground truth of outages.
//
// STUB, to be dropped at merge: the package itself is written elsewhere; this
// file only gives its API, with a small scoring, so that the lab layer of the
// accuracy benchmark (cmd/darkwatch/lab_accuracy_test.go) compiles and prints.
package accuracy

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"darkwatch/results"
)

// Outage is an entity out in the rounds whose bins start in [Start, End).
type Outage struct {
	Level, Entity string
	Start, End    time.Time
}

// Truth is what really happened: the entities, which were out when, and which
// cannot be measured, over the rounds of [From, Until).
type Truth struct {
	Round        time.Duration
	From, Until  time.Time
	Entities     []results.EntityRef
	Outages      []Outage
	Unmeasurable map[results.EntityRef]bool
}

// Row is the score of one level.
type Row struct {
	Level                      string
	Entities, Unmeasurable     int
	OutageRounds, Detected     int
	Recall, Precision          float64
	HealthyRounds, FalseOutage int
	FalsePartial               int
	Outages, Missed            int
	LatencyMean, LatencyMax    float64
	DurationErr                float64
}

// down reports whether a verdict says the entity's data plane is down.
func down(v results.Verdict) bool {
	switch v.Verdict {
	case results.VerdictOutage, results.VerdictDataPlaneOutage, results.VerdictControlPlaneOutage:
		return true
	}
	return v.DataPlane == results.PlaneDown
}

// Score compares verdicts with the truth, per level, over the measurable
// entities.
func Score(t Truth, verdicts []results.Verdict) []Row {
	bin := func(x time.Time) time.Time { return time.Unix(0, x.UnixNano()-x.UnixNano()%int64(t.Round)).UTC() }
	got := map[results.EntityRef]map[time.Time]results.Verdict{}
	for _, v := range verdicts {
		e := results.EntityRef{Level: v.Level, Entity: v.Entity}
		if got[e] == nil {
			got[e] = map[time.Time]results.Verdict{}
		}
		got[e][bin(v.Time)] = v
	}
	rows := map[string]*Row{}
	var order []string
	row := func(level string) *Row {
		if rows[level] == nil {
			rows[level] = &Row{Level: level}
			order = append(order, level)
		}
		return rows[level]
	}
	for _, e := range t.Entities {
		r := row(e.Level)
		r.Entities++
		if t.Unmeasurable[e] {
			r.Unmeasurable++
			continue
		}
		out := map[time.Time]bool{}
		for _, o := range t.Outages {
			if o.Level != e.Level || o.Entity != e.Entity {
				continue
			}
			r.Outages++
			first, n := -1, 0
			for b, i := bin(o.Start), 0; b.Before(o.End); b, i = b.Add(t.Round), i+1 {
				if b.Before(t.From) || !b.Before(t.Until) {
					continue
				}
				out[b] = true
				if v, ok := got[e][b]; ok && down(v) {
					n++
					if first < 0 {
						first = i
					}
				}
			}
			if first < 0 {
				r.Missed++
				continue
			}
			r.LatencyMean += float64(first)
			r.LatencyMax = max(r.LatencyMax, float64(first))
			r.DurationErr += float64(int(o.End.Sub(o.Start)/t.Round) - n)
		}
		for b := bin(t.From); b.Before(t.Until); b = b.Add(t.Round) {
			v, ok := got[e][b]
			switch {
			case out[b]:
				r.OutageRounds++
				if ok && down(v) {
					r.Detected++
				}
			default:
				r.HealthyRounds++
				if ok && down(v) {
					r.FalseOutage++
				} else if ok && v.DataPlane == results.PlanePartial {
					r.FalsePartial++
				}
			}
		}
	}
	var out []Row
	for _, l := range order {
		r := rows[l]
		if r.OutageRounds > 0 {
			r.Recall = float64(r.Detected) / float64(r.OutageRounds)
		}
		if r.Detected+r.FalseOutage > 0 {
			r.Precision = float64(r.Detected) / float64(r.Detected+r.FalseOutage)
		}
		if d := r.Outages - r.Missed; d > 0 {
			r.LatencyMean /= float64(d)
			r.DurationErr /= float64(d)
		}
		out = append(out, *r)
	}
	return out
}

// Print writes rows as a table under title.
func Print(w io.Writer, title string, rows []Row) {
	fmt.Fprintf(w, "== %s\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tENTITIES\tUNMEAS\tOUT-ROUNDS\tDETECTED\tRECALL\tPRECISION\tHEALTHY\tFALSE-OUT\tFALSE-PART\tOUTAGES\tMISSED\tLAT-MEAN\tLAT-MAX\tDUR-ERR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%.2f\n", r.Level, r.Entities, r.Unmeasurable,
			r.OutageRounds, r.Detected, r.Recall, r.Precision, r.HealthyRounds, r.FalseOutage, r.FalsePartial,
			r.Outages, r.Missed, r.LatencyMean, r.LatencyMax, r.DurationErr)
	}
	tw.Flush()
}
