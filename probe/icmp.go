package probe

// This file is the icmp method: its module (the echo request, writeEcho; what
// answers it, readEcho; its record, echoOutcome), the one-shot prober ICMP and
// the sweep module icmpSweep.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"darkwatch/results"
)

// echoTokenLen is the length of the random token that starts every echo payload.
const echoTokenLen = 8

// ICMP probes targets with ICMP echo requests (ping), IPv4 and IPv6.
//
// With CAP_NET_RAW it uses raw ICMP sockets. A raw socket sees every ICMP message
// the host receives, including the replies of other pingers and of other
// darkwatch processes, so an echo reply is accepted only if it comes from the
// target, carries the prober's identifier and a pending sequence number, and its
// payload begins with the prober's random token. An ICMP error (destination
// unreachable, time exceeded, packet too big) that quotes one of the prober's
// echo requests gives the outcome unreachable. Everything else is dropped.
//
// Without CAP_NET_RAW, or with Config.Unprivileged, it uses the kernel's ping
// sockets ("udp4"/"udp6", allowed by net.ipv4.ping_group_range). There the kernel
// owns the identifier and hands the socket only its own echo replies; ICMP errors
// do not reach an unconnected ping socket, so an unreachable target shows as a
// timeout.
//
// One goroutine per socket reads replies and hands them to the waiting probes.
// Sequence numbers come from one counter per prober, so concurrent probes of many
// targets never share one.
type ICMP struct {
	cfg   Config
	id    uint16 // echo identifier (raw sockets; the kernel sets it on ping sockets)
	token [echoTokenLen]byte
	raw   bool
	// open opens the socket of one family; tests replace it.
	open func(v6, raw bool) (echoConn, error)
	done chan struct{} // closed by Close

	mu      sync.Mutex
	socks   [2]echoConn // IPv4, IPv6; opened on first use
	sockErr [2]error
	seq     uint16 // last sequence number handed out, under pending's lock
	pending waits[uint16, echoAnswer]
	closed  bool

	wg      sync.WaitGroup // receive goroutines
	ignored atomic.Uint64  // packets read and dropped as not ours
}

// echoAnswer is what came back for one echo request: an echo reply or an ICMP
// error quoting the request.
type echoAnswer struct {
	heard
	msg ICMPReply
}

// NewICMP returns an ICMP prober. It opens the socket of the family of
// cfg.Source (IPv4 when Source is unset) at once, to learn which kind of socket
// it may use, and the other family's on first use, so that a host without IPv6
// still probes IPv4. Only the socket of Source's family is bound to it.
//
// The error wraps ErrPermission when neither a raw socket nor a ping socket is
// allowed.
func NewICMP(cfg Config) (*ICMP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.checkTTL(results.MethodICMP); err != nil {
		return nil, err
	}
	p := newICMP(cfg)
	p.open = func(v6, raw bool) (echoConn, error) { return openEcho(v6, raw, cfg.Source, cfg.TTL) }
	if err := p.start(cfg.Source.IsValid() && !cfg.Source.Unmap().Is4()); err != nil {
		return nil, err
	}
	return p, nil
}

// newICMP returns a prober with a random identifier, token and first sequence
// number, and no sockets.
func newICMP(cfg Config) *ICMP {
	p := &ICMP{cfg: cfg, done: make(chan struct{})}
	var r [2 + echoTokenLen + 2]byte
	rand.Read(r[:]) // never fails (crypto/rand)
	p.id = binary.BigEndian.Uint16(r[0:2])
	copy(p.token[:], r[2:2+echoTokenLen])
	p.seq = binary.BigEndian.Uint16(r[2+echoTokenLen:])
	return p
}

// start opens the first socket: raw if allowed and not declined, else ping.
func (p *ICMP) start(v6 bool) error {
	var rawErr error
	if !p.cfg.ICMP.Unprivileged {
		c, err := p.open(v6, true)
		if err == nil {
			p.raw = true
			p.adopt(c, v6)
			return nil
		}
		if !isPermission(err) {
			return fmt.Errorf("probe: icmp: raw socket: %w", err)
		}
		rawErr = err
	}
	c, err := p.open(v6, false)
	if err == nil {
		p.adopt(c, v6)
		return nil
	}
	if !isPermission(err) {
		return fmt.Errorf("probe: icmp: ping socket: %w", err)
	}
	why := "raw socket declined (unprivileged)"
	if rawErr != nil {
		why = "raw socket: " + rawErr.Error()
	}
	return fmt.Errorf("%w; and the unprivileged ping socket is not allowed either (%v): "+
		"group %d is outside net.ipv4.ping_group_range %s, which `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` widens (%s)",
		ErrPermission, err, os.Getgid(), pingGroupRange(), why)
}

