package results

import (
	"slices"
	"time"
)

// Failure is a stage of a vantage point's round that failed and that the
// round went on without: the census or the beliefs not loaded or saved, a
// target set's space, a prober that would not open, the analysis after the
// round. Its Time is the start of the round.
type Failure struct {
	Vantage string
	Round   int64
	Time    time.Time
	Stage   string
	Message string
}

// String is the failure as a vantage verdict lists it: "stage: message".
func (f Failure) String() string { return f.Stage + ": " + f.Message }

// AddFailures lists each failure in the vantage verdict of its vantage
// point's round: the verdict of that vantage point from the round's start
// (f.Time) to the next, length later. With every set (vs holds every round
// of a span, and fs the failures of that span), a failure whose round has no
// vantage verdict gets one of its own, VerdictVantageUnknown at the round's
// start; else it is left out. vs keeps its order; the verdicts added follow.
func AddFailures(vs []Verdict, fs []Failure, length time.Duration, every bool) []Verdict {
	for _, f := range fs {
		i := slices.IndexFunc(vs, func(v Verdict) bool {
			return v.Level == LevelVantage && v.Entity == f.Vantage &&
				!v.Time.Before(f.Time) && v.Time.Before(f.Time.Add(length))
		})
		if i < 0 && !every {
			continue
		}
		if i < 0 {
			vs = append(vs, Verdict{Time: f.Time, Level: LevelVantage, Entity: f.Vantage, Verdict: VerdictVantageUnknown})
			i = len(vs) - 1
		}
		vs[i].Failures = append(vs[i].Failures, f.String())
	}
	return vs
}
