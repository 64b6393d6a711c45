package results

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Validate says what makes r unfit to be kept, or nil: a record needs a
// vantage, a method, a target and a time the stores can hold (Unix
// nanoseconds, 1678 to 2262), and its text must be UTF-8 without NUL bytes
// (what PostgreSQL's text holds). The stores refuse what it refuses, and the
// collector checks every record it receives with it, so that one record a
// store would refuse never reaches the store.
func (r *Record) Validate() error {
	switch {
	case r.Vantage == "":
		return errors.New("no vantage")
	case r.Method == "":
		return errors.New("no method")
	case r.Target == "":
		return errors.New("no target")
	}
	if err := ValidTime(r.Time); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"vantage", r.Vantage}, {"method", r.Method}, {"target", r.Target}, {"outcome", r.Outcome},
		{"icmp", r.ICMP}, {"error", r.Error}, {"proto", r.Proto},
		{"qname", r.Qname}, {"qtype", r.Qtype}, {"rcode", r.Rcode},
		{"source", r.Source}, {"nsid", r.NSID},
	} {
		if err := ValidText(f.v); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	for _, h := range r.Hops {
		if err := ValidText(h.Addr + h.ICMP); err != nil {
			return fmt.Errorf("hop %d: %w", h.TTL, err)
		}
	}
	for i, rr := range r.Answer {
		if err := ValidText(rr.Name + rr.Type + rr.Class + rr.Data); err != nil {
			return fmt.Errorf("answer %d: %w", i+1, err)
		}
	}
	return nil
}

// ValidTime refuses a zero time and one outside what Unix nanoseconds in
// an int64 hold.
func ValidTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("no time")
	}
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return fmt.Errorf("time %v out of range", t)
	}
	return nil
}

// ValidText refuses what PostgreSQL's text cannot hold, so that every store
// takes the same records.
func ValidText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not UTF-8", s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%q holds a NUL byte", s)
	}
	return nil
}