// pingGroupRange is the current value of net.ipv4.ping_group_range, quoted.
func pingGroupRange() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		return "(unreadable)"
	}
	return fmt.Sprintf("%q", strings.Join(strings.Fields(string(b)), " "))
}

// adopt makes c the socket of its family and starts its receive goroutine.
// The caller holds p.mu or has not shared p yet.
func (p *ICMP) adopt(c echoConn, v6 bool) {
	p.socks[family(v6)] = c
	p.wg.Add(1)
	go p.receive(c, v6)
}

// socket returns the socket of a family, opening it on first use.
func (p *ICMP) socket(v6 bool) (echoConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	f := family(v6)
	if p.socks[f] != nil {
		return p.socks[f], nil
	}
	if p.sockErr[f] != nil {
		return nil, p.sockErr[f]
	}
	c, err := p.open(v6, p.raw)
	if err != nil {
		name := "ipv4"
		if v6 {
			name = "ipv6"
		}
		p.sockErr[f] = fmt.Errorf("probe: icmp: %s socket: %w", name, err)
		return nil, p.sockErr[f]
	}
	p.adopt(c, v6)
	return c, nil
}

// Probe sends cfg.Count echo requests to t, cfg.Interval apart, and returns one
// record per request, in order. A target that cfg.Permit refuses gets one
// record and no packet.
func (p *ICMP) Probe(ctx context.Context, t Target) []results.Record {
	if err := p.cfg.permit(t.Addr); err != nil {
		return []results.Record{blockedRecord(&p.cfg, results.MethodICMP, t, err)}
	}
	return spacedProbes(ctx, p.cfg.Count, p.cfg.Interval, func(n int, sent func()) results.Record {
		return p.echo(ctx, t, n, sent)
	})
}

// echo sends the n-th echo request of a probe to t, calls sent, and waits
// for its answer.
func (p *ICMP) echo(ctx context.Context, t Target, n int, sent func()) results.Record {
	rec := newRecord(&p.cfg, results.MethodICMP, t, n)
	fail := func(outcome string, err error) results.Record {
		rec.Outcome, rec.Error = outcome, err.Error()
		return rec
	}
	dst := t.Addr.Unmap()
	if !dst.IsValid() {
		return fail(results.OutcomeError, errors.New("not sent: invalid address"))
	}
	if err := ctx.Err(); err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	c, err := p.socket(dst.Is6())
	if err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	seq, w, ok := p.pending.add(dst.WithZone(""), 1<<16, func() uint16 { p.seq++; return p.seq })
	if !ok {
		return fail(results.OutcomeError, errors.New("not sent: probe: icmp: every sequence number is in use"))
	}
	defer p.pending.forget(seq, w)

	b := echoRequest(dst.Is6(), p.id, seq, p.token, p.cfg.Contact)
	if a, ok := exchange(ctx, &rec, func() error { defer sent(); return c.WriteTo(b, dst) }, w.got, p.cfg.Timeout, p.done); ok {
		rec.Outcome, rec.ICMP = echoOutcome(&a.msg)
	}
	return rec
}

// receive reads socket c until the prober is closed and dispatches what it reads.
func (p *ICMP) receive(c echoConn, v6 bool) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, ttl, src, err := c.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // a transient error; do not spin
			continue
		}
		p.dispatch(buf[:n], v6, src, ttl, at)
	}
}

// dispatch hands one message read from a socket to the probe it answers and
// reports whether there was one. Anything else is counted and dropped.
func (p *ICMP) dispatch(b []byte, v6 bool, src netip.Addr, ttl int, at time.Time) bool {
	var w *wait[echoAnswer]
	e, ok := readEcho(b, v6, src)
	if ok && (!p.raw || e.id == p.id) && p.carriesToken(&e) {
		w = p.pending.take(e.seq, e.target.Unmap().WithZone(""))
	}
	if w == nil {
		p.ignored.Add(1)
		return false
	}
	e.msg.Data = nil // b is the receive buffer, about to be reused
	e.msg.Quoted.Payload = nil
	w.got <- echoAnswer{heard{at, ttl}, e.msg}
	return true
}

// carriesToken reports whether the request an answer echoes carried the
// prober's token. RFC 792 routers quote only 8 bytes past the IP header; an
// error that quotes no payload is taken on its identifier and sequence number.
func (p *ICMP) carriesToken(e *echoed) bool {
	if e.msg.IsError() && len(e.payload) < echoTokenLen {
		return true
	}
	return bytes.HasPrefix(e.payload, p.token[:])
}

