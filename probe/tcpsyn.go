package probe

// This file is the tcp method: its module (the SYN, writeSYN; what answers it,
// readSYNReply and readSYNError), the one-shot half-open prober TCP and the
// sweep module tcpSweep.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"darkwatch/results"
)

// SYN header values: a plain window and an MSS option, as an ordinary stack sends.
const (
	synWindow = 65535
	synMSS4   = 1460 // 1500 - 20 (IPv4) - 20 (TCP)
	synMSS6   = 1440 // 1500 - 40 (IPv6) - 20 (TCP)
)

// Ephemeral ports (Linux's default net.ipv4.ip_local_port_range) from which a
// prober draws its source port.
const (
	ephemeralFirst = 32768
	ephemeralLast  = 60999
)

// TCP probes TCP ports with half-open SYN probes on raw sockets, IPv4 and IPv6:
// no connect(), no socket in the kernel's table.
//
// A prober draws one random source port from the ephemeral range and one Key.
// The initial sequence number of a SYN is the keyed hash of (source,
// destination, destination port, source port and a per-probe counter), so a
// reply is ours only if it comes from the target's port to our source port and
// acknowledges exactly that number plus one; an ICMP error is ours only if it
// quotes a SYN of ours with that sequence number. A SYN-ACK means open, a RST
// closed, an ICMP error unreachable (with its name), silence timeout. The
// kernel, which knows nothing of the half-open connection, answers the SYN-ACK
// with a RST: expected and harmless.
//
// Raw sockets see every TCP segment and ICMP message the host receives;
// everything that fails the checks is counted and dropped. Two probers, even
// with the same source port, never accept each other's replies: their keys
// differ.
type TCP struct {
	cfg   Config
	key   Key
	sport uint16
	done  chan struct{}

	mu      sync.Mutex
	socks   familySockets // tcp: sends SYNs and reads replies; icmp: reads errors
	pending waits[synKey, synAnswer]
	closed  bool
	counter uint32 // probes sent, part of each SYN's hash; under pending's lock

	wg      sync.WaitGroup
	matched atomic.Uint64 // replies accepted
	foreign atomic.Uint64 // segments to our source port, or errors quoting it, that were not ours
}

// synKey names a pending SYN by what its reply echoes: the target, its port and
// the acknowledgement number (our sequence number plus one).
type synKey struct {
	addr netip.Addr
	port uint16
	ack  uint32
}

// synAnswer is what came back for one SYN.
type synAnswer struct {
	heard
	outcome string // open, closed or unreachable
	icmp    string // ICMP name for unreachable
}

