package results

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"6h", now.Add(-6 * time.Hour), false},
		{"90s", now.Add(-90 * time.Second), false},
		{"2026-11-21T21:30:00Z", now.Add(-30 * time.Minute), false},
		{"2026-11-21T23:30:00+01:00", now.Add(30 * time.Minute), false},
		{"yesterday", time.Time{}, true},
		{"22:00", time.Time{}, true},
	} {
		got, err := ParseTime(c.in, now)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "neither an RFC 3339 time") {
				t.Errorf("ParseTime(%q) = %v, %v; want an error", c.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
