package probe

// This file is the stateless sweep engine: one sender, one receiver, batches of
// packets per system call, and no table of what was sent. What a probe is and
// what a valid reply is, the method's sweep module (icmpSweep, tcpSweep) says.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"darkwatch/results"
)

// SweepConfig configures a stateless high-rate sweep of many IPv4 and IPv6
// addresses with one method: ICMP (ICMPv6) echo or TCP SYN to one port.
type SweepConfig struct {
	Vantage string
	Round   int64
	Method  string // results.MethodICMP or results.MethodTCP
	Port    uint16 // tcp
	// Source is the source address of its family; for a family it does not
	// give, the kernel's choice for the first target of that family is used.
	Source  netip.Addr
	TTL     int // default 64
	Contact string
	// Retries is how many extra passes over the targets follow the first; every
	// target gets 1+Retries probes and extra replies count as duplicates.
	Retries int
	// Cooldown is how long to keep reading replies after the last send.
	Cooldown time.Duration
	// Batch is how many packets go to the kernel in one sendmmsg (default 64).
	Batch int
	// Wait, when set, is called before each packet and returns when one more
	// packet may go: the global rate.
	Wait func(n int)
	// BlockAllow, when set, says whether a packet to dst may go at now (the
	// per-block cap) and books it; if not, when to ask again. A target whose
	// block is at its cap is set aside and sent later, so one busy block never
	// holds up the others.
	BlockAllow func(dst netip.Addr, now time.Time) (time.Time, bool)
	// Permit is asked for every address; refused ones are counted, not sent.
	Permit func(netip.Addr) error
	// Key validates replies; the zero Key means a fresh random one.
	Key Key
}

// SweepStats counts what a sweep did. Hits are distinct targets that answered;
// Replies counts every valid reply, so Replies-Hits were duplicates.
type SweepStats struct {
	Sent, Blocked, Replies, Hits, Duplicates, Invalid, SendErrors uint64
	Start, SendEnd, End                                           time.Time
}

