package probe

// This file is the trace method: Paris traceroute with ICMP echo, UDP or TCP
// SYN probes. Its ICMP and TCP probes are the icmp and tcp modules' packets.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"darkwatch/results"
)

// Trace defaults and limits.
const (
	// DefaultTraceUDPPort and DefaultTraceTCPPort are the destination ports of
	// UDP and TCP traces when the target names none (traceroute's).
	DefaultTraceUDPPort = 33434
	DefaultTraceTCPPort = 80
	// traceWindow is the most TTLs probed at once (traceroute -N 16). The
	// first window is firstTraceWindow TTLs and each next one twice the last,
	// so a short path costs few probes past its end and a long one few waits.
	traceWindow      = 16
	firstTraceWindow = 4
	// protoRaw is IPPROTO_RAW: a send-only IPv4 socket that takes our header.
	protoRaw = 255
	// traceModulus bounds UDP checksum identifiers to 1..traceModulus: never 0
	// (no checksum in IPv4, invalid in IPv6) and never 0xffff (how a computed
	// zero is sent).
	traceModulus = 0xfffe
)

// Trace is a Paris traceroute (Augustin et al., "Avoiding traceroute anomalies
// with Paris traceroute", IMC 2006) with ICMP echo, UDP or TCP SYN probes, IPv4
// and IPv6.
//
// Every probe of one trace carries the same flow identifier, so that routers
// that balance load per flow send them all down one path: for ICMP the same
// identifier and the same checksum (the sequence number varies, and two payload
// bytes compensate it in the checksum); for UDP the same ports (the probe is
// told by its UDP checksum, which two payload bytes set); for TCP the same
// ports (the probe is told by its sequence number). Identifiers start at a
// keyed hash of the flow, so a reply is accepted only if it quotes (or, from
// the destination, echoes) a probe this Trace sent, whatever order replies come
// in.
//
// IPv4 probes go out on an IPPROTO_RAW socket with our own IP header, so each
// probe's TTL is its own; IPv6 probes carry their hop limit in a control
// message. Probes for TTLs first..max are sent in windows, one or cfg.Count
// per TTL, and each window waits up to cfg.Timeout: the first window is 4 TTLs,
// or, for a trace whose /24 (/48) another trace reached first, up to the TTL at
// which that trace's destination answered (see hopHints); each next window
// twice the last, at most 16. The trace ends
// when the destination answers (hops past it are dropped), when a destination
// unreachable ends it, or after cfg.Trace.GapLimit silent hops in a row.
//
// Many traces of different targets run at once over the same sockets; one
// receiver per socket hands each reply to its trace.
type Trace struct {
	cfg   Config
	proto uint8 // protoICMP, protoUDP or protoTCP (ICMP means ICMPv6 for IPv6)
	key   Key
	done  chan struct{}

	mu     sync.Mutex
	socks  familySockets
	runs   map[flowKey]*traceRun
	closed bool

	hints hopHints // hop distances of destination prefixes, for first windows

	wg      sync.WaitGroup
	matched atomic.Uint64 // replies handed to a trace
	foreign atomic.Uint64 // replies of a known kind that no trace of ours sent
}

// flowKey finds the trace a reply belongs to: the probe protocol, the
// destination, and the flow's ports (UDP, TCP) or ICMP identifier (a).
type flowKey struct {
	proto uint8
	dst   netip.Addr
	a, b  uint16
}

// traceRun is one trace in progress.
type traceRun struct {
	flow    traceFlow
	timeout time.Duration
	sent    []time.Time   // by probe index; zero until sent (t.reserve grows both)
	answers []traceAnswer // by probe index
	notify  chan struct{} // signalled on each answer
}

// traceAnswer is what came back for one probe.
type traceAnswer struct {
	ok    bool
	from  netip.Addr
	rtt   time.Duration
	ttl   int    // the answer's TTL or hop limit
	name  string // ICMP name, "syn-ack" or "rst"
	class answerClass
}

// answerClass says what an answer means for the trace.
type answerClass uint8

