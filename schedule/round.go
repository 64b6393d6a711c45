package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Rounds says when probing rounds start. Aligned rounds start at multiples of
// Length since the Unix epoch, shifted by a fixed per-vantage jitter, so that
// every vantage point runs round r at about the same time and numbers it the
// same; free-running rounds follow each other Length apart from whenever the
// prober started.
type Rounds struct {
	// Length is the time from one round's start to the next; it must be
	// positive.
	Length time.Duration
	// Jitter spreads aligned rounds: each vantage starts its rounds a fixed
	// offset in [0, Jitter) after the boundary, derived from its name, so that
	// vantages (and their reports to the collector) do not all fire at once.
	// It must be less than Length; free-running rounds ignore it.
	Jitter time.Duration
	// Align anchors rounds to the epoch (see Rounds).
	Align bool
}

// Validate says what is wrong with r, if anything.
func (r Rounds) Validate() error {
	switch {
	case r.Length <= 0:
		return fmt.Errorf("round length must be positive, not %v", r.Length)
	case r.Jitter < 0:
		return fmt.Errorf("round jitter must not be negative, not %v", r.Jitter)
	case r.Jitter >= r.Length:
		return fmt.Errorf("round jitter %v must be less than the round length %v", r.Jitter, r.Length)
	}
	return nil
}

// Next returns when vantage's next round starts: for aligned rounds, the first
// instant k·Length + Offset(vantage) after now (counting from the Unix epoch);
// for free-running ones, now + Length, so that a prober that passes the start
// of its last round keeps a steady period. Next panics if r is not valid.
func (r Rounds) Next(now time.Time, vantage string) time.Time {
	r.mustBeValid()
	if !r.Align {
		return now.Add(r.Length)
	}
	l, j := int64(r.Length), int64(r.Offset(vantage))
	k := floorDiv(now.UnixNano()-j, l) + 1
	return time.Unix(0, k*l+j).In(now.Location())
}

// Offset is vantage's jitter: a stable hash of its name, in [0, Jitter).
func (r Rounds) Offset(vantage string) time.Duration {
	if r.Jitter <= 0 {
		return 0
	}
	// FNV-1a 64 of a domain tag and the name, mixed: stable across versions,
	// as all vantages' notions of each other's offsets must be.
	h := uint64(14695981039346656037)
	for _, s := range [...]string{"darkwatch round jitter\xff", vantage} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
	}
	return time.Duration(mix64(h) % uint64(r.Jitter))
}

// Number is the number of the round that starts at t: the Length-long slot of
// the epoch that t falls in. For aligned rounds the start of round k
// (k·Length + jitter, the jitter being less than Length) has number k on every
// vantage. Number a round by its start time and stamp every record of the
// round with that: a time late in a round may fall in the next slot. Number
// panics if r is not valid.
func (r Rounds) Number(t time.Time) int64 {
	r.mustBeValid()
	return floorDiv(t.UnixNano(), int64(r.Length))
}

// Start is when aligned round k starts on vantage, in UTC; Number(Start(k, v))
// is k.
func (r Rounds) Start(k int64, vantage string) time.Time {
	r.mustBeValid()
	return time.Unix(0, k*int64(r.Length)+int64(r.Offset(vantage))).UTC()
}

func (r Rounds) mustBeValid() {
	if err := r.Validate(); err != nil {
		panic("schedule: " + err.Error())
	}
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// IsTrace reports whether method (as written in the configuration: "trace",
// "trace:udp") is a traceroute.
func IsTrace(method string) bool {
	name, _, _ := strings.Cut(method, ":")
	return name == "trace"
}

// MethodMix returns the methods that run in round: all of them, except that
// traceroutes (see IsTrace), which cost many packets, run only every
// traceEvery-th round, when round % traceEvery == 0, the same rounds on every
// vantage. A traceEvery of 1 or less traces every round. The result is a new
// slice in the order of methods.
func MethodMix(methods []string, traceEvery int, round int64) []string {
	trace := traceEvery <= 1 || round%int64(traceEvery) == 0
	out := make([]string, 0, len(methods))
	for _, m := range methods {
		if trace || !IsTrace(m) {
			out = append(out, m)
		}
	}
	return out
}
