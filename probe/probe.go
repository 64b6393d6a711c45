// Package probe puts packets on the wire and turns replies into results.Records:
// one file per method (icmp.go, tcpsyn.go, trace.go, dns.go) and the reply parsers
// they share. It knows nothing of rounds, stores, verdicts or configuration files:
// callers hand it typed values.
//
// Raw sockets see every packet on the host, so every reply is validated against
// what it must echo (ICMP id/seq and payload token, TCP seq/ack, the header quoted
// in an ICMP error, the DNS id) and never matched by arrival order. Two darkwatch
// processes probing at once never take each other's replies.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"darkwatch/results"
)

// Target is one thing to probe.
type Target struct {
	Addr netip.Addr
	// Port is the TCP port (tcp), the destination port (trace udp/tcp) or the
	// server port (dns, default 53).
	Port uint16
	// Qname and Qtype are the DNS question (dns only).
	Qname string
	Qtype string
}

func (t Target) String() string { return t.Addr.String() }

// Config is what every method needs. Zero values mean the defaults below.
type Config struct {
	Vantage string
	Round   int64
	// Count is how many probes (echo requests, SYNs, queries) per target.
	Count int
	// Interval is the wait between two probes of one target.
	Interval time.Duration
	// Timeout is how long to wait for a reply to one probe.
	Timeout time.Duration
	// TTL is the IP TTL / hop limit of probes (0: the system default, 64).
	TTL int
	// Source, when valid, is the source address of probes.
	Source netip.Addr
	// Contact is carried in probe payloads where the protocol allows.
	Contact string

	// Trace settings.
	Proto    string // icmp (default), udp or tcp
	FirstTTL int    // default 1
	MaxTTL   int    // default 30
	// GapLimit ends a trace after this many silent hops in a row (default 5).
	GapLimit int

	// Unprivileged forces the ICMP ping socket instead of a raw socket.
	Unprivileged bool

	// Pace, when set, is called before each packet a trace sends and returns
	// when it may go: the caller's rate cap.
	Pace func(netip.Addr)

	// Permit is asked before any packet is sent to an address; a non-nil error
	// means the address must not be probed. Nil permits everything.
	Permit func(netip.Addr) error
}

// Defaults used where Config leaves a field zero.
const (
	DefaultCount    = 1
	DefaultTimeout  = 2 * time.Second
	DefaultInterval = 1 * time.Second
	DefaultMaxTTL   = 30
	DefaultGapLimit = 5
	DefaultContact  = "darkwatch measurement probe"
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Count <= 0 {
		c.Count = DefaultCount
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.FirstTTL <= 0 {
		c.FirstTTL = 1
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.GapLimit <= 0 {
		c.GapLimit = DefaultGapLimit
	}
	if c.Proto == "" {
		c.Proto = "icmp"
	}
	if c.Contact == "" {
		c.Contact = DefaultContact
	}
	return c
}

// permit applies c.Permit.
func (c *Config) permit(a netip.Addr) error {
	if c.Permit == nil {
		return nil
	}
	return c.Permit(a)
}

// Prober probes one target at a time and is safe for concurrent use by many
// goroutines; it owns its sockets until Close.
type Prober interface {
	// Probe sends cfg.Count probes to t and returns one record per probe (a trace
	// returns one record). Failures of the probe are outcomes in the records.
	Probe(ctx context.Context, t Target) []results.Record
	Close() error
}

// Methods maps a method name to its constructor; adding a method is one file and
// one entry here.
var Methods = map[string]func(Config) (Prober, error){
	results.MethodICMP:  func(c Config) (Prober, error) { return NewICMP(c) },
	results.MethodTCP:   func(c Config) (Prober, error) { return NewTCP(c) },
	results.MethodTrace: func(c Config) (Prober, error) { return NewTrace(c) },
	results.MethodDNS:   func(c Config) (Prober, error) { return NewDNS(c) },
}

// ErrPermission is returned when a raw socket cannot be opened for lack of
// CAP_NET_RAW (and, for ICMP, no ping socket is allowed either).
var ErrPermission = errors.New("probe: raw sockets need CAP_NET_RAW: run as root or `sudo setcap cap_net_raw+ep $(command -v darkwatch)`")

// ErrBlocked wraps a refusal by Config.Permit.
var ErrBlocked = errors.New("probe: address is blocklisted")

// blockedRecord is the record of a probe that Permit refused: nothing was sent.
func blockedRecord(c *Config, method string, t Target, err error) results.Record {
	return results.Record{
		Time: time.Now().UTC(), Vantage: c.Vantage, Round: c.Round, Method: method,
		Target: t.Addr.String(), Outcome: results.OutcomeError,
		Error: fmt.Sprintf("not sent: %v", err),
	}
}

// shutdown marks a prober closed and closes its done channel, once; the caller
// holds the prober's lock. It reports whether this call was the first.
func shutdown(closed *bool, done chan struct{}) bool {
	if *closed {
		return false
	}
	*closed = true
	close(done)
	return true
}

// rttMillis converts a duration to milliseconds with microsecond precision.
func rttMillis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