const (
	classHop         answerClass = iota // a router on the way (time exceeded)
	classReached                        // the destination answered
	classUnreachable                    // a destination unreachable ended the trace
)

// NewTrace returns a Paris traceroute prober for cfg.Proto (icmp, udp or tcp)
// with the sockets it needs for IPv4 and, where the host has it, IPv6. The
// error wraps ErrPermission without CAP_NET_RAW.
func NewTrace(cfg Config) (*Trace, error) {
	cfg = cfg.WithDefaults()
	var proto uint8
	switch cfg.Proto {
	case "icmp":
		proto = protoICMP
	case "udp":
		proto = protoUDP
	case "tcp":
		proto = protoTCP
	default:
		return nil, fmt.Errorf("probe: trace: proto %q: use icmp, udp or tcp", cfg.Proto)
	}
	if cfg.Trace.FirstTTL > 255 || cfg.Trace.MaxTTL > 255 || cfg.Trace.FirstTTL > cfg.Trace.MaxTTL {
		return nil, fmt.Errorf("probe: trace: first ttl %d and max ttl %d must satisfy 1 <= first <= max <= 255", cfg.Trace.FirstTTL, cfg.Trace.MaxTTL)
	}
	if (cfg.Trace.MaxTTL-cfg.Trace.FirstTTL+1)*cfg.Count > traceModulus {
		return nil, fmt.Errorf("probe: trace: %d probes per hop are too many", cfg.Count)
	}
	var socks familySockets
	for _, v6 := range []bool{false, true} {
		s, err := openTraceSockets(v6, proto, cfg.Source)
		if err != nil {
			if isPermission(err) || !v6 {
				for i := range socks {
					socks[i].close()
				}
				if isPermission(err) {
					return nil, fmt.Errorf("%w (trace: %v)", ErrPermission, err)
				}
				return nil, fmt.Errorf("probe: trace: ipv4 sockets: %w", err)
			}
			s.err = fmt.Errorf("probe: trace: ipv6 sockets: %w", err)
		}
		socks[family(v6)] = s
	}
	return newTrace(cfg, proto, NewKey(), socks), nil
}

// newTrace returns a Trace over the given sockets and starts their receivers.
func newTrace(cfg Config, proto uint8, key Key, socks familySockets) *Trace {
	t := &Trace{cfg: cfg, proto: proto, key: key, socks: socks, done: make(chan struct{}),
		runs: make(map[flowKey]*traceRun)}
	for i, s := range socks {
		if s.err != nil || s.icmp == nil {
			continue
		}
		t.wg.Add(1)
		go t.receive(s.icmp, i == 1, false)
		if s.tcp != nil {
			t.wg.Add(1)
			go t.receive(s.tcp, i == 1, true)
		}
	}
	return t
}

