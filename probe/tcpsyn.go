package probe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"darkwatch/results"
)

// TCP flag bits (RFC 9293) as TCPSegment.Flags holds them.
const (
	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
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
	socks   [2]tcpSockets // IPv4, IPv6
	pending map[synKey]*synWait
	closed  bool
	counter uint32 // probes sent, part of each SYN's hash

	wg      sync.WaitGroup
	matched atomic.Uint64 // replies accepted
	foreign atomic.Uint64 // segments to our source port, or errors quoting it, that were not ours
}

// tcpSockets are the sockets of one family: a raw TCP socket that sends SYNs and
// reads replies, and a raw ICMP socket that reads errors.
type tcpSockets struct {
	tcp, icmp rawConn
	err       error // why the family cannot be used
}

// synKey names a pending SYN by what its reply echoes: the target, its port and
// the acknowledgement number (our sequence number plus one).
type synKey struct {
	addr netip.Addr
	port uint16
	ack  uint32
}

// synWait is one SYN waiting for its answer.
type synWait struct {
	src netip.Addr // our address, which replies must be sent to
	got chan synAnswer
}

// synAnswer is what came back for one SYN.
type synAnswer struct {
	at      time.Time
	ttl     int
	outcome string // open, closed or unreachable
	icmp    string // ICMP name for unreachable
}

// NewTCP returns a TCP SYN prober with raw sockets for IPv4 and, where the host
// has it, IPv6. The error wraps ErrPermission without CAP_NET_RAW.
func NewTCP(cfg Config) (*TCP, error) {
	cfg = cfg.WithDefaults()
	if cfg.TTL < 0 || cfg.TTL > 255 {
		return nil, fmt.Errorf("probe: tcp: ttl %d is not in 1..255", cfg.TTL)
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	sport := ephemeralFirst + binary.BigEndian.Uint16(r[:])%(ephemeralLast-ephemeralFirst+1)
	var socks [2]tcpSockets
	for _, v6 := range []bool{false, true} {
		s, err := openTCPSockets(v6, cfg.Source, cfg.TTL, sport)
		if err != nil {
			if isRawPermission(err) || !v6 {
				for _, s := range socks {
					s.close()
				}
				if isRawPermission(err) {
					return nil, fmt.Errorf("%w (tcp: %v)", ErrPermission, err)
				}
				return nil, fmt.Errorf("probe: tcp: ipv4 sockets: %w", err)
			}
			s.err = fmt.Errorf("probe: tcp: ipv6 sockets: %w", err)
		}
		socks[familyIndex(v6)] = s
	}
	return newTCP(cfg, NewKey(), sport, socks), nil
}

// newTCP returns a prober over the given sockets and starts their receivers.
func newTCP(cfg Config, key Key, sport uint16, socks [2]tcpSockets) *TCP {
	p := &TCP{cfg: cfg, key: key, sport: sport, socks: socks, done: make(chan struct{}),
		pending: make(map[synKey]*synWait)}
	for i, s := range socks {
		if s.err == nil && s.tcp != nil {
			p.wg.Add(2)
			go p.receive(s.tcp, i == 1, false)
			go p.receive(s.icmp, i == 1, true)
		}
	}
	return p
}

// close closes the sockets.
func (s *tcpSockets) close() []error {
	var errs []error
	for _, c := range []rawConn{s.tcp, s.icmp} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errs
}

// openTCPSockets opens the raw TCP and ICMP sockets of one family. The TCP
// socket's kernel filter passes only segments to sport, so that the prober does
// not read every TCP segment the host receives.
func openTCPSockets(v6 bool, src netip.Addr, ttl int, sport uint16) (tcpSockets, error) {
	t, err := openRaw(v6, protoTCP, src)
	if err != nil {
		return tcpSockets{}, err
	}
	if err := t.setTTL(ttl); err != nil {
		t.Close()
		return tcpSockets{}, err
	}
	if err := t.setBPF(dstPortFilter(v6, sport)); err != nil {
		t.Close()
		return tcpSockets{}, err
	}
	i, err := openRawICMP(v6)
	if err != nil {
		t.Close()
		return tcpSockets{}, err
	}
	return tcpSockets{tcp: t, icmp: i}, nil
}

// dstPortFilter is a classic BPF program that accepts the TCP or UDP packets
// to port and drops the rest. An IPv4 raw socket filters the packet from its
// IP header on, an IPv6 one from the transport header.
func dstPortFilter(v6 bool, port uint16) []bpf.Instruction {
	load := []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},          // X = IPv4 header length
		bpf.LoadIndirect{Off: 2, Size: 2}, // A = destination port
	}
	if v6 {
		load = []bpf.Instruction{bpf.LoadAbsolute{Off: 2, Size: 2}}
	}
	return append(load,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 16},
		bpf.RetConstant{Val: 0},
	)
}

