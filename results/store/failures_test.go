package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"darkwatch/results"
)

// testFailures stores failures, replaces one, selects them by time, refuses
// one without a stage, and retains only the recent ones.
func testFailures(t *testing.T, s *Store) {
	ctx := context.Background()
	r0, r1 := t0, t0.Add(11*time.Minute)
	fs := []results.Failure{
		{Vantage: "vp1", Round: 1, Time: r0, Stage: "census", Message: "census not loaded: store is down"},
		{Vantage: "vp2", Round: 1, Time: r0, Stage: "prober", Message: "no raw socket"},
		{Vantage: "vp1", Round: 2, Time: r1, Stage: "census", Message: "first"},
	}
	if err := s.PutFailures(ctx, fs); err != nil {
		t.Fatal(err)
	}
	fs[2].Message = "the last of the round stands"
	if err := s.PutFailures(ctx, fs[2:]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		since, until time.Time
		want         []results.Failure
	}{
		{"all", time.Time{}, time.Time{}, fs},
		{"first round", time.Time{}, r1, fs[:2]},
		{"second round", r1, r1.Add(time.Second), fs[2:]},
	} {
		got, err := s.Failures(ctx, c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if err := s.PutFailures(ctx, []results.Failure{{Vantage: "vp1", Time: r0}}); err == nil {
		t.Error("a failure without a stage was stored")
	}
	if _, err := s.Retain(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Failures(ctx, time.Time{}, time.Time{}); !reflect.DeepEqual(got, fs[2:]) {
		t.Errorf("after Retain: %+v, want only the second round's", got)
	}
}