// openTraceSockets opens the sockets of one family for probes of proto.
func openTraceSockets(v6 bool, proto uint8, bind netip.Addr) (s rawSockets, err error) {
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// Assign only sockets that opened: a nil *rawSocket in an interface is
	// not a nil rawConn.
	icmp, err := openRawICMP(v6)
	if err != nil {
		return s, err
	}
	s.icmp = icmp
	if !v6 {
		send, err := openRaw(false, protoRaw, netip.Addr{})
		if err != nil {
			return s, err
		}
		s.send = send
		if proto == protoTCP {
			tcp, err := openRaw(false, protoTCP, bind)
			if err != nil {
				return s, err
			}
			s.tcp = tcp
		}
		return s, nil
	}
	switch proto {
	case protoICMP:
		s.send = s.icmp
	case protoTCP:
		tcp, err := openRaw(true, protoTCP, bind)
		if err != nil {
			return s, err
		}
		s.tcp, s.send = tcp, tcp
	case protoUDP:
		u, err := openRaw(true, protoUDP, bind)
		if err != nil {
			return s, err
		}
		s.send = u
		// A raw UDP socket would queue every UDP datagram the host receives;
		// this one only sends, so its filter drops them all.
		if err := u.setBPF([]bpf.Instruction{bpf.RetConstant{Val: 0}}); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Probe traces the path to t and returns one record.
func (t *Trace) Probe(ctx context.Context, target Target) []results.Record {
	rec := newRecord(&t.cfg, results.MethodTrace, target, 0)
	rec.Proto = t.cfg.Proto
	fail := func(outcome string, err error) []results.Record {
		rec.Outcome, rec.Error = outcome, err.Error()
		return []results.Record{rec}
	}
	if err := t.cfg.permit(target.Addr); err != nil {
		b := blockedRecord(&t.cfg, results.MethodTrace, target, err)
		b.Proto = t.cfg.Proto
		return []results.Record{b}
	}
	dst := target.Addr.Unmap().WithZone("")
	if !dst.IsValid() {
		return fail(results.OutcomeError, errors.New("not sent: invalid address"))
	}
	dport := t.port(target)
	if dport != 0 {
		rec.Port = int(dport)
	}
	send, src, outcome, err := sendPath(ctx, t.socket, t.source(dst), dst)
	if err != nil {
		return fail(outcome, err)
	}
	run, key, err := t.register(src, dst, dport)
	if err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	defer t.unregister(key, run)
	s, outcome, err := t.trace(ctx, run, send)
	if err != nil {
		return fail(outcome, err)
	}
	rec.Hops = s.hops
	rec.Reached = results.Bool(s.reached)
	switch {
	case s.reached:
		rec.Outcome = results.OutcomeReply
		rec.RTTms = rttMillis(s.final.rtt)
		rec.ReplyTTL = s.final.ttl
	case s.end != 0:
		rec.Outcome = results.OutcomeUnreachable
		rec.ICMP = s.final.name
	default:
		rec.Outcome = results.OutcomeTimeout
	}
	return []results.Record{rec}
}

// source is the source address that probes to dst carry: cfg.Source, else
// for IPv4 ICMP 0.0.0.0, which the kernel fills in from the route as it sends
// (raw(7)); an ICMPv4 checksum does not cover the source, so a trace needs no
// route lookup of its own. UDP and TCP checksums, and ICMPv6's, do: for those
// the invalid address lets sendPath ask the kernel.
func (t *Trace) source(dst netip.Addr) netip.Addr {
	if !t.cfg.Source.IsValid() && t.proto == protoICMP && dst.Is4() {
		return netip.IPv4Unspecified()
	}
	return t.cfg.Source
}

// port is the destination port of a trace of target: its own, else the
// protocol's default; none for ICMP.
func (t *Trace) port(target Target) uint16 {
	switch {
	case t.proto == protoICMP:
		return 0
	case target.Port != 0:
		return target.Port
	case t.proto == protoUDP:
		return DefaultTraceUDPPort
	}
	return DefaultTraceTCPPort
}

// trace sends the probes of run window by window, each window waiting for its
// answers, until the trace ends, and returns what the answers add up to. On
// failure it returns the outcome of the record and why.
func (t *Trace) trace(ctx context.Context, run *traceRun, send rawConn) (traceSummary, string, error) {
	o := &t.cfg.Trace
	first, last, count := o.FirstTTL, o.MaxTTL, t.cfg.Count
	w, learned, err := t.windowHint(ctx, run.flow.dst)
	if err != nil {
		return traceSummary{}, results.OutcomeError, err
	}
	defer learned(traceSummary{})
	lastSent := first - 1
	for start := first; start <= last; start, w = start+w, min(2*w, traceWindow) {
		end := min(start+w-1, last)
		if err := t.sendWindow(run, send, start, end); err != nil {
			return traceSummary{}, sendFailure(err), err
		}
		lastSent = end
		if err := t.wait(ctx, run, first, start, end, count); err != nil {
			return traceSummary{}, results.OutcomeError, err
		}
		s := t.summary(run, lastSent)
		learned(s)
		if s.end != 0 || lastSent-s.lastAnswered >= o.GapLimit {
			break
		}
	}
	return t.summary(run, lastSent), "", nil
}

// windowHint returns the size of the first window of a trace to dst and what
// the trace tells, once, about what its first window found. The first trace of
// a prefix (see hopHints) leads it: its window is firstTraceWindow, and the TTL
// at which its destination answered becomes the first window of the others,
// which wait for it. A trace of a prefix whose leader found nothing, or that
// has another length of path, goes on window after window as any trace does.
func (t *Trace) windowHint(ctx context.Context, dst netip.Addr) (int, func(traceSummary), error) {
	first := t.cfg.Trace.FirstTTL
	hint, lead := t.hints.join(dst)
	if lead {
		told := false
		return firstTraceWindow, func(s traceSummary) {
			if told {
				return
			}
			told = true
			dist := 0
			if s.reached {
				dist = s.end
			}
			t.hints.learn(hint, dist)
		}, nil
	}
	dist, err := t.hints.distance(ctx, hint, t.done)
	return firstWindow(first, dist), func(traceSummary) {}, err
}

// sendWindow sends the probes of TTLs start..end, cfg.Count per TTL, each when
// Pace lets it go. It sends none past a TTL whose answer has ended the trace
// meanwhile (while Pace held a probe back, say): they could change nothing.
func (t *Trace) sendWindow(run *traceRun, send rawConn, start, end int) error {
	first, count, f := t.cfg.Trace.FirstTTL, t.cfg.Count, &run.flow
	t.reserve(run, (end-first+1)*count)
	for ttl := start; ttl <= end; ttl++ {
		for q := range count {
			idx := (ttl-first)*count + q
			b, err := f.packet(idx, ttl)
			if err != nil {
				return err
			}
			if t.cfg.Trace.Pace != nil {
				t.cfg.Trace.Pace(f.dst)
			}
			t.mu.Lock()
			if endedBefore(run.answers, ttl-first, count) {
				t.mu.Unlock()
				return nil
			}
			run.sent[idx] = time.Now()
			t.mu.Unlock()
			if err := send.WriteTo(b, f.dst, f.src, ttl); err != nil {
				return err
			}
		}
	}
	return nil
}

// reserve makes room in run for n probes: a trace keeps the probes of the
// windows it sent, not of every TTL it might send.
func (t *Trace) reserve(run *traceRun, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if grow := n - len(run.sent); grow > 0 {
		run.sent = append(run.sent, make([]time.Time, grow)...)
		run.answers = append(run.answers, make([]traceAnswer, grow)...)
	}
}

// endedBefore reports whether an answer to a probe of the first n TTLs (count
// per TTL) has ended the trace: the destination's, or a destination unreachable.
func endedBefore(answers []traceAnswer, n, count int) bool {
	for _, a := range answers[:n*count] {
		if a.ok && a.class != classHop {
			return true
		}
	}
	return false
}

// summary is what the answers of run to the probes up to TTL lastSent add up to.
func (t *Trace) summary(run *traceRun, lastSent int) traceSummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return summarizeTrace(run.answers, t.cfg.Trace.FirstTTL, lastSent, t.cfg.Count, t.cfg.Trace.GapLimit)
}

// wait waits until the window start..end is answered (every probe up to the
// first that ended the trace) or cfg.Timeout has passed.
func (t *Trace) wait(ctx context.Context, run *traceRun, first, start, end, count int) error {
	timer := time.NewTimer(t.cfg.Timeout)
	defer timer.Stop()
	for {
		t.mu.Lock()
		complete := windowAnswered(run.answers, first, start, end, count)
		t.mu.Unlock()
		if complete {
			return nil
		}
		select {
		case <-run.notify:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.done:
			return net.ErrClosed
		}
	}
}

// windowAnswered reports whether every probe of TTLs start..end has an answer,
// not counting TTLs past the first one whose answer ends the trace (nor the
// other probes of that TTL).
func windowAnswered(answers []traceAnswer, first, start, end, count int) bool {
	for ttl := start; ttl <= end; ttl++ {
		all := true
		for q := range count {
			a := answers[(ttl-first)*count+q]
			if a.ok && a.class != classHop {
				return true
			}
			all = all && a.ok
		}
		if !all {
			return false
		}
	}
	return true
}

// traceSummary is what the answers of a trace add up to.
type traceSummary struct {
	hops         []results.Hop
	reached      bool
	end          int         // the TTL whose answer ended the trace, 0 if none
	final        traceAnswer // that answer
	lastAnswered int         // the highest TTL with an answer, first-1 if none
}

// summarizeTrace turns the answers to the probes of TTLs first..lastSent
// (count per TTL, indexed (ttl-first)*count+q) into hops. It stops at the first
// TTL whose answer ends the trace (the destination's, or a destination
// unreachable); without one, trailing silent hops are kept up to gap of them.
// Each TTL gives one hop per distinct answering address, in probe order, with
// the smallest RTT from it, or one silent hop.
func summarizeTrace(answers []traceAnswer, first, lastSent, count, gap int) traceSummary {
	s := traceSummary{lastAnswered: first - 1}
	for ttl := first; ttl <= lastSent && s.end == 0; ttl++ {
		for q := range count {
			a := answers[(ttl-first)*count+q]
			if !a.ok {
				continue
			}
			s.lastAnswered = ttl
			if a.class == classHop {
				continue
			}
			if s.end == 0 || (a.class == classReached && !s.reached) || (a.class == s.final.class && a.rtt < s.final.rtt) {
				s.end, s.final, s.reached = ttl, a, a.class == classReached
			}
		}
	}
	last := s.end
	if last == 0 {
		last = min(lastSent, s.lastAnswered+gap)
	}
	for ttl := first; ttl <= last; ttl++ {
		n := len(s.hops)
		for q := range count {
			a := answers[(ttl-first)*count+q]
			if !a.ok {
				continue
			}
			addr, rtt := a.from.String(), rttMillis(a.rtt)
			merged := false
			for i := n; i < len(s.hops); i++ {
				if h := &s.hops[i]; h.Addr == addr {
					h.RTTms = min(h.RTTms, rtt)
					merged = true
				}
			}
			if !merged {
				s.hops = append(s.hops, results.Hop{TTL: ttl, Addr: addr, RTTms: rtt, ICMP: a.name})
			}
		}
		if len(s.hops) == n {
			s.hops = append(s.hops, results.Hop{TTL: ttl})
		}
	}
	return s
}

// socket returns the sending socket of a family.
func (t *Trace) socket(v6 bool) (rawConn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.socks.sender(t.closed, v6)
}

// register makes the flow of a new trace from src to dst and records it for the
// receivers. A second trace of the same destination at once gets another flow.
func (t *Trace) register(src, dst netip.Addr, dport uint16) (*traceRun, flowKey, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, flowKey{}, net.ErrClosed
	}
	for nonce := range uint64(64) {
		f := newTraceFlow(t.key, t.proto, src, dst, dport, nonce, t.cfg.Contact)
		k := f.key()
		if _, busy := t.runs[k]; busy {
			continue
		}
		run := &traceRun{flow: f, timeout: t.cfg.Timeout, notify: make(chan struct{}, 1)}
		t.runs[k] = run
		return run, k, nil
	}
	return nil, flowKey{}, errors.New("probe: trace: too many traces of one destination at once")
}

