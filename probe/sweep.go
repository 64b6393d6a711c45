package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"darkwatch/results"
)

// SweepConfig configures a stateless high-rate sweep of many IPv4 addresses with
// one method: ICMP echo or TCP SYN to one port.
type SweepConfig struct {
	Vantage string
	Round   int64
	Method  string // results.MethodICMP or results.MethodTCP
	Port    uint16 // tcp
	// Source is the source address; when invalid, the kernel's choice for the
	// first target is used.
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
	src   netip.Addr // guarded by srcMu once sending starts
	srcMu sync.Mutex
	send  int // raw IPPROTO_RAW socket (we write the IPv4 header)
	recv  int // raw ICMP or TCP socket
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
	if cfg.Method != results.MethodICMP && cfg.Method != results.MethodTCP {
		return nil, fmt.Errorf("probe: sweep method %q: use icmp or tcp", cfg.Method)
	}
	if cfg.Method == results.MethodTCP && cfg.Port == 0 {
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
	s := &Sweep{cfg: cfg, key: cfg.Key, src: cfg.Source, epoch: time.Now(), seen: seenSet{pages: map[uint16]*[1 << 13]byte{}}}
	if s.key == (Key{}) {
		s.key = NewKey()
	}
	var err error
	s.send, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, sweepSocketErr(err)
	}
	proto := unix.IPPROTO_ICMP
	if cfg.Method == results.MethodTCP {
		proto = unix.IPPROTO_TCP
	}
	s.recv, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		unix.Close(s.send)
		return nil, sweepSocketErr(err)
	}
	// Big buffers: a sweep at line rate must not drop replies in the kernel.
	for _, fd := range []int{s.send, s.recv} {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	_ = unix.SetsockoptTimeval(s.recv, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return s, nil
}

// Close releases the sockets.
func (s *Sweep) Close() error {
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

// Run makes 1+Retries passes, each over the addresses pass returns (IPv4 only;
// others are counted as blocked), then reads replies for Cooldown more, and calls
// emit with a record for each target's first valid reply, from the receiving
// goroutine. stop, when closed, ends sending early; the cooldown still runs so
// that replies to what was sent are not lost.
func (s *Sweep) Run(stop <-chan struct{}, pass func() AddrIter, emit func(results.Record)) (SweepStats, error) {
	start := time.Now()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.receive(done, start, emit)
	}()
	err := s.sendAll(stop, pass)
	sendEnd := time.Now()
	if s.cfg.Cooldown > 0 {
		time.Sleep(s.cfg.Cooldown)
	}
	close(done)
	wg.Wait()
	st := s.Stats()
	st.Start, st.SendEnd, st.End = start, sendEnd, time.Now()
	return st, err
}

// sendAll is the sender: it fills batches of packets and hands each batch to
// the kernel with one sendmmsg.
func (s *Sweep) sendAll(stop <-chan struct{}, pass func() AddrIter) error {
	n := s.cfg.Batch
	// Batches are filled here and handed to senders on their own threads: the
	// kernel does a packet's routing and transmit work in the sender's system
	// call, so two senders use two cores.
	free := make(chan *batch, sweepSenders+2)
	full := make(chan *batch, sweepSenders+2)
	for range sweepSenders + 2 {
		free <- newBatch(n)
	}
	var senders sync.WaitGroup
	for range sweepSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for bt := range full {
				s.sendBatch(bt)
				free <- bt
			}
		}()
	}
	defer func() {
		close(full)
		senders.Wait()
	}()
	var b ProbeBuilder
	b.Init(s.cfg, s.key, s.src, s.epoch)
	cur := <-free
	fill := 0
	flush := func() error {
		if fill > 0 {
			cur.fill = fill
			full <- cur
			cur = <-free
			fill = 0
		}
		return nil
	}
	var later deferred
	batchStart := time.Now()
	for range s.cfg.Retries + 1 {
		next := pass()
		exhausted := false
		for {
			select {
			case <-stop:
				return flush()
			default:
			}
			var dst netip.Addr
			now := time.Time{}
			if s.cfg.BlockAllow != nil || s.cfg.Wait != nil {
				now = time.Now()
			}
			switch {
			case later.ready(now):
				dst = later.pop()
			case !exhausted && len(later) < maxDeferred:
				var ok bool
				if dst, ok = next(); !ok {
					exhausted = true
					continue
				}
				if !dst.Is4() || (s.cfg.Permit != nil && s.cfg.Permit(dst) != nil) {
					s.blocked.Add(1)
					continue
				}
			case len(later) > 0:
				flush()
				time.Sleep(time.Until(later[0].at))
				continue
			default:
				exhausted = true
			}
			if exhausted && !dst.IsValid() {
				break
			}
			if s.cfg.BlockAllow != nil {
				if at, ok := s.cfg.BlockAllow(dst, now); !ok {
					later.push(at, dst)
					continue
				}
			}
			if !b.src.IsValid() {
				src, err := RouteSource(dst)
				if err != nil {
					return err
				}
				b.Init(s.cfg, s.key, src, s.epoch)
				s.setSource(src)
			}
			if s.cfg.Wait != nil {
				s.cfg.Wait(1)
			}
			if fill == 0 {
				b.Stamp()
				batchStart = now
			}
			l := b.Build(cur.bufs[fill], dst)
			cur.iovs[fill].SetLen(l)
			cur.addrs[fill].Addr = dst.As4()
			fill++
			// A full batch goes at once; a slow one (low rates) within 2 ms.
			if fill == n || (!now.IsZero() && now.Sub(batchStart) > 2*time.Millisecond) {
				flush()
			}
		}
		flush()
	}
	return nil
}