// NewTCP returns a TCP SYN prober with raw sockets for IPv4 and, where the host
// has it, IPv6. The error wraps ErrPermission without CAP_NET_RAW.
func NewTCP(cfg Config) (*TCP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.checkTTL(results.MethodTCP); err != nil {
		return nil, err
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	sport := ephemeralFirst + binary.BigEndian.Uint16(r[:])%(ephemeralLast-ephemeralFirst+1)
	var socks familySockets
	for _, v6 := range []bool{false, true} {
		s, err := openTCPSockets(v6, cfg.Source, cfg.TTL, sport)
		if err != nil {
			if isPermission(err) || !v6 {
				for _, s := range socks {
					s.close()
				}
				if isPermission(err) {
					return nil, fmt.Errorf("%w (tcp: %v)", ErrPermission, err)
				}
				return nil, fmt.Errorf("probe: tcp: ipv4 sockets: %w", err)
			}
			s.err = fmt.Errorf("probe: tcp: ipv6 sockets: %w", err)
		}
		socks[family(v6)] = s
	}
	return newTCP(cfg, NewKey(), sport, socks), nil
}

// newTCP returns a prober over the given sockets and starts their receivers.
func newTCP(cfg Config, key Key, sport uint16, socks familySockets) *TCP {
	p := &TCP{cfg: cfg, key: key, sport: sport, socks: socks, done: make(chan struct{})}
	for i, s := range socks {
		if s.err == nil && s.tcp != nil {
			p.wg.Add(2)
			go p.receive(s.tcp, i == 1, false)
			go p.receive(s.icmp, i == 1, true)
		}
	}
	return p
}

// openTCPSockets opens the raw TCP and ICMP sockets of one family. The TCP
// socket's kernel filter passes only segments to sport, so that the prober does
// not read every TCP segment the host receives.
func openTCPSockets(v6 bool, src netip.Addr, ttl int, sport uint16) (rawSockets, error) {
	t, err := openRaw(v6, protoTCP, src)
	if err != nil {
		return rawSockets{}, err
	}
	if err := t.setTTL(ttl); err != nil {
		t.Close()
		return rawSockets{}, err
	}
	if err := t.setBPF(dstPortFilter(v6, sport)); err != nil {
		t.Close()
		return rawSockets{}, err
	}
	i, err := openRawICMP(v6)
	if err != nil {
		t.Close()
		return rawSockets{}, err
	}
	return rawSockets{send: t, tcp: t, icmp: i}, nil
}

// Probe sends cfg.Count SYNs to t.Addr port t.Port, cfg.Interval apart, and
// returns one record per SYN (Seq 1..Count).
func (p *TCP) Probe(ctx context.Context, t Target) []results.Record {
	if err := p.cfg.permit(t.Addr); err != nil {
		rec := blockedRecord(&p.cfg, results.MethodTCP, t, err)
		rec.Port = int(t.Port)
		return []results.Record{rec}
	}
	return spacedProbes(ctx, p.cfg.Count, p.cfg.Interval, func(n int, sent func()) results.Record {
		return p.syn(ctx, t, n, sent)
	})
}

// syn sends the n-th SYN of a probe of t, calls sent, and waits for its
// answer.
func (p *TCP) syn(ctx context.Context, t Target, n int, sent func()) results.Record {
	rec := newRecord(&p.cfg, results.MethodTCP, t, n)
	rec.Port = int(t.Port)
	fail := func(outcome string, err error) results.Record {
		rec.Outcome, rec.Error = outcome, err.Error()
		return rec
	}
	dst := t.Addr.Unmap().WithZone("")
	switch {
	case !dst.IsValid():
		return fail(results.OutcomeError, errors.New("not sent: invalid address"))
	case t.Port == 0:
		return fail(results.OutcomeError, errors.New("not sent: no port"))
	}
	c, src, outcome, err := sendPath(ctx, p.socket, p.cfg.Source, dst)
	if err != nil {
		return fail(outcome, err)
	}
	// A key already waiting is a 2^-32 coincidence: draw again.
	k, w, ok := p.pending.add(src, 16, func() synKey {
		p.counter++
		return synKey{dst, t.Port, p.key.Sum32(src, dst, t.Port, uint64(p.sport)<<32|uint64(p.counter)) + 1}
	})
	if !ok {
		return fail(results.OutcomeError, errors.New("not sent: probe: tcp: no free sequence number"))
	}
	defer p.pending.forget(k, w)
	seq := k.ack - 1

	b := buildSYN(src, dst, p.sport, t.Port, seq)
	if a, ok := exchange(ctx, &rec, func() error { defer sent(); return c.WriteTo(b, dst, src, 0) }, w.got, p.cfg.Timeout, p.done); ok {
		rec.Outcome, rec.ICMP = a.outcome, a.icmp
	}
	return rec
}

// socket returns the raw TCP socket of a family.
func (p *TCP) socket(v6 bool) (rawConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.socks.sender(p.closed, v6)
}

// receive reads one socket until the prober is closed.
func (p *TCP) receive(c rawConn, v6, icmp bool) {
	defer p.wg.Done()
	readLoop(c, p.done, func(b []byte, src netip.Addr, ttl int, at time.Time) {
		if icmp {
			p.dispatchICMP(b, v6, src, ttl, at)
		} else {
			p.dispatchTCP(b, v6, src, ttl, at)
		}
	})
}

// dispatchTCP hands a TCP segment read from the raw socket to the SYN it
// answers, if any, and reports whether there was one.
func (p *TCP) dispatchTCP(b []byte, v6 bool, src netip.Addr, hopLimit int, at time.Time) bool {
	s, err := ParseTCP(b, v6)
	if err != nil || s.DstPort != p.sport {
		return false
	}
	ttl := int(s.TTL)
	if v6 {
		s.Src, ttl = src, hopLimit
	}
	a, ok := readSYNReply(&s)
	return p.deliver(a, ok, synAnswer{heard: heard{at, ttl}, outcome: a.outcome})
}

// dispatchICMP hands an ICMP error that quotes one of our SYNs to that SYN.
// Who sent it (src) is not kept: a TCP record has no field for it.
func (p *TCP) dispatchICMP(b []byte, v6 bool, src netip.Addr, hopLimit int, at time.Time) bool {
	ttl := hopLimit
	if !v6 {
		var t uint8
		var err error
		if b, _, t, err = StripIPv4(b); err != nil {
			return false
		}
		ttl = int(t)
	}
	m, err := ParseICMP(b, v6)
	if err != nil {
		return false
	}
	a, ok := readSYNError(&m)
	if !ok || a.sport != p.sport {
		return false
	}
	return p.deliver(a, true, synAnswer{heard{at, ttl}, a.outcome, a.kind})
}

// deliver hands ans to the SYN that a answers, if a is an answer (ok) and that
// SYN is waiting; anything else is counted as foreign.
func (p *TCP) deliver(a synReply, ok bool, ans synAnswer) bool {
	var w *wait[synAnswer]
	if ok {
		w = p.pending.take(synKey{a.target, a.port, a.seq + 1}, a.local)
	}
	if w == nil {
		p.foreign.Add(1)
		return false
	}
	p.matched.Add(1)
	w.got <- ans
	return true
}

// Close stops the receivers and closes the sockets. Probes still waiting end
// with an error.
func (p *TCP) Close() error {
	return p.socks.shutdown(&p.mu, &p.closed, p.done, &p.wg)
}

// The tcp method module: the SYN, what answers it, its record. The prober
// above, the sweep (tcpSweep) and trace all use these.

// writeSYN writes into b (at least 24 bytes) a SYN from src:sport to dst:dport
// with initial sequence number seq and, when mss > 0, an MSS option, its
// checksum computed over the IPv4 or IPv6 pseudo-header, and returns its
// length. Whoever sends it adds the IP header.
func writeSYN(b []byte, src, dst netip.Addr, sport, dport uint16, seq uint32, mss uint16) int {
	n := tcpLen
	if mss > 0 {
		n += 4
		b[20], b[21] = 2, 4 // MSS option (RFC 9293), length 4
		binary.BigEndian.PutUint16(b[22:24], mss)
	}
	t := b[:n]
	binary.BigEndian.PutUint16(t[0:2], sport)
	binary.BigEndian.PutUint16(t[2:4], dport)
	binary.BigEndian.PutUint32(t[4:8], seq)
	binary.BigEndian.PutUint32(t[8:12], 0)
	t[12], t[13] = byte(n/4)<<4, TCPFlagSYN
	binary.BigEndian.PutUint16(t[14:16], synWindow)
	binary.BigEndian.PutUint32(t[16:20], 0) // checksum, urgent pointer
	binary.BigEndian.PutUint16(t[16:18], checksum(pseudoSum(src, dst, protoTCP, n), t))
	return n
}

// buildSYN returns the SYN of the prober and of trace: with the MSS of a
// 1500-byte link, as an ordinary stack sends.
func buildSYN(src, dst netip.Addr, sport, dport uint16, seq uint32) []byte {
	mss := uint16(synMSS4)
	if dst.Is6() {
		mss = synMSS6
	}
	b := make([]byte, tcpLen+4)
	return b[:writeSYN(b, src, dst, sport, dport, seq, mss)]
}

// Names of TCP answers, as a trace hop shows them (ICMP answers use
// ICMPReply.Name).
const (
	hopSYNACK = "syn-ack"
	hopRST    = "rst"
)

// synReply is what an answer tells of the SYN it answers, and what it says.
type synReply struct {
	target netip.Addr // where the SYN went
	local  netip.Addr // where it came from (invalid when the socket does not tell)
	port   uint16     // the target's port
	sport  uint16     // our port
	seq    uint32     // the SYN's sequence number
	// outcome is open (SYN-ACK), closed (RST) or unreachable (an ICMP error).
	outcome string
	// kind is "syn-ack", "rst" or the ICMP error's name.
	kind string
}

// readSYNReply reads a TCP segment as an answer to a SYN: a SYN-ACK or a RST
// that acknowledges it. Anything else gives false.
func readSYNReply(s *TCPSegment) (synReply, bool) {
	a := synReply{target: s.Src.Unmap(), local: s.Dst, port: s.SrcPort, sport: s.DstPort, seq: s.Ack - 1}
	switch {
	case s.Flags&TCPFlagACK == 0:
		return a, false
	case s.Flags&(TCPFlagSYN|TCPFlagRST) == TCPFlagSYN:
		a.outcome, a.kind = results.OutcomeOpen, hopSYNACK
	case s.Flags&TCPFlagRST != 0:
		a.outcome, a.kind = results.OutcomeClosed, hopRST
	default:
		return a, false
	}
	return a, true
}

// readSYNError reads an ICMP message as an answer to a SYN: an error that
// quotes it. Anything else gives false.
func readSYNError(m *ICMPReply) (synReply, bool) {
	q := &m.Quoted
	if !m.IsError() || q.Proto != protoTCP {
		return synReply{}, false
	}
	return synReply{target: q.Dst.Unmap(), local: q.Src.Unmap(), port: q.DstPort, sport: q.SrcPort, seq: q.TCPSeq,
		outcome: results.OutcomeUnreachable, kind: m.Name()}, true
}

// tcpSweep is the sweep module of tcp: a SYN (IPv4 or IPv6) without options whose
// source port and sequence number are the keyed hash of the probe. A SYN-ACK
// or RST that acknowledges it counts.
type tcpSweep struct{}

func (tcpSweep) proto(bool) uint8 { return protoTCP }

// sweepPort is the source port a sweep SYN with hash h comes from.
func sweepPort(h uint64) uint16 {
	return ephemeralFirst + uint16(h>>32)%(ephemeralLast-ephemeralFirst+1)
}

func (tcpSweep) build(b *ProbeBuilder, buf []byte, dst netip.Addr, h uint64) int {
	return writeSYN(buf, b.src, dst, sweepPort(h), b.port, uint32(h), 0)
}

func (tcpSweep) validate(b *ProbeBuilder, ip ipHeader, p []byte) (Reply, bool) {
	s, err := ParseTCP(p, true)
	if err != nil {
		return Reply{}, false
	}
	s.Src, s.Dst = ip.src, ip.dst
	a, ok := readSYNReply(&s)
	if !ok || a.port != b.port {
		return Reply{}, false
	}
	h := b.hash(ip.src)
	if a.sport != sweepPort(h) || a.seq != uint32(h) {
		return Reply{}, false
	}
	return Reply{From: ip.src, Outcome: a.outcome, TTL: ip.ttl, Port: a.port}, true
}