func (t *Trace) unregister(k flowKey, run *traceRun) {
	t.mu.Lock()
	if t.runs[k] == run {
		delete(t.runs, k)
	}
	t.mu.Unlock()
}

// receive reads one socket until the Trace is closed.
func (t *Trace) receive(c rawConn, v6, tcp bool) {
	defer t.wg.Done()
	readLoop(c, t.done, func(b []byte, src netip.Addr, hopLimit int, at time.Time) {
		var r TraceReply
		var err error
		if tcp {
			var s TCPSegment
			if s, err = ParseTCP(b, v6); err == nil {
				if v6 {
					s.Src = src
					s.TTL = uint8(hopLimit)
				}
				r, err = traceReplyFromTCP(s)
			}
		} else {
			r, err = ParseTraceICMP(b, v6, src, hopLimit)
		}
		if err == nil {
			t.dispatch(&r, at)
		}
	})
}

// dispatch hands a parsed reply to the trace whose probe it answers.
func (t *Trace) dispatch(r *TraceReply, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	run := t.runs[r.flowKey()]
	if run == nil {
		t.foreign.Add(1)
		return false
	}
	idx, ok := run.flow.match(r)
	if !ok || idx >= len(run.sent) || run.sent[idx].IsZero() || run.answers[idx].ok {
		t.foreign.Add(1)
		return false
	}
	rtt := at.Sub(run.sent[idx])
	if rtt > run.timeout {
		return false // too late: the window is closed
	}
	run.answers[idx] = traceAnswer{ok: true, from: r.From, rtt: rtt, ttl: int(r.TTL), name: r.Kind,
		class: run.flow.classify(r)}
	t.matched.Add(1)
	select {
	case run.notify <- struct{}{}:
	default:
	}
	return true
}