func (s *Sweep) setSource(src netip.Addr) {
	s.srcMu.Lock()
	s.src = src
	s.srcMu.Unlock()
}

func (s *Sweep) source() netip.Addr {
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	return s.src
}

// receive reads replies until done is closed, validates them and emits the
// first reply of each target.
func (s *Sweep) receive(done <-chan struct{}, start time.Time, emit func(results.Record)) {
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
	v.Init(s.cfg, s.key, s.source(), s.epoch)
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
			v.Init(s.cfg, s.key, s.source(), s.epoch)
		}
		rep, ok := v.Validate(bufs[i][:msgs[i].len])
		if !ok {
			s.invalid.Add(1)
			continue
		}
		s.replies.Add(1)
		if !s.seen.add(rep.From) {
			s.dups.Add(1)
			continue
		}
		s.hits.Add(1)
		if emit == nil {
			continue
		}
		rec := results.Record{
			Time: at.UTC(), Vantage: s.cfg.Vantage, Round: s.cfg.Round, Method: s.cfg.Method,
			Target: rep.From.String(), Outcome: rep.Outcome, ReplyTTL: int(rep.TTL),
		}
		if s.cfg.Method == results.MethodTCP {
			rec.Port = int(s.cfg.Port)
		}
		if rep.SentNanos != 0 {
			rec.RTTms = rttMillis(at.Sub(s.epoch.Add(time.Duration(rep.SentNanos))))
		}
		emit(rec)
	}
}

// Reply is a validated sweep reply.
type Reply struct {
	From    netip.Addr
	Outcome string // reply (icmp), open or closed (tcp)
	TTL     uint8
	// SentNanos is when the probe was sent, relative to the builder's epoch,
	// where the reply echoes it (ICMP payload); 0 when unknown.
	SentNanos int64
}

// ProbeBuilder builds sweep probes into caller buffers and validates replies,
// without allocating. The zero value is unusable; call Init.
type ProbeBuilder struct {
	tcp     bool
	port    uint16
	ttl     uint8
	src     netip.Addr
	src4    [4]byte
	key     Key
	contact []byte
	epoch   time.Time
	// now is the clock of send times; tests fix it.
	now   func() time.Time
	stamp uint64 // send time of the batch being built, nanoseconds since epoch
}

// Init prepares b for a sweep from src.
func (b *ProbeBuilder) Init(cfg SweepConfig, key Key, src netip.Addr, epoch time.Time) {
	b.tcp = cfg.Method == results.MethodTCP
	b.port = cfg.Port
	b.ttl = uint8(cfg.TTL)
	if b.ttl == 0 {
		b.ttl = 64
	}
	b.src = src
	if src.Is4() {
		b.src4 = src.As4()
	}
	b.key = key
	b.contact = []byte(cfg.Contact)
	b.epoch = epoch
	if b.now == nil {
		b.now = time.Now
	}
	b.Stamp()
}

// sweep probe layout: IPv4 header (20) + ICMP echo (8) + 8-byte send time +
// contact, or IPv4 header + TCP SYN (20, no options).
const (
	maxContact = 64
)

// hash is the keyed hash a probe to (or reply from) dst carries: SipHash-2-4 of
// the 10 bytes source, destination and port, one block and a tail.
func (b *ProbeBuilder) hash(dst [4]byte) uint64 {
	var m [10]byte
	copy(m[0:4], b.src4[:])
	copy(m[4:8], dst[:])
	binary.BigEndian.PutUint16(m[8:10], b.port)
	return sipHash24(b.key.k0, b.key.k1, m[:])
}

// Stamp reads the clock for the send times of the probes built next; the sender
// calls it once a batch, not once a packet.
func (b *ProbeBuilder) Stamp() { b.stamp = uint64(b.now().Sub(b.epoch)) }