// PPS is the achieved sending rate.
func (s SweepStats) PPS() float64 {
	d := s.SendEnd.Sub(s.Start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(s.Sent) / d
}

// Sweep is the stateless sweep engine: one sender, one receiver. A probe hides a
// keyed hash of (source, destination, port) in the fields its reply must echo —
// the ICMP identifier and sequence number, or the TCP source port and sequence
// number — so a reply is validated without a table of what was sent, and memory
// does not grow with the number of targets. Only a bitmap of the addresses that
// answered (one bit per address of each /16 that answered) is kept, to count
// duplicates and to tell the caller who answered.
type Sweep struct {
	cfg   SweepConfig
	key   Key
	src   [2]netip.Addr // by family (IPv4, IPv6); guarded by srcMu once sending starts
	srcMu sync.Mutex
	send  int // raw IPPROTO_RAW socket (we write the IPv4 header)
	recv  int // raw ICMP or TCP socket
	// v6 sends and reads the IPv6 probes (the kernel writes their IPv6
	// header); nil when the host has no IPv6, and IPv6 targets then fail.
	// fd6 is its descriptor, for sendmmsg.
	v6  *rawSocket
	fd6 int
	// epoch is the origin of the send times ICMP probes carry.
	epoch time.Time

	seen    seenSet
	sent    atomic.Uint64
	blocked atomic.Uint64
	replies atomic.Uint64
	hits    atomic.Uint64
	dups    atomic.Uint64
	invalid atomic.Uint64
	sendErr atomic.Uint64
}

// NewSweep opens the raw sockets of a sweep. It needs CAP_NET_RAW.
func NewSweep(cfg SweepConfig) (*Sweep, error) {
	mod := modules[cfg.Method].sweep
	switch {
	case mod == nil:
		return nil, fmt.Errorf("probe: sweep method %q: use %s", cfg.Method, strings.Join(SweepMethods(), " or "))
	case cfg.Method == results.MethodTCP && cfg.Port == 0:
		return nil, errors.New("probe: a tcp sweep needs a port")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 64
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Contact == "" {
		cfg.Contact = DefaultContact
	}
	s := &Sweep{cfg: cfg, key: cfg.Key, epoch: time.Now(), seen: newSeenSet()}
	if src := cfg.Source.Unmap(); src.IsValid() {
		s.src[family(src.Is6())] = src
	}
	if s.key == (Key{}) {
		s.key = NewKey()
	}
	var err error
	if s.send, s.recv, err = openSweepSockets(int(mod.proto(false))); err != nil {
		return nil, err
	}
	s.v6, s.fd6, _ = openSweep6(mod, cfg.TTL) // no IPv6 on the host: IPv6 targets count as send errors
	return s, nil
}

// Close releases the sockets.
func (s *Sweep) Close() error {
	if s.v6 != nil {
		s.v6.Close()
	}
	unix.Close(s.send)
	return unix.Close(s.recv)
}

// Stats returns the counts so far; safe to call while the sweep runs.
func (s *Sweep) Stats() SweepStats {
	return SweepStats{
		Sent: s.sent.Load(), Blocked: s.blocked.Load(), Replies: s.replies.Load(),
		Hits: s.hits.Load(), Duplicates: s.dups.Load(), Invalid: s.invalid.Load(),
		SendErrors: s.sendErr.Load(),
	}
}

// Answered reports whether a answered during the sweep.
func (s *Sweep) Answered(a netip.Addr) bool { return s.seen.has(a) }

// AddrIter yields the addresses of one pass, then false.
type AddrIter func() (netip.Addr, bool)

// Run makes 1+Retries passes, each over the addresses pass returns (IPv4 and
// IPv6), then reads replies for Cooldown more, and calls emit with a record for
// each target's first valid reply, from one receiving goroutine at a time.
// stop, when closed, ends sending early; the cooldown still runs so that
// replies to what was sent are not lost.
func (s *Sweep) Run(stop <-chan struct{}, pass func() AddrIter, emit func(results.Record)) (SweepStats, error) {
	start := time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	if emit != nil && s.v6 != nil {
		emit = serialize(emit)
	}
	wg.Go(func() { s.receive(done, emit) })
	if s.v6 != nil {
		wg.Go(func() { s.receive6(done, emit) })
	}
	err := s.sendAll(stop, pass)
	sendEnd := time.Now()
	if s.cfg.Cooldown > 0 {
		time.Sleep(s.cfg.Cooldown)
	}
	close(done)
	if s.v6 != nil {
		_ = s.v6.c.SetReadDeadline(time.Now()) // wakes receive6 to see done
	}
	wg.Wait()
	st := s.Stats()
	st.Start, st.SendEnd, st.End = start, sendEnd, time.Now()
	return st, err
}

// sendAll is the sender: it makes 1+Retries passes over the targets and hands
// their probes to the kernel in batches.
func (s *Sweep) sendAll(stop <-chan struct{}, pass func() AddrIter) error {
	q := s.startQueues()
	defer q.close()
	var b [2]ProbeBuilder // by family
	for f := range b {
		b[f].Init(s.cfg, s.key, s.source(f == 1), s.epoch)
	}
	var later deferred
	for range s.cfg.Retries + 1 {
		next, exhausted := pass(), false
		for {
			select {
			case <-stop:
				q.flush()
				return nil
			default:
			}
			dst, now, what := s.pick(next, &later, &exhausted, q)
			if what == pickDone {
				break
			}
			if what == pickAgain {
				continue
			}
			if err := s.sendTo(&b, q, dst, now, &later); err != nil {
				return err
			}
		}
		q.flush()
	}
	return nil
}

// pickResult says what the sender does with what pick returns.
type pickResult int

const (
	pickSend  pickResult = iota // send a probe to the address
	pickAgain                   // nothing to send yet: pick again
	pickDone                    // the pass is over
)

// pick chooses the next target of a pass: a target set aside for its block's
// cap whose time has come, else the next address of the pass (refused ones are
// counted as blocked), else, when only set-aside targets remain, it sends what
// is batched and sleeps until the earliest is due. now is the time of the
// choice when a rate hook needs it, else zero.
func (s *Sweep) pick(next AddrIter, later *deferred, exhausted *bool, q queues) (netip.Addr, time.Time, pickResult) {
	var now time.Time
	if s.cfg.BlockAllow != nil || s.cfg.Wait != nil {
		now = time.Now()
	}
	switch {
	case later.ready(now):
		return later.pop(), now, pickSend
	case !*exhausted && len(*later) < maxDeferred:
		dst, ok := next()
		if !ok {
			*exhausted = true
			return dst, now, pickAgain
		}
		if s.cfg.Permit != nil && s.cfg.Permit(dst) != nil {
			s.blocked.Add(1)
			return dst, now, pickAgain
		}
		return dst, now, pickSend
	case len(*later) > 0:
		q.flush()
		time.Sleep(time.Until((*later)[0].at))
		return netip.Addr{}, now, pickAgain
	}
	return netip.Addr{}, now, pickDone
}

// sendTo books dst with the per-block cap (or sets it aside until its block may
// take one more), learns the source address of dst's family on its first
// probe, waits for the global rate and adds the probe to the batch (IPv4) or
// sends it (IPv6). bs holds a builder per family.
func (s *Sweep) sendTo(bs *[2]ProbeBuilder, q queues, dst netip.Addr, now time.Time, later *deferred) error {
	dst = dst.Unmap()
	if dst.Is6() && s.v6 == nil {
		s.sendErr.Add(1)
		return nil
	}
	if s.cfg.BlockAllow != nil {
		if at, ok := s.cfg.BlockAllow(dst, now); !ok {
			later.push(at, dst)
			return nil
		}
	}
	f := family(dst.Is6())
	b := &bs[f]
	if !b.src.IsValid() {
		src, err := RouteSource(dst)
		if err == nil && dst.Is6() {
			err = bind6(s.fd6, src)
		}
		if err != nil {
			return err
		}
		b.Init(s.cfg, s.key, src, s.epoch)
		s.setSource(src)
	}
	if s.cfg.Wait != nil {
		s.cfg.Wait(1)
	}
	q[f].add(b, dst, now)
	return nil
}

// batcher fills batches of probes of one family and hands them to sender
// goroutines, each on its own thread: the kernel does a packet's routing and
// transmit work in the sender's system call, so two senders use two cores.
type batcher struct {
	s          *Sweep
	fd         int  // the socket the batches go out on
	v6         bool // IPv6 batches: the kernel writes the IP header
	free, full chan *batch
	senders    sync.WaitGroup
	cur        *batch    // the batch being filled
	start      time.Time // when its first probe was added
}

// queues are the batchers of a sweep by family: IPv4, then IPv6 (nil
// without an IPv6 socket).
type queues [2]*batcher

// startQueues starts the batchers of the families the sweep can send.
func (s *Sweep) startQueues() queues {
	q := queues{s.startSenders(s.send, false)}
	if s.v6 != nil {
		q[1] = s.startSenders(s.fd6, true)
	}
	return q
}

// flush hands every batch being filled to a sender.
func (q queues) flush() {
	for _, b := range q {
		if b != nil {
			b.flush()
		}
	}
}

// close waits for the senders of every family.
func (q queues) close() {
	for _, b := range q {
		if b != nil {
			b.close()
		}
	}
}

// startSenders starts the sender goroutines of socket fd and returns their
// batcher.
func (s *Sweep) startSenders(fd int, v6 bool) *batcher {
	q := &batcher{s: s, fd: fd, v6: v6, free: make(chan *batch, sweepSenders+2), full: make(chan *batch, sweepSenders+2)}
	for range sweepSenders + 2 {
		q.free <- newBatch(s.cfg.Batch, v6)
	}
	for range sweepSenders {
		q.senders.Go(func() {
			for bt := range q.full {
				s.sendBatch(fd, bt)
				q.free <- bt
			}
		})
	}
	q.cur = <-q.free
	return q
}

// add builds the probe to dst into the batch. A full batch goes at once; a
// slow one (low rates) within 2 ms.
func (q *batcher) add(b *ProbeBuilder, dst netip.Addr, now time.Time) {
	bt := q.cur
	if bt.fill == 0 {
		b.Stamp()
		q.start = now
	}
	l := b.Build(bt.bufs[bt.fill], dst)
	bt.iovs[bt.fill].SetLen(l)
	if q.v6 {
		bt.addrs6[bt.fill].Addr = dst.As16()
	} else {
		bt.addrs[bt.fill].Addr = dst.As4()
	}
	bt.fill++
	if bt.fill == len(bt.msgs) || (!now.IsZero() && now.Sub(q.start) > 2*time.Millisecond) {
		q.flush()
	}
}

// flush hands the batch being filled, if it holds anything, to a sender.
func (q *batcher) flush() {
	if q.cur.fill > 0 {
		q.full <- q.cur
		q.cur = <-q.free
		q.cur.fill = 0
	}
}

// close waits for the senders to send what they were handed.
func (q *batcher) close() {
	close(q.full)
	q.senders.Wait()
}

func (s *Sweep) setSource(src netip.Addr) {
	s.srcMu.Lock()
	s.src[family(src.Is6())] = src
	s.srcMu.Unlock()
}

// source is the source address of the family (v6 or IPv4), once known.
func (s *Sweep) source(v6 bool) netip.Addr {
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	return s.src[family(v6)]
}

// receive reads IPv4 replies until done is closed, validates them and emits
// the first reply of each target.
func (s *Sweep) receive(done <-chan struct{}, emit func(results.Record)) {
	// Replies are read many to a system call (recvmmsg).
	const batchLen = 64
	bufs := make([][]byte, batchLen)
	iovs := make([]unix.Iovec, batchLen)
	msgs := make([]mmsghdr, batchLen)
	for i := range msgs {
		bufs[i] = make([]byte, 256) // headers are all a reply is read for
		iovs[i].Base = &bufs[i][0]
		iovs[i].SetLen(len(bufs[i]))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.Iovlen = 1
	}
	var v ProbeBuilder
	v.Init(s.cfg, s.key, s.source(false), s.epoch)
	pending, next := 0, 0
	for {
		if next == pending {
			select {
			case <-done:
				return
			default:
			}
			n, err := recvmmsg(s.recv, msgs)
			if err != nil || n == 0 {
				continue // timeout (SO_RCVTIMEO) or EINTR: look at done again
			}
			pending, next = n, 0
		}
		i := next
		next++
		at := time.Now()
		if !v.src.IsValid() {
			v.Init(s.cfg, s.key, s.source(false), s.epoch)
		}
		rep, ok := v.Validate(bufs[i][:msgs[i].len])
		s.take(rep, ok, at, emit)
	}
}

// take counts a packet read at at, valid (ok) or not, and emits the record of
// a target's first valid reply.
func (s *Sweep) take(rep Reply, ok bool, at time.Time, emit func(results.Record)) {
	if !ok {
		s.invalid.Add(1)
		return
	}
	s.replies.Add(1)
	if !s.seen.add(rep.From) {
		s.dups.Add(1)
		return
	}
	s.hits.Add(1)
	if emit == nil {
		return
	}
	rec := results.Record{
		Time: at.UTC(), Vantage: s.cfg.Vantage, Round: s.cfg.Round, Method: s.cfg.Method,
		Target: rep.From.String(), Outcome: rep.Outcome, ReplyTTL: int(rep.TTL), Port: int(rep.Port),
	}
	if rep.SentNanos != 0 {
		rec.RTTms = rttMillis(at.Sub(s.epoch.Add(time.Duration(rep.SentNanos))))
	}
	emit(rec)
}

// Reply is a validated sweep reply.
type Reply struct {
	From    netip.Addr
	Outcome string // reply (icmp), open or closed (tcp)
	TTL     uint8
	Port    uint16 // the port that answered (tcp)
	// SentNanos is when the probe was sent, relative to the builder's epoch,
	// where the reply echoes it (ICMP payload); 0 when unknown.
	SentNanos int64
}

// sweepModule is a method's part in a stateless sweep, zmap's probe module:
// it writes the transport part of the probe to a target, hiding the probe's
// keyed hash in fields the reply must echo, and checks a reply against the
// hash of its sender. Neither may allocate. The registry (modules) holds one
// per method that can sweep; the engine writes the IPv4 header, the kernel the
// IPv6 one.
type sweepModule interface {
	// proto is the IP protocol of probes and replies of a family.
	proto(v6 bool) uint8
	// build writes the probe to dst (of b.src's family), whose hash is h, into
	// buf (at least 108 bytes) and returns its length.
	build(b *ProbeBuilder, buf []byte, dst netip.Addr, h uint64) int
	// validate reads p, what follows the IP header ip of a packet to us, as
	// a reply to one of b's probes; false when it is not one.
	validate(b *ProbeBuilder, ip ipHeader, p []byte) (Reply, bool)
}

// ProbeBuilder builds sweep probes into caller buffers and validates replies,
// without allocating, with the sweep module of its method. The zero value is
// unusable; call Init.
type ProbeBuilder struct {
	mod     sweepModule
	port    uint16
	ttl     uint8
	src     netip.Addr
	key     Key
	contact string
	epoch   time.Time
	// now is the clock of send times; tests fix it.
	now   func() time.Time
	stamp uint64 // send time of the batch being built, nanoseconds since epoch
}

// Init prepares b for a sweep from src.
func (b *ProbeBuilder) Init(cfg SweepConfig, key Key, src netip.Addr, epoch time.Time) {
	b.mod = modules[cfg.Method].sweep
	b.port = cfg.Port
	b.ttl = uint8(cfg.TTL)
	if b.ttl == 0 {
		b.ttl = 64
	}
	b.src = src
	b.key = key
	b.contact = cfg.Contact
	b.epoch = epoch
	if b.now == nil {
		b.now = time.Now
	}
	b.Stamp()
}

// maxContact bounds the contact string a sweep probe carries, so that a probe
// fits the 128-byte buffers of a batch.
const maxContact = 64

// hash is the keyed hash a probe to (or reply from) dst carries: SipHash-2-4 of
// source, destination and port, 10 bytes for IPv4, 34 for IPv6. b.src and dst
// are of one family.
func (b *ProbeBuilder) hash(dst netip.Addr) uint64 {
	var m [34]byte
	n := 8
	if dst.Is4() {
		s, d := b.src.As4(), dst.As4()
		copy(m[0:4], s[:])
		copy(m[4:8], d[:])
	} else {
		s, d := b.src.As16(), dst.As16()
		copy(m[0:16], s[:])
		copy(m[16:32], d[:])
		n = 32
	}
	binary.BigEndian.PutUint16(m[n:n+2], b.port)
	return sipHash24(b.key.k0, b.key.k1, m[:n+2])
}

// Stamp reads the clock for the send times of the probes built next; the sender
// calls it once a batch, not once a packet.
func (b *ProbeBuilder) Stamp() { b.stamp = uint64(b.now().Sub(b.epoch)) }

// Build writes the probe for dst, of the builder's family, into buf (at least
// 128 bytes) and returns its length: for IPv4 the IPv4 header, then the
// method's part; for IPv6 the method's part alone (the kernel writes the
// IPv6 header).
func (b *ProbeBuilder) Build(buf []byte, dst netip.Addr) int {
	h := b.hash(dst)
	if dst.Is6() {
		return b.mod.build(b, buf, dst, h)
	}
	l := ipv4Len + b.mod.build(b, buf[ipv4Len:], dst, h)
	putIPv4(buf, ipHeader{src: b.src, dst: dst, ttl: b.ttl, proto: b.mod.proto(false), id: uint16(h >> 48)}, l, true)
	return l
}

// Validate checks that pkt (an IPv4 packet as a raw socket delivers it) is a
// reply to one of this builder's probes and says from whom and what it says.
func (b *ProbeBuilder) Validate(pkt []byte) (Reply, bool) {
	ip, p, err := parseIPv4(pkt)
	if err != nil || ip.dst != b.src || ip.proto != b.mod.proto(false) || !ip.src.Is4() {
		return Reply{}, false
	}
	return b.mod.validate(b, ip, p)
}

// Validate6 checks that p, an IPv6 packet's payload as an IPv6 raw socket
// delivers it (no IPv6 header), from from with hop limit hopLimit, is a reply
// to one of this IPv6 builder's probes, as Validate does for IPv4.
func (b *ProbeBuilder) Validate6(p []byte, from netip.Addr, hopLimit int) (Reply, bool) {
	if !b.src.Is6() || !from.Is6() || from.Is4In6() {
		return Reply{}, false
	}
	ip := ipHeader{src: from.WithZone(""), dst: b.src, ttl: uint8(min(max(hopLimit, 0), 255)), proto: b.mod.proto(true)}
	return b.mod.validate(b, ip, p)
}

// seenSet is the set of addresses that answered: for IPv4 a bitmap paged by
// /16 (8 KiB a page), so that memory follows the /16s that answered, not the
// number of targets; for IPv6 (hitlist addresses, sparse) a set.
type seenSet struct {
	mu    sync.Mutex
	pages map[uint16]*[1 << 13]byte
	six   map[netip.Addr]struct{}
}

func newSeenSet() seenSet {
	return seenSet{pages: map[uint16]*[1 << 13]byte{}, six: map[netip.Addr]struct{}{}}
}

// add marks a and reports whether it was new.
func (s *seenSet) add(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Is6() {
		_, had := s.six[a]
		s.six[a] = struct{}{}
		return !had
	}
	a4 := a.As4()
	v := binary.BigEndian.Uint32(a4[:])
	p := s.pages[uint16(v>>16)]
	if p == nil {
		p = new([1 << 13]byte)
		s.pages[uint16(v>>16)] = p
	}
	i, bit := (v&0xffff)>>3, byte(1)<<(v&7)
	if p[i]&bit != 0 {
		return false
	}
	p[i] |= bit
	return true
}

func (s *seenSet) has(a netip.Addr) bool {
	a = a.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Is6() {
		_, ok := s.six[a]
		return ok
	}
	a4 := a.As4()
	v := binary.BigEndian.Uint32(a4[:])
	p := s.pages[uint16(v>>16)]
	return p != nil && p[(v&0xffff)>>3]&(1<<(v&7)) != 0
}

// sweepSenders is how many threads hand batches to the kernel.
const sweepSenders = 2

// batch is one sendmmsg's worth of packets with their kernel structures,
// addressed to IPv4 (addrs) or IPv6 (addrs6) destinations.
type batch struct {
	bufs   [][]byte
	iovs   []unix.Iovec
	addrs  []unix.RawSockaddrInet4
	addrs6 []unix.RawSockaddrInet6
	msgs   []mmsghdr
	fill   int
}

func newBatch(n int, v6 bool) *batch {
	bt := &batch{bufs: make([][]byte, n), iovs: make([]unix.Iovec, n), msgs: make([]mmsghdr, n)}
	if v6 {
		bt.addrs6 = make([]unix.RawSockaddrInet6, n)
	} else {
		bt.addrs = make([]unix.RawSockaddrInet4, n)
	}
	for i := range bt.msgs {
		bt.bufs[i] = make([]byte, 128)
		bt.iovs[i].Base = &bt.bufs[i][0]
		bt.msgs[i].hdr.Iov = &bt.iovs[i]
		bt.msgs[i].hdr.Iovlen = 1
		if v6 {
			bt.addrs6[i].Family = unix.AF_INET6
			bt.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&bt.addrs6[i]))
			bt.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
			continue
		}
		bt.addrs[i].Family = unix.AF_INET
		bt.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&bt.addrs[i]))
		bt.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet4
	}
	return bt
}

// sendBatch hands a batch to the kernel through socket fd, retrying what it
// did not take.
func (s *Sweep) sendBatch(fd int, bt *batch) {
	for off := 0; off < bt.fill; {
		m, err := sendmmsg(fd, bt.msgs[off:bt.fill])
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			// An unroutable destination fails its own packet only: skip it.
			s.sendErr.Add(1)
			off++
			continue
		}
		s.sent.Add(uint64(m))
		off += m
	}
}

// maxDeferred bounds the targets set aside for their block's cap; past it the
// sender waits for the earliest instead of taking new targets.
const maxDeferred = 1 << 14

// deferred is a min-heap by time of targets set aside for their block's cap.
type deferred []deferredAddr

type deferredAddr struct {
	at   time.Time
	addr netip.Addr
}

func (h deferred) ready(now time.Time) bool { return len(h) > 0 && !h[0].at.After(now) }

func (h *deferred) push(at time.Time, a netip.Addr) {
	*h = append(*h, deferredAddr{at, a})
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q[i].at.Before(q[p].at) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *deferred) pop() netip.Addr {
	q := *h
	top := q[0].addr
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(q) && q[l].at.Before(q[m].at) {
			m = l
		}
		if r < len(q) && q[r].at.Before(q[m].at) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}