// Close stops the receivers and closes the sockets. Traces in progress end
// with an error.
func (t *Trace) Close() error {
	return t.socks.shutdown(&t.mu, &t.closed, t.done, &t.wg)
}

// traceFlow is what stays the same across the probes of one trace (the Paris
// flow identifier) and how each probe is told apart.
type traceFlow struct {
	proto        uint8 // protoICMP, protoUDP or protoTCP
	src, dst     netip.Addr
	sport, dport uint16 // UDP, TCP
	id           uint16 // ICMP identifier
	sum          uint16 // ICMP: the checksum every probe carries
	base         uint32 // keyed start of per-probe identifiers
	contact      string
}

// newTraceFlow derives a flow from the key, so that the same Trace gives the
// same flow to the same destination (nonce 0) and nobody else can guess it.
func newTraceFlow(k Key, proto uint8, src, dst netip.Addr, dport uint16, nonce uint64, contact string) traceFlow {
	h := k.Sum64(src, dst, dport, uint64(proto)<<56|nonce)
	f := traceFlow{proto: proto, src: src, dst: dst, base: uint32(h >> 32), contact: contact}
	switch proto {
	case protoICMP:
		f.id = uint16(h)
		f.sum = 1 + uint16((h>>16)%traceModulus)
	default:
		f.sport = ephemeralFirst + uint16(h%(ephemeralLast-ephemeralFirst+1))
		f.dport = dport
	}
	return f
}