// Probe sends cfg.Count SYNs to t.Addr port t.Port, cfg.Interval apart, and
// returns one record per SYN (Seq 1..Count).
func (p *TCP) Probe(ctx context.Context, t Target) []results.Record {
	if err := p.cfg.permit(t.Addr); err != nil {
		rec := blockedRecord(&p.cfg, results.MethodTCP, t, err)
		rec.Port = int(t.Port)
		return []results.Record{rec}
	}
	recs := make([]results.Record, p.cfg.Count)
	var wg sync.WaitGroup
	for i := range recs {
		if i > 0 {
			timer := time.NewTimer(p.cfg.Interval)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
		}
		wg.Go(func() { recs[i] = p.syn(ctx, t, i+1) })
	}
	wg.Wait()
	return recs
}

// syn sends the n-th SYN of a probe of t and waits for its answer.
func (p *TCP) syn(ctx context.Context, t Target, n int) results.Record {
	rec := results.Record{
		Time: time.Now().UTC(), Vantage: p.cfg.Vantage, Round: p.cfg.Round,
		Method: results.MethodTCP, Target: t.Addr.String(), Port: int(t.Port), Seq: n,
	}
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
	seq, w, err := p.register(src, dst, t.Port)
	if err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	defer p.forget(synKey{dst, t.Port, seq + 1}, w)

	b, err := buildSYN(src, dst, p.sport, t.Port, seq)
	if err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	sent := time.Now()
	rec.Time = sent.UTC()
	if err := c.WriteTo(b, dst, src, 0); err != nil {
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			return fail(results.OutcomeUnreachable, err)
		}
		return fail(results.OutcomeError, err)
	}

	timer := time.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	select {
	case a := <-w.got:
		rec.RTTms = rttMillis(a.at.Sub(sent))
		rec.ReplyTTL = a.ttl
		rec.Outcome = a.outcome
		rec.ICMP = a.icmp
		return rec
	case <-timer.C:
		rec.Outcome = results.OutcomeTimeout
		return rec
	case <-ctx.Done():
		return fail(results.OutcomeError, ctx.Err())
	case <-p.done:
		return fail(results.OutcomeError, net.ErrClosed)
	}
}

// socket returns the raw TCP socket of a family.
func (p *TCP) socket(v6 bool) (rawConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	s := p.socks[familyIndex(v6)]
	if s.err != nil {
		return nil, s.err
	}
	return s.tcp, nil
}

// register computes the sequence number of the next SYN from src to dst:port and
// records that a reply acknowledging it is awaited.
func (p *TCP) register(src, dst netip.Addr, port uint16) (uint32, *synWait, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 16 {
		p.counter++
		seq := p.key.Sum32(src, dst, port, uint64(p.sport)<<32|uint64(p.counter))
		k := synKey{dst, port, seq + 1}
		if _, busy := p.pending[k]; busy {
			continue // a 2^-32 coincidence; draw again
		}
		w := &synWait{src: src, got: make(chan synAnswer, 1)}
		p.pending[k] = w
		return seq, w, nil
	}
	return 0, nil, errors.New("probe: tcp: no free sequence number")
}

// forget drops the wait once its probe is over.
func (p *TCP) forget(k synKey, w *synWait) {
	p.mu.Lock()
	if p.pending[k] == w {
		delete(p.pending, k)
	}
	p.mu.Unlock()
}

