package report

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	now := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	t1 := now.Add(-time.Hour)
	for _, c := range []struct {
		name                 string
		since, until         time.Time
		wantSince, wantUntil time.Time
	}{
		{"neither", time.Time{}, time.Time{}, now.Add(-DefaultWindow), now},
		{"until", time.Time{}, t1, t1.Add(-DefaultWindow), t1},
		{"since", now.Add(-6 * time.Hour), time.Time{}, now.Add(-6 * time.Hour), now},
		{"both", now.Add(-6 * time.Hour), t1, now.Add(-6 * time.Hour), t1},
	} {
		s, u := Window(c.since, c.until, now)
		if !s.Equal(c.wantSince) || !u.Equal(c.wantUntil) {
			t.Errorf("%s: %v to %v, want %v to %v", c.name, s, u, c.wantSince, c.wantUntil)
		}
	}
	if got := Title(now.Add(-time.Hour), now); got != "darkwatch report, 2026-11-21T21:00:00Z to 2026-11-21T22:00:00Z" {
		t.Errorf("Title = %q", got)
	}
}
