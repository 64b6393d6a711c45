package results

import (
	"fmt"
	"time"
)

// ParseTime reads a time as verdicts, reports and exports are asked for:
// an RFC 3339 time (2026-11-21T22:00:00Z), in UTC, or a duration back from
// now (6h). "" is the zero time.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-21T22:00:00Z) nor a duration (6h)", s)
	}
	return t.UTC(), nil
}