// Close stops the receive goroutines and closes the sockets. Probes still
// waiting end with an error.
func (p *ICMP) Close() error {
	p.mu.Lock()
	first := shutdown(&p.closed, p.done)
	socks := p.socks
	p.mu.Unlock()
	if !first {
		return nil
	}
	var errs []error
	for _, c := range socks {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

// The icmp method module: the echo request, what answers it, its record. The
// prober above, the sweep (icmpSweep) and trace all use these.

// writeEcho writes into b an ICMP (v6 false) or ICMPv6 echo request with
// identifier id, sequence number seq and payload head followed by tail, and
// returns its length. The ICMPv4 checksum is filled in; the ICMPv6 checksum is
// left zero for the kernel, which computes it over the IPv6 pseudo-header on
// raw and ping sockets alike. b must hold 8+len(head)+len(tail) bytes.
func writeEcho(b []byte, v6 bool, id, seq uint16, head []byte, tail string) int {
	n := 8 + copy(b[8:], head)
	n += copy(b[n:], tail)
	b[0], b[1], b[2], b[3] = icmp4Echo, 0, 0, 0
	if v6 {
		b[0] = icmp6Echo
	}
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:4], checksum(0, b[:n]))
	}
	return n
}

// echoRequest returns the echo request of the prober: the token, then the
// contact string.
func echoRequest(v6 bool, id, seq uint16, token [echoTokenLen]byte, contact string) []byte {
	b := make([]byte, 8+echoTokenLen+len(contact))
	return b[:writeEcho(b, v6, id, seq, token[:], contact)]
}

// echoed is what an answer tells of the echo request it answers.
type echoed struct {
	target  netip.Addr // where the request went
	id, seq uint16
	// payload is the request's payload as the answer echoes or quotes it:
	// whole in an echo reply, cut short or missing in an error.
	payload []byte
	msg     ICMPReply
}

// readEcho reads an ICMP (v6 false) or ICMPv6 message, without its IP header,
// that from sent, as an answer to an echo request: an echo reply, or an error
// (unreachable, time exceeded, packet too big) that quotes an echo request.
// Anything else gives false. Which request, and whose, the caller checks.
func readEcho(b []byte, v6 bool, from netip.Addr) (echoed, bool) {
	m, err := ParseICMP(b, v6)
	if err != nil {
		return echoed{}, false
	}
	return answersEcho(&m, from)
}

// answersEcho is readEcho of a parsed message.
func answersEcho(m *ICMPReply, from netip.Addr) (echoed, bool) {
	switch {
	case m.IsEchoReply():
		return echoed{target: from.Unmap().WithZone(""), id: m.ID, seq: m.Seq, payload: m.Data, msg: *m}, true
	case m.IsError():
		q := &m.Quoted
		proto, typ := uint8(protoICMP), uint8(icmp4Echo)
		if m.V6 {
			proto, typ = protoICMPv6, icmp6Echo
		}
		if q.Proto != proto || q.ICMPType != typ {
			return echoed{}, false
		}
		return echoed{target: q.Dst.Unmap(), id: q.ICMPID, seq: q.ICMPSeq, payload: q.Payload, msg: *m}, true
	}
	return echoed{}, false
}

// echoOutcome is the outcome of an echo request answered by m, and the ICMP
// name its record shows: reply for an echo reply, else unreachable and the
// error's name.
func echoOutcome(m *ICMPReply) (outcome, icmp string) {
	if m.IsEchoReply() {
		return results.OutcomeReply, ""
	}
	return results.OutcomeUnreachable, m.Name()
}

// icmpSweep is the sweep module of icmp: an ICMP (ICMPv6) echo request whose
// identifier and sequence number are the keyed hash of the probe, and whose
// payload is its send time and the contact string. Only echo replies count.
type icmpSweep struct{}

func (icmpSweep) proto(v6 bool) uint8 {
	if v6 {
		return protoICMPv6
	}
	return protoICMP
}

func (icmpSweep) build(b *ProbeBuilder, buf []byte, dst netip.Addr, h uint64) int {
	var stamp [8]byte
	binary.BigEndian.PutUint64(stamp[:], b.stamp)
	c := b.contact
	if len(c) > maxContact {
		c = c[:maxContact]
	}
	return writeEcho(buf, dst.Is6(), uint16(h>>16), uint16(h), stamp[:], c)
}

func (icmpSweep) validate(b *ProbeBuilder, ip ipHeader, p []byte) (Reply, bool) {
	e, ok := readEcho(p, ip.src.Is6(), ip.src)
	if !ok || !e.msg.IsEchoReply() || e.msg.Code != 0 {
		return Reply{}, false
	}
	h := b.hash(ip.src)
	if e.id != uint16(h>>16) || e.seq != uint16(h) {
		return Reply{}, false
	}
	r := Reply{From: ip.src, TTL: ip.ttl}
	r.Outcome, _ = echoOutcome(&e.msg)
	if len(e.payload) >= 8 {
		r.SentNanos = int64(binary.BigEndian.Uint64(e.payload[:8]))
	}
	return r, true
}
