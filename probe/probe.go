// Package probe puts packets on the wire and turns replies into results.Records.
//
// Each method is one file and one entry in the registry (modules, probe.go):
// icmp.go, tcpsyn.go, trace.go and dns.go. A method's file holds, like a zmap
// probe module, how its probe is built, how a reply is matched to it and what
// record it makes, and the one-shot prober (Methods) that uses them; icmp and
// tcp also give the stateless Sweep (sweep.go) its sweep module, so each of
// their packets is written and read in one place. The files they share: reply.go
// (the one packet parser), checksum.go (the one Internet checksum), rawsock.go
// (raw sockets and the receive loop) and key.go (the keyed hash replies echo).
// What probes a list of targets once: targets.go turns arguments (addresses,
// blocks, host names) into Targets, and ProbeAll (all.go) probes many at once
// and hands their records over in order.
// It knows nothing of rounds, stores, verdicts or configuration files: callers
// hand it typed values.
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
	"slices"
	"sync"
	"syscall"
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

// Config is what every method needs, with each method's own options in its
// own field. Zero values mean the defaults below.
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
	// Proto is the transport of a method that offers a choice: trace's probes
	// are icmp (default), udp or tcp.
	Proto string

	// Permit is asked before any packet is sent to an address; a non-nil error
	// means the address must not be probed. Nil permits everything.
	Permit func(netip.Addr) error

	ICMP  ICMPOptions  // icmp only
	Trace TraceOptions // trace only
	DNS   DNSOptions   // dns only
}

// DNSOptions are the options of the dns method.
type DNSOptions struct {
	// NSID asks the server for its name server identifier (RFC 5001): the
	// query carries an EDNS OPT record with an empty NSID option.
	NSID bool
}

// ICMPOptions are the options of the icmp method.
type ICMPOptions struct {
	// Unprivileged forces the ICMP ping socket instead of a raw socket.
	Unprivileged bool
}

// TraceOptions are the options of the trace method.
type TraceOptions struct {
	FirstTTL int // default 1
	MaxTTL   int // default DefaultMaxTTL
	// GapLimit ends a trace after this many silent hops in a row (default
	// DefaultGapLimit).
	GapLimit int
	// Pace, when set, is called before each packet a trace sends and returns
	// when it may go: the caller's rate cap.
	Pace func(netip.Addr)
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
	if c.Proto == "" {
		c.Proto = "icmp"
	}
	if c.Contact == "" {
		c.Contact = DefaultContact
	}
	c.Trace = c.Trace.withDefaults()
	return c
}