// key is the flowKey of the flow's replies.
func (f *traceFlow) key() flowKey {
	if f.proto == protoICMP {
		return flowKey{proto: protoICMP, dst: f.dst, a: f.id}
	}
	return flowKey{proto: f.proto, dst: f.dst, a: f.sport, b: f.dport}
}

// ident is the identifier field of probe idx: the ICMP sequence number, the UDP
// checksum or the TCP sequence number.
func (f *traceFlow) ident(idx int) uint32 {
	switch f.proto {
	case protoICMP:
		return uint32(uint16(f.base) + uint16(idx))
	case protoUDP:
		return 1 + (uint32(uint16(f.base))+uint32(idx))%traceModulus
	}
	return f.base + uint32(idx)
}

// index inverts ident; ok is false for a value no probe index gives.
func (f *traceFlow) index(v uint32) (int, bool) {
	switch f.proto {
	case protoICMP:
		if v > 0xffff {
			return 0, false
		}
		return int(uint16(v) - uint16(f.base)), true
	case protoUDP:
		if v < 1 || v > traceModulus {
			return 0, false
		}
		b := int(uint16(f.base)) % traceModulus
		return ((int(v)-1-b)%traceModulus + traceModulus) % traceModulus, true
	}
	return int(v - f.base), true
}