// take removes and returns the wait that a reply to k, sent to local address
// dst (invalid when the socket does not tell), answers.
func (p *TCP) take(k synKey, dst netip.Addr) *synWait {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.pending[k]
	if w == nil || (dst.IsValid() && dst != w.src) {
		return nil
	}
	delete(p.pending, k)
	return w
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

// readLoop reads packets from c and hands each to handle, with its arrival
// time, until done is closed or c is: the receive loop of every raw-socket
// prober. A transient read error is retried after a pause, never spun on.
func readLoop(c rawConn, done <-chan struct{}, handle func(b []byte, src netip.Addr, ttl int, at time.Time)) {
	buf := make([]byte, 4096)
	for {
		n, src, ttl, err := c.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			select {
			case <-done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		handle(buf[:n], src, ttl, at)
	}
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
	var outcome string
	switch {
	case s.Flags&TCPFlagACK == 0:
	case s.Flags&(TCPFlagSYN|TCPFlagRST) == TCPFlagSYN:
		outcome = results.OutcomeOpen
	case s.Flags&TCPFlagRST != 0:
		outcome = results.OutcomeClosed
	}
	var w *synWait
	if outcome != "" {
		w = p.take(synKey{s.Src.Unmap(), s.SrcPort, s.Ack}, s.Dst)
	}
	if w == nil {
		p.foreign.Add(1)
		return false
	}
	p.matched.Add(1)
	w.got <- synAnswer{at: at, ttl: ttl, outcome: outcome}
	return true
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
	if err != nil || !m.IsError() {
		return false
	}
	q := &m.Quoted
	if q.Proto != protoTCP || q.SrcPort != p.sport {
		return false
	}
	w := p.take(synKey{q.Dst.Unmap(), q.DstPort, q.TCPSeq + 1}, q.Src.Unmap())
	if w == nil {
		p.foreign.Add(1)
		return false
	}
	p.matched.Add(1)
	w.got <- synAnswer{at: at, ttl: ttl, outcome: results.OutcomeUnreachable, icmp: m.Name()}
	return true
}

// Close stops the receivers and closes the sockets. Probes still waiting end
// with an error.
func (p *TCP) Close() error {
	p.mu.Lock()
	first := shutdown(&p.closed, p.done)
	socks := p.socks
	p.mu.Unlock()
	if !first {
		return nil
	}
	var errs []error
	for _, s := range socks {
		errs = append(errs, s.close()...)
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

// buildSYN returns the TCP segment of a SYN from src:sport to dst:dport with
// initial sequence number seq and an MSS option, its checksum computed over
// the IPv4 or IPv6 pseudo-header. The kernel adds the IP header (and with it
// the TTL, a socket option).
func buildSYN(src, dst netip.Addr, sport, dport uint16, seq uint32) ([]byte, error) {
	mss := uint16(synMSS4)
	if dst.Is6() {
		mss = synMSS6
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport),
		Seq: seq, SYN: true, Window: synWindow,
		Options: []layers.TCPOption{{
			OptionType: layers.TCPOptionKindMSS, OptionLength: 4,
			OptionData: []byte{byte(mss >> 8), byte(mss)},
		}},
	}
	if err := tcp.SetNetworkLayerForChecksum(pseudoHeader(src, dst, layers.IPProtocolTCP)); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, tcp); err != nil {
		return nil, fmt.Errorf("probe: building a SYN: %w", err)
	}
	return buf.Bytes(), nil
}

// pseudoHeader returns the network layer whose addresses a transport checksum
// covers.
func pseudoHeader(src, dst netip.Addr, proto layers.IPProtocol) gopacket.NetworkLayer {
	if dst.Is4() {
		return &layers.IPv4{Version: 4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Protocol: proto}
	}
	return &layers.IPv6{Version: 6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), NextHeader: proto}
}

// TCPSegment is what a reply check needs of a TCP segment read from a raw
// socket.
type TCPSegment struct {
	// Src and Dst come from the IPv4 header; an IPv6 raw socket delivers no
	// header, so for IPv6 they are left invalid and the caller knows Src from
	// the socket.
	Src, Dst netip.Addr
	TTL      uint8 // IPv4 only
	SrcPort  uint16
	DstPort  uint16
	Seq, Ack uint32
	Flags    uint8 // TCPFlag bits
}

// ParseTCP parses a TCP segment as a raw socket delivers it: with its IPv4
// header (v6 false), or bare (v6 true: IPv6 raw sockets strip the header).
// It never panics; malformed input, IPv4 fragments past the first and other
// protocols give an error.
func ParseTCP(b []byte, v6 bool) (TCPSegment, error) {
	var s TCPSegment
	if !v6 {
		if len(b) < 20 {
			return s, ErrShort
		}
		if b[0]>>4 != 4 {
			return s, ErrNotIP
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return s, ErrShort
		}
		if b[9] != protoTCP {
			return s, ErrUnhandled
		}
		if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			return s, ErrUnhandled // a later fragment: no TCP header here
		}
		s.TTL = b[8]
		s.Src = netip.AddrFrom4([4]byte(b[12:16]))
		s.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		b = b[ihl:]
	}
	if len(b) < 20 {
		return s, ErrShort
	}
	if off := int(b[12]>>4) * 4; off < 20 || off > len(b) {
		return s, ErrShort
	}
	s.SrcPort = binary.BigEndian.Uint16(b[0:2])
	s.DstPort = binary.BigEndian.Uint16(b[2:4])
	s.Seq = binary.BigEndian.Uint32(b[4:8])
	s.Ack = binary.BigEndian.Uint32(b[8:12])
	s.Flags = b[13]
	return s, nil
}