// withDefaults returns o with every zero field set to its default.
func (o TraceOptions) withDefaults() TraceOptions {
	if o.FirstTTL <= 0 {
		o.FirstTTL = 1
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.GapLimit <= 0 {
		o.GapLimit = DefaultGapLimit
	}
	return o
}

// Check says what is wrong with c as the options of method before a prober
// is built from them: a count below 1, a TTL outside 0..255, a trace's
// protocol or TTL range.
func (c Config) Check(method string) error {
	if c.Count < 1 {
		return fmt.Errorf("count must be at least 1, not %d", c.Count)
	}
	if err := c.checkTTL(method); err != nil {
		return err
	}
	if method != results.MethodTrace {
		return nil
	}
	switch c.Proto {
	case "icmp", "udp", "tcp":
	default:
		return fmt.Errorf("trace proto %q: use icmp, udp or tcp", c.Proto)
	}
	if t := c.Trace; t.FirstTTL < 1 || t.MaxTTL > 255 || t.FirstTTL > t.MaxTTL {
		return fmt.Errorf("first TTL %d and max TTL %d must satisfy 1 <= first <= max <= 255", t.FirstTTL, t.MaxTTL)
	}
	return nil
}

// checkTTL rejects a TTL outside 0..255, naming the method.
func (c *Config) checkTTL(method string) error {
	if c.TTL < 0 || c.TTL > 255 {
		return fmt.Errorf("probe: %s: ttl %d is not in 1..255", method, c.TTL)
	}
	return nil
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

// module is one probe method: its one-shot prober and, when a stateless sweep
// can send its probes, its sweep module. The two share the method's packet
// building, reply matching and record making, which live in the method's file.
type module struct {
	newProber func(Config) (Prober, error)
	sweep     sweepModule // nil: the method cannot sweep
}

// modules is the registry of methods by name. Adding a method is one file (its
// prober and, if it can sweep, its sweep module) and one entry here.
var modules = map[string]module{
	results.MethodICMP:  {func(c Config) (Prober, error) { return NewICMP(c) }, icmpSweep{}},
	results.MethodTCP:   {func(c Config) (Prober, error) { return NewTCP(c) }, tcpSweep{}},
	results.MethodTrace: {func(c Config) (Prober, error) { return NewTrace(c) }, nil},
	results.MethodDNS:   {func(c Config) (Prober, error) { return NewDNS(c) }, nil},
}

// Methods maps a method name to its prober's constructor, as the registry
// (modules) has them.
var Methods = proberConstructors()

// proberConstructors is Methods, read from the registry.
func proberConstructors() map[string]func(Config) (Prober, error) {
	m := make(map[string]func(Config) (Prober, error), len(modules))
	for name, mod := range modules {
		m[name] = mod.newProber
	}
	return m
}

// SweepMethods returns the names of the methods a Sweep can send, sorted.
func SweepMethods() []string {
	var names []string
	for name, mod := range modules {
		if mod.sweep != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// ErrPermission is returned when a raw socket cannot be opened for lack of
// CAP_NET_RAW (and, for ICMP, no ping socket is allowed either).
var ErrPermission = errors.New("probe: raw sockets need CAP_NET_RAW: run as root or `sudo setcap cap_net_raw+ep $(command -v darkwatch)`")

// ErrBlocked wraps a refusal by Config.Permit.
var ErrBlocked = errors.New("probe: address is blocklisted")

// newRecord is the record of the n-th probe (0 for one that has no number) of
// t by method, before anything is sent.
func newRecord(c *Config, method string, t Target, n int) results.Record {
	return results.Record{
		Time: time.Now().UTC(), Vantage: c.Vantage, Round: c.Round, Method: method,
		Target: t.Addr.String(), Seq: n,
	}
}

// blockedRecord is the record of a probe that Permit refused: nothing was sent.
func blockedRecord(c *Config, method string, t Target, err error) results.Record {
	rec := newRecord(c, method, t, 0)
	rec.Outcome, rec.Error = results.OutcomeError, fmt.Sprintf("not sent: %v", err)
	return rec
}

// errTimeout is await's error when no answer came in time.
var errTimeout = errors.New("probe: no answer in time")

// await waits up to timeout for the answer on got. It fails with errTimeout,
// the context's error, or errClosed when done is closed first.
func await[A any](ctx context.Context, got <-chan A, timeout time.Duration, done <-chan struct{}) (A, error) {
	var zero A
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-got:
		return a, nil
	case <-timer.C:
		return zero, errTimeout
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-done:
		return zero, errClosed
	}
}

// heard is when a prober's reader took an answer, and the TTL or hop limit
// it arrived with.
type heard struct {
	at  time.Time
	ttl int
}

func (h heard) heardAt() heard { return h }

// exchange sends a probe with send, stamping rec.Time, and waits up to
// timeout for its answer on got. A probe the kernel would not send, that
// timed out or was cut short is final in rec and ok is false; an answer
// fills in rec's RTT and reply TTL and is returned for the caller to read.
func exchange[A interface{ heardAt() heard }](ctx context.Context, rec *results.Record, send func() error,
	got <-chan A, timeout time.Duration, done <-chan struct{}) (a A, ok bool) {
	sent := time.Now()
	rec.Time = sent.UTC()
	if err := send(); err != nil {
		rec.Outcome, rec.Error = sendFailure(err), err.Error()
		return a, false
	}
	a, err := await(ctx, got, timeout, done)
	switch {
	case errors.Is(err, errTimeout):
		rec.Outcome = results.OutcomeTimeout
		return a, false
	case err != nil:
		rec.Outcome, rec.Error = results.OutcomeError, err.Error()
		return a, false
	}
	h := a.heardAt()
	rec.RTTms, rec.ReplyTTL = rttMillis(h.at.Sub(sent)), h.ttl
	return a, true
}

// sendFailure is the outcome of a probe whose packet the kernel would not send:
// unreachable when there is no route, else error.
func sendFailure(err error) string {
	if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
		return results.OutcomeUnreachable
	}
	return results.OutcomeError
}

// spacedProbes calls probe(1) … probe(count), concurrently, each interval
// after the one before went out: probe calls sent once its packet is on the
// wire (returning counts as sent), so that the n-th probe never goes out
// before the one before it, however late the scheduler runs it. It returns
// their records in order. After ctx is done the remaining calls start at
// once; probe must then return without sending.
func spacedProbes(ctx context.Context, count int, interval time.Duration, probe func(n int, sent func()) results.Record) []results.Record {
	recs := make([]results.Record, count)
	var wg sync.WaitGroup
	for i := range count {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		out := make(chan struct{})
		var once sync.Once
		sent := func() { once.Do(func() { close(out) }) }
		wg.Go(func() {
			defer sent()
			recs[i] = probe(i+1, sent)
		})
		select {
		case <-out:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	return recs
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

// errClosed is the error of a probe made on (or cut short by) a closed prober.
var errClosed = errors.New("probe: prober closed")
