package main

import (
	"darkwatch/internal/cli"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseSpan: times and durations back from now are read, and a bad value
// is a usage error naming its flag.
func TestParseSpan(t *testing.T) {
	now := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	t0, t1, err := parseSpan("6h", "2026-11-21T21:30:00Z", now)
	if err != nil || !t0.Equal(now.Add(-6*time.Hour)) || !t1.Equal(now.Add(-30*time.Minute)) {
		t.Errorf("parseSpan = %v, %v, %v", t0, t1, err)
	}
	for _, c := range [][3]string{{"yesterday", "", "--since"}, {"", "22:00", "--until"}} {
		_, _, err := parseSpan(c[0], c[1], now)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != cli.Usage || !strings.Contains(err.Error(), c[2]) {
			t.Errorf("parseSpan(%q, %q) = %v, want a usage error naming %s", c[0], c[1], err, c[2])
		}
	}
}