// routeSource returns src if it is valid, else the address the kernel would
// send from to reach dst, learnt from a UDP socket connected to dst: connecting
// a UDP socket sends nothing.
func routeSource(src, dst netip.Addr) (netip.Addr, error) {
	if src.IsValid() {
		src = src.Unmap()
		if src.Is4() != dst.Is4() {
			return netip.Addr{}, fmt.Errorf("source %s and target %s are of different families", src, dst)
		}
		return src, nil
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().WithZone(""), nil
}

// familyIndex indexes per-family arrays: 0 IPv4, 1 IPv6.
func familyIndex(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// isRawPermission reports whether err says the process may not open a raw
// socket.
func isRawPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

// rawConn is a raw IP socket reduced to what the TCP and trace probers need, so
// that tests can replay recorded packets through their matching logic.
type rawConn interface {
	// ReadFrom reads one packet as the socket delivers it (IPv4 with its IP
	// header, IPv6 without), its sender and, for IPv6, its hop limit (0 when
	// unknown).
	ReadFrom(b []byte) (n int, src netip.Addr, hopLimit int, err error)
	// WriteTo sends b to dst. On IPv6 sockets src (when valid) is the source
	// address and hopLimit (when > 0) the hop limit of this packet only.
	WriteTo(b []byte, dst, src netip.Addr, hopLimit int) error
	Close() error
}

// rawSocket is a raw IP socket of one family and protocol.
type rawSocket struct {
	c  *net.IPConn
	rc syscall.RawConn
	p6 *ipv6.PacketConn // IPv6: per-packet options
	v6 bool
}

// openRaw opens a raw socket for IP protocol proto, bound to bind when it is of
// the socket's family. IPv6 sockets report the hop limit of what they read.
func openRaw(v6 bool, proto int, bind netip.Addr) (*rawSocket, error) {
	network, addr := fmt.Sprintf("ip4:%d", proto), "0.0.0.0"
	if v6 {
		network, addr = fmt.Sprintf("ip6:%d", proto), "::"
	}
	if bind = bind.Unmap(); bind.IsValid() && bind.Is6() == v6 {
		addr = bind.String()
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.IPConn)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	// Many probers in flight answer in bursts: a small buffer drops replies.
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	})
	s := &rawSocket{c: c, rc: rc, v6: v6}
	if v6 {
		s.p6 = ipv6.NewPacketConn(c)
		if err := s.p6.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
			c.Close()
			return nil, err
		}
	}
	return s, nil
}

// openRawICMP opens a raw ICMP (ICMPv6) socket whose kernel filter lets only
// echo replies and errors through.
func openRawICMP(v6 bool) (*rawSocket, error) {
	if v6 {
		s, err := openRaw(true, protoICMPv6, netip.Addr{})
		if err != nil {
			return nil, err
		}
		var f ipv6.ICMPFilter
		f.SetAll(true)
		for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeDestinationUnreachable,
			ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypePacketTooBig} {
			f.Accept(t)
		}
		if err := s.p6.SetICMPFilter(&f); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	s, err := openRaw(false, protoICMP, netip.Addr{})
	if err != nil {
		return nil, err
	}
	var f ipv4.ICMPFilter
	f.SetAll(true)
	for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeDestinationUnreachable,
		ipv4.ICMPTypeTimeExceeded} {
		f.Accept(t)
	}
	if err := ipv4.NewPacketConn(s.c).SetICMPFilter(&f); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// setTTL sets the TTL (hop limit) of everything the socket sends; 0 keeps the
// system default.
func (s *rawSocket) setTTL(ttl int) error {
	if ttl <= 0 {
		return nil
	}
	if s.v6 {
		return s.p6.SetHopLimit(ttl)
	}
	return ipv4.NewConn(s.c).SetTTL(ttl)
}

// setBPF attaches a classic BPF filter to the socket.
func (s *rawSocket) setBPF(prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	if s.v6 {
		return s.p6.SetBPF(raw)
	}
	return ipv4.NewPacketConn(s.c).SetBPF(raw)
}

// ReadFrom reads one packet with recvmsg, which, unlike net.IPConn.ReadFrom,
// keeps the IPv4 header.
func (s *rawSocket) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	var (
		n, oobn int
		from    unix.Sockaddr
		rerr    error
		oob     [64]byte
	)
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), b, oob[:], unix.MSG_DONTWAIT)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, netip.Addr{}, 0, err
	}
	var src netip.Addr
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		src = netip.AddrFrom16(sa.Addr).Unmap()
	}
	hopLimit := 0
	if s.v6 && oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4 {
					hopLimit = int(binary.NativeEndian.Uint32(m.Data))
				}
			}
		}
	}
	return n, src, hopLimit, nil
}

// WriteTo sends b to dst.
func (s *rawSocket) WriteTo(b []byte, dst, src netip.Addr, hopLimit int) error {
	a := &net.IPAddr{IP: dst.AsSlice()}
	if s.v6 && (src.IsValid() || hopLimit > 0) {
		cm := &ipv6.ControlMessage{HopLimit: hopLimit}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err := s.p6.WriteTo(b, cm, a)
		return err
	}
	_, err := s.c.WriteTo(b, a)
	return err
}

func (s *rawSocket) Close() error { return s.c.Close() }