// packet returns probe idx with the given TTL: for IPv4 the whole packet with
// our IP header (for IPPROTO_RAW), for IPv6 the transport part (the kernel
// adds the header, with the hop limit from the control message).
func (f *traceFlow) packet(idx, ttl int) ([]byte, error) {
	if idx < 0 || idx >= traceModulus {
		return nil, fmt.Errorf("probe: trace: probe index %d out of range", idx)
	}
	var (
		tp  []byte
		err error
	)
	switch f.proto {
	case protoTCP:
		tp = buildSYN(f.src, f.dst, f.sport, f.dport, f.ident(idx))
	case protoUDP:
		tp, err = f.udp(idx)
	default:
		tp, err = f.echo(idx)
	}
	if err != nil || f.dst.Is6() {
		return tp, err
	}
	b := make([]byte, ipv4Len+len(tp))
	copy(b[ipv4Len:], tp)
	putIPv4(b, ipHeader{src: f.src, dst: f.dst, ttl: uint8(ttl), proto: f.proto, id: uint16(f.base>>16) + uint16(idx)}, len(b), false)
	return b, nil
}

// echo returns the ICMP echo request of probe idx: constant identifier and
// checksum, sequence number ident(idx), payload two compensating bytes and the
// contact string.
func (f *traceFlow) echo(idx int) ([]byte, error) {
	b := make([]byte, 8+2+len(f.contact))
	writeEcho(b, f.dst.Is6(), f.id, uint16(f.ident(idx)), []byte{0, 0}, f.contact)
	var pseudo uint32
	if f.dst.Is6() {
		pseudo = pseudoSum(f.src, f.dst, protoICMPv6, len(b))
	}
	setChecksum(b, pseudo, 2, 8, f.sum)
	return b, nil
}

// udp returns the UDP datagram of probe idx: constant ports, checksum
// ident(idx), payload two bytes that give it that checksum and the contact
// string.
func (f *traceFlow) udp(idx int) ([]byte, error) {
	u := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
	buf := gopacket.NewSerializeBuffer()
	payload := gopacket.Payload(append([]byte{0, 0}, f.contact...))
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, u, payload); err != nil {
		return nil, fmt.Errorf("probe: trace: building a UDP probe: %w", err)
	}
	b := buf.Bytes()
	setChecksum(b, pseudoSum(f.src, f.dst, protoUDP, len(b)), 6, 8, uint16(f.ident(idx)))
	return b, nil
}

// match returns the index of the probe that r answers, if r answers one of this
// flow's probes: its quoted or echoed addresses (the source only when the flow
// names one, not 0.0.0.0), ports or identifier, and checksum (ICMP) must be the
// flow's, and its identifier one of its probes'.
func (f *traceFlow) match(r *TraceReply) (int, bool) {
	if r.Proto != f.proto || r.Dst != f.dst || (r.Src.IsValid() && !f.src.IsUnspecified() && r.Src != f.src) {
		return 0, false
	}
	switch f.proto {
	case protoICMP:
		if r.ID != f.id || (r.Quoted && r.Sum != f.sum) {
			return 0, false
		}
	default:
		if r.SrcPort != f.sport || r.DstPort != f.dport {
			return 0, false
		}
	}
	if !r.Quoted && r.From != f.dst {
		return 0, false // echo replies, SYN-ACKs and RSTs come from the destination
	}
	return f.index(r.Ident)
}

// classify says what an answer to this flow means for the trace: the
// destination answered (an echo reply, a SYN-ACK or RST, a UDP port
// unreachable, or anything else from the destination's own address), a
// destination unreachable ended it, or a router on the way answered.
func (f *traceFlow) classify(r *TraceReply) answerClass {
	switch {
	case !r.Quoted || r.From == f.dst:
		return classReached
	case r.portUnreachable() && f.proto == protoUDP:
		return classReached // the IPv6 destination may answer from another address
	case r.unreachable():
		return classUnreachable
	}
	return classHop
}