// Build writes the probe for dst into buf (at least 128 bytes) and returns its
// length.
func (b *ProbeBuilder) Build(buf []byte, dst netip.Addr) int {
	d := dst.As4()
	h := b.hash(d)
	var l int
	if b.tcp {
		l = ipv4Len + tcpLen
		t := buf[ipv4Len:l]
		sport := 32768 + uint16(h>>32)%28232
		binary.BigEndian.PutUint16(t[0:2], sport)
		binary.BigEndian.PutUint16(t[2:4], b.port)
		binary.BigEndian.PutUint32(t[4:8], uint32(h))
		binary.BigEndian.PutUint32(t[8:12], 0)
		t[12] = 5 << 4
		t[13] = 0x02 // SYN
		binary.BigEndian.PutUint16(t[14:16], 65535)
		binary.BigEndian.PutUint32(t[16:20], 0) // checksum, urgent
		binary.BigEndian.PutUint16(t[16:18], checksum(pseudoSum(b.src, dst, protoTCP, len(t)), t))
	} else {
		c := b.contact
		if len(c) > maxContact {
			c = c[:maxContact]
		}
		l = ipv4Len + 8 + 8 + len(c)
		m := buf[ipv4Len:l]
		m[0], m[1], m[2], m[3] = icmp4Echo, 0, 0, 0
		binary.BigEndian.PutUint16(m[4:6], uint16(h>>16))
		binary.BigEndian.PutUint16(m[6:8], uint16(h))
		binary.BigEndian.PutUint64(m[8:16], b.stamp)
		copy(m[16:], c)
		binary.BigEndian.PutUint16(m[2:4], checksum(0, m))
	}
	proto := uint8(protoICMP)
	if b.tcp {
		proto = protoTCP
	}
	putIPv4(buf, ipHeader{src: b.src, dst: dst, ttl: b.ttl, proto: proto, id: uint16(h >> 48)}, l, true)
	return l
}

// Validate checks that pkt (an IPv4 packet as a raw socket delivers it) is a
// reply to one of this builder's probes and says from whom and what it says.
func (b *ProbeBuilder) Validate(pkt []byte) (Reply, bool) {
	var r Reply
	ip, p, err := parseIPv4(pkt)
	if err != nil || len(p) < 8 || ip.dst != b.src {
		return r, false
	}
	r.From, r.TTL = ip.src, ip.ttl

	switch {
	case b.tcp && ip.proto == protoTCP:
		if len(p) < 20 {
			return r, false
		}
		sport := binary.BigEndian.Uint16(p[0:2])
		dport := binary.BigEndian.Uint16(p[2:4])
		ack := binary.BigEndian.Uint32(p[8:12])
		flags := p[13]
		if sport != b.port || flags&0x10 == 0 { // must ACK our SYN
			return r, false
		}
		h := b.hash(r.From.As4())
		if dport != 32768+uint16(h>>32)%28232 || ack != uint32(h)+1 {
			return r, false
		}
		switch {
		case flags&0x04 != 0:
			r.Outcome = results.OutcomeClosed
		case flags&0x12 == 0x12:
			r.Outcome = results.OutcomeOpen
		default:
			return r, false
		}
		return r, true
	case !b.tcp && ip.proto == protoICMP:
		if p[0] != icmp4EchoReply || p[1] != 0 {
			return r, false
		}
		h := b.hash(r.From.As4())
		if binary.BigEndian.Uint16(p[4:6]) != uint16(h>>16) || binary.BigEndian.Uint16(p[6:8]) != uint16(h) {
			return r, false
		}
		if len(p) >= 16 {
			r.SentNanos = int64(binary.BigEndian.Uint64(p[8:16]))
		}
		r.Outcome = results.OutcomeReply
		return r, true
	}
	return r, false
}

// seenSet is a bitmap of IPv4 addresses, paged by /16 (8 KiB a page), so that
// memory follows the /16s that answered, not the number of targets.
type seenSet struct {
	mu    sync.Mutex
	pages map[uint16]*[1 << 13]byte
}

// add marks a and reports whether it was new.
func (s *seenSet) add(a netip.Addr) bool {
	a4 := a.As4()
	v := binary.BigEndian.Uint32(a4[:])
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if !a.Is4() {
		return false
	}
	a4 := a.As4()
	v := binary.BigEndian.Uint32(a4[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pages[uint16(v>>16)]
	return p != nil && p[(v&0xffff)>>3]&(1<<(v&7)) != 0
}

// sweepSenders is how many threads hand batches to the kernel.
const sweepSenders = 2

// batch is one sendmmsg's worth of packets with their kernel structures.
type batch struct {
	bufs  [][]byte
	iovs  []unix.Iovec
	addrs []unix.RawSockaddrInet4
	msgs  []mmsghdr
	fill  int
}

func newBatch(n int) *batch {
	bt := &batch{bufs: make([][]byte, n), iovs: make([]unix.Iovec, n),
		addrs: make([]unix.RawSockaddrInet4, n), msgs: make([]mmsghdr, n)}
	for i := range bt.msgs {
		bt.bufs[i] = make([]byte, 128)
		bt.iovs[i].Base = &bt.bufs[i][0]
		bt.msgs[i].hdr.Iov = &bt.iovs[i]
		bt.msgs[i].hdr.Iovlen = 1
		bt.addrs[i].Family = unix.AF_INET
		bt.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&bt.addrs[i]))
		bt.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet4
	}
	return bt
}

// sendBatch hands a batch to the kernel, retrying what it did not take.
func (s *Sweep) sendBatch(bt *batch) {
	for off := 0; off < bt.fill; {
		m, err := sendmmsg(s.send, bt.msgs[off:bt.fill])
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
