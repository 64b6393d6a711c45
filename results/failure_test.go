package results

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestAddFailures puts each failure in the vantage verdict of its round,
// and gives a round without one a verdict of its own.
func TestAddFailures(t *testing.T) {
	r0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	const length = 11 * time.Minute
	vs := []Verdict{
		{Time: r0.Add(2 * time.Second), Level: LevelBlock, Entity: "175.45.176.0/24", Verdict: VerdictReachable},
		{Time: r0.Add(2 * time.Second), Level: LevelVantage, Entity: "vp1", Verdict: VerdictHealthy},
		{Time: r0.Add(3 * time.Second), Level: LevelVantage, Entity: "vp2", Verdict: VerdictHealthy},
		{Time: r0.Add(length + time.Second), Level: LevelVantage, Entity: "vp1", Verdict: VerdictHealthy},
	}
	fs := []Failure{
		{Vantage: "vp1", Time: r0.Add(length), Stage: "census", Message: "store is down"},
		{Vantage: "vp1", Time: r0.Add(length), Stage: "beliefs", Message: "not saved"},
		{Vantage: "vp3", Time: r0, Stage: "prober", Message: "no raw socket"},
	}
	if got := AddFailures(slices.Clone(vs), fs[2:], length, false); !reflect.DeepEqual(got, vs) {
		t.Errorf("a failure of a round without a verdict was added to %+v", got)
	}
	got := AddFailures(vs, fs, length, true)
	want := []Verdict{vs[0], vs[1], vs[2], vs[3],
		{Time: r0, Level: LevelVantage, Entity: "vp3", Verdict: VerdictVantageUnknown, Failures: []string{"prober: no raw socket"}}}
	want[3].Failures = []string{"census: store is down", "beliefs: not saved"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AddFailures:\n got %+v\nwant %+v", got, want)
	}
	if AllReachable(got[3:4]) {
		t.Error("a healthy vantage verdict with failures counts as all reachable")
	}
	if !AllReachable(got[1:3]) {
		t.Error("healthy vantage verdicts without failures do not count as all reachable")
	}
}