// TraceReply is an answer to a trace probe as read from a raw socket: an ICMP
// error quoting the probe, an echo reply, or a TCP SYN-ACK or RST.
type TraceReply struct {
	From netip.Addr // who answered
	TTL  uint8      // the answer's TTL or hop limit (0 when unknown)
	V6   bool
	// Kind is the ICMP message name (ICMPReply.Name) or "syn-ack" or "rst".
	Kind     string
	ICMPType uint8
	ICMPCode uint8
	// Quoted is true for ICMP errors: the fields below are the quoted probe's.
	// Otherwise they are the probe's as the answer echoes them (an echo reply
	// gives ID and Ident; a SYN-ACK or RST gives the ports and Ident).
	Quoted           bool
	Proto            uint8      // protoICMP (also for ICMPv6), protoUDP, protoTCP
	Src, Dst         netip.Addr // the probe's addresses (Src invalid when not known)
	SrcPort, DstPort uint16     // UDP, TCP
	ID               uint16     // ICMP identifier
	Sum              uint16     // ICMP checksum (quoted probes only)
	// Ident is the probe's identifier field: ICMP sequence number, UDP checksum,
	// or TCP sequence number (the acknowledgement minus one for SYN-ACK, RST).
	Ident uint32
}

// flowKey is the key of the trace the reply belongs to.
func (r *TraceReply) flowKey() flowKey {
	if r.Proto == protoICMP {
		return flowKey{proto: protoICMP, dst: r.Dst, a: r.ID}
	}
	return flowKey{proto: r.Proto, dst: r.Dst, a: r.SrcPort, b: r.DstPort}
}

func (r *TraceReply) unreachable() bool {
	if r.V6 {
		return r.ICMPType == icmp6Unreachable
	}
	return r.ICMPType == icmp4Unreachable
}

func (r *TraceReply) portUnreachable() bool {
	if r.V6 {
		return r.ICMPType == icmp6Unreachable && r.ICMPCode == 4
	}
	return r.ICMPType == icmp4Unreachable && r.ICMPCode == 3
}

// ParseTraceICMP parses an ICMP message read from a raw ICMP socket (IPv4 with
// its IP header, IPv6 without, from and hopLimit as the socket reports them)
// into the trace reply it may be: an error quoting an ICMP echo, UDP or TCP
// probe, or an echo reply. It never panics; anything else is an error.
func ParseTraceICMP(b []byte, v6 bool, from netip.Addr, hopLimit int) (TraceReply, error) {
	r := TraceReply{From: from.Unmap(), TTL: uint8(hopLimit), V6: v6}
	if !v6 {
		var err error
		if b, r.From, r.TTL, err = StripIPv4(b); err != nil {
			return r, err
		}
	}
	m, err := ParseICMP(b, v6)
	if err != nil {
		return r, err
	}
	r.Kind, r.ICMPType, r.ICMPCode = m.Name(), m.Type, m.Code
	if r.Quoted = m.IsError(); r.Quoted {
		r.Src, r.Dst = m.Quoted.Src.Unmap(), m.Quoted.Dst.Unmap()
	}
	if e, ok := answersEcho(&m, r.From); ok { // the icmp module's echo request
		r.Proto, r.Dst, r.ID, r.Ident = protoICMP, e.target, e.id, uint32(e.seq)
		if r.Quoted {
			r.Sum = m.Quoted.ICMPSum
		}
		return r, nil
	}
	if a, ok := readSYNError(&m); ok { // the tcp module's SYN
		r.Proto, r.SrcPort, r.DstPort, r.Ident = protoTCP, a.sport, a.port, a.seq
		return r, nil
	}
	if q := &m.Quoted; r.Quoted && q.Proto == protoUDP {
		r.Proto, r.SrcPort, r.DstPort, r.Ident = protoUDP, q.SrcPort, q.DstPort, uint32(q.UDPSum)
		return r, nil
	}
	return r, ErrUnhandled
}

// traceReplyFromTCP turns a SYN-ACK or RST (with ACK) into the trace reply it
// may be; other segments are an error.
func traceReplyFromTCP(s TCPSegment) (TraceReply, error) {
	r := TraceReply{From: s.Src.Unmap(), TTL: s.TTL, V6: s.Src.Is6() && !s.Src.Is4In6(), Proto: protoTCP}
	a, ok := readSYNReply(&s)
	if !ok {
		return r, ErrUnhandled
	}
	r.Kind = a.kind
	r.Src, r.Dst = a.local.Unmap(), a.target
	r.SrcPort, r.DstPort = a.sport, a.port
	r.Ident = a.seq
	return r, nil
}
