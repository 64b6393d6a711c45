package schedule

import (
	"math/bits"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// Block sizes for the per-block cap: an IPv4 /24 and an IPv6 /56 (a typical
// end-site assignment: one customer's network, as a /24 is one small
// organisation's in IPv4).
const (
	BlockBits4 = 24
	BlockBits6 = 56
)

// BlockOf returns the block that a belongs to for the per-block cap: its /24
// for IPv4 (IPv4-mapped addresses included), its /56 for IPv6. It returns the
// zero Prefix for the zero Addr.
func BlockOf(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, BlockBits4).Masked()
	}
	return netip.PrefixFrom(a, BlockBits6).Masked()
}

// blockKey is BlockOf as a number, never 0: bit 62 is always set, bit 63 for
// IPv4 (with the /24 in the low 24 bits); IPv6 blocks are the top 56 bits of
// the address.
func blockKey(a netip.Addr) uint64 {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return 3<<62 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	return 1<<62 | uint64(b[0])<<48 | uint64(b[1])<<40 | uint64(b[2])<<32 | uint64(b[3])<<24 |
		uint64(b[4])<<16 | uint64(b[5])<<8 | uint64(b[6])
}

// clock is time as the pacers see it; tests replace it.
type clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type systemClock struct{}

func (systemClock) Now() time.Time        { return time.Now() }
func (systemClock) Sleep(d time.Duration) { time.Sleep(d) }

// spinBelow is the wait below which the pacers spin (yielding the processor
// between looks at the clock) instead of sleeping: timers cannot wake a
// goroutine that precisely, and on many hosts a sleep of any length costs
// about a millisecond. A longer wait sleeps until spinBelow before the
// deadline and spins the rest.
const spinBelow = 100 * time.Microsecond

// sleepUntil returns at or after at; now is the clock's current reading.
func sleepUntil(c clock, at, now time.Time) {
	for {
		d := at.Sub(now)
		if d <= 0 {
			return
		}
		if d > spinBelow {
			c.Sleep(d - spinBelow)
		} else {
			runtime.Gosched()
		}
		now = c.Now()
	}
}

// LimiterSlack is how far behind a Limiter lets a sender fall (a pause, a slow
// system call, a busy host) and still make up for it: packets not sent within
// the last LimiterSlack are forgotten, and the backlog is made up at no more
// than twice the rate.
const LimiterSlack = 100 * time.Millisecond

// Limiter paces one sender goroutine to a global packets-per-second rate, from
// a few packets a second to millions. It keeps the time at which the next
// packet is due (a virtual clock advancing exactly 1/pps a packet, with no
// rounding drift) rather than a ticker, so a sender may ask for packets one at
// a time or in batches, and pays a clock read, not a system call, per Wait
// when the rate is high. Over any stretch longer than LimiterSlack the rate
// holds on average; over short ones it may reach twice the rate while a
// backlog is made up (see LimiterSlack). It is not safe for concurrent use.
type Limiter struct {
	pps   int64
	per   int64 // whole nanoseconds a packet
	rem   int64 // and rem/pps of a nanosecond more
	frac  int64 // accumulated remainder, < pps
	tat   int64 // when the next packet is due, in ns since base
	peak  int64 // the earliest the next packet may go at twice the rate
	base  time.Time
	begun bool
	clock clock
}

// NewLimiter returns a Limiter for pps packets a second; pps <= 0 means
// unlimited.
func NewLimiter(pps int) *Limiter {
	l := &Limiter{clock: systemClock{}}
	if pps > 0 {
		l.pps = int64(pps)
		l.per = int64(time.Second) / l.pps
		l.rem = int64(time.Second) % l.pps
	}
	return l
}

// Wait returns when n more packets may be sent: at once if they are within the
// rate, else after spinning or sleeping until they are. The n packets are then
// booked, so that asking for a batch of n costs the same as n single packets.
func (l *Limiter) Wait(n int) {
	if l.pps == 0 || n <= 0 {
		return
	}
	now := l.clock.Now()
	if at := l.Reserve(now, n); at.After(now) {
		sleepUntil(l.clock, at, now)
	}
}

// Reserve books n packets and returns when they may be sent, now or later; the
// caller must wait until then. It is Wait without the waiting, for callers that
// have their own clock.
func (l *Limiter) Reserve(now time.Time, n int) time.Time {
	if l.pps == 0 || n <= 0 {
		return now
	}
	if !l.begun {
		l.base, l.begun = now, true
	}
	t := int64(now.Sub(l.base))
	if lag := t - int64(LimiterSlack); l.tat < lag {
		l.tat, l.frac = lag, 0 // forget what was not sent in time
	}
	// On schedule, at is tat (and peak is behind it); behind schedule, at is now
	// or, while a backlog is made up, half an interval after the last batch.
	at := max(l.tat, t, l.peak)
	l.peak = at + int64(n)*(l.per/2)
	l.tat += int64(n) * l.per
	l.frac += int64(n) * l.rem
	if l.frac >= l.pps {
		l.tat += l.frac / l.pps
		l.frac %= l.pps
	}
	if at <= t {
		return now
	}
	return l.base.Add(time.Duration(at))
}

// BlockCap caps the packets sent to any one block (see BlockOf) at pps a
// second, spacing them at least 1/pps apart. It needs to remember a block only
// until its next packet is due, at most one second later: it keeps blocks in
// an open-addressing hash table whose expired entries are reused, and dropped
// whenever the table is rebuilt, so that its memory follows the most blocks
// sent to within one interval (the table has at most 8 slots for each), not
// the number of targets. It is not safe for concurrent use.
type BlockCap struct {
	interval int64 // ns between two packets to one block; 0: no cap
	base     time.Time
	begun    bool
	slots    []capSlot // len a power of two; key 0: never used
	shift    uint      // 64 - log2(len(slots))
	used     int       // slots with a key, live or expired
}

// capSlot is a block and when it may next be sent to (ns since base); it has
// expired when that time has come.
type capSlot struct {
	key  uint64
	next int64
}

const minCapSlots = 1 << 10

// NewBlockCap returns a cap of pps packets a second to each block; pps <= 0
// means no cap.
func NewBlockCap(pps int) *BlockCap {
	c := &BlockCap{}
	if pps > 0 {
		c.interval = (int64(time.Second) + int64(pps) - 1) / int64(pps) // round up: never faster than pps
		c.resize(minCapSlots)
	}
	return c
}

// Allow reports whether a packet to a may be sent at now. If so, it books it
// and returns (now, true). If not, it books nothing and returns the earliest
// time one may, and false; the caller waits or defers a and asks again.
func (c *BlockCap) Allow(a netip.Addr, now time.Time) (time.Time, bool) {
	if c.interval == 0 {
		return now, true
	}
	if !c.begun {
		c.base, c.begun = now, true
	}
	t := int64(now.Sub(c.base))
	k := blockKey(a)
	mask := uint64(len(c.slots) - 1)
	free := -1 // the first expired slot on the way, to reuse
	i := (k * 0x9e3779b97f4a7c15) >> c.shift
	for {
		s := &c.slots[i]
		if s.key == k {
			if s.next > t {
				return c.base.Add(time.Duration(s.next)), false
			}
			s.next = t + c.interval
			return now, true
		}
		if s.key == 0 {
			break
		}
		if free < 0 && s.next <= t {
			free = int(i)
		}
		i = (i + 1) & mask
	}
	// A block not seen within the last interval.
	if free >= 0 {
		c.slots[free] = capSlot{k, t + c.interval}
		return now, true
	}
	c.slots[i] = capSlot{k, t + c.interval}
	if c.used++; c.used > len(c.slots)/2 {
		c.rebuild(t)
	}
	return now, true
}

// rebuild drops the expired entries and sizes the table for four times the
// live ones, growing or shrinking it.
func (c *BlockCap) rebuild(t int64) {
	live := 0
	for _, s := range c.slots {
		if s.key != 0 && s.next > t {
			live++
		}
	}
	n := minCapSlots
	for n < 4*live {
		n *= 2
	}
	old := c.slots
	c.resize(n)
	for _, s := range old {
		if s.key != 0 && s.next > t {
			i := (s.key * 0x9e3779b97f4a7c15) >> c.shift
			for c.slots[i].key != 0 {
				i = (i + 1) & uint64(n-1)
			}
			c.slots[i] = s
			c.used++
		}
	}
}

func (c *BlockCap) resize(n int) {
	c.slots = make([]capSlot, n)
	c.shift = uint(64 - bits.TrailingZeros(uint(n)))
	c.used = 0
}

// Len is the number of blocks the cap holds, those whose time has come but
// that were not yet dropped included.
func (c *BlockCap) Len() int { return c.used }

// Pacer holds a sender to a global rate and a per-block cap at once; its Pace
// method fits probe.SweepConfig.Pace. It is not safe for concurrent use.
type Pacer struct {
	limit *Limiter
	cap   *BlockCap
	clock clock
}

// NewPacer returns a Pacer for pps packets a second in all and perBlockPPS to
// any one block; either may be 0 for no limit.
func NewPacer(pps, perBlockPPS int) *Pacer {
	return &Pacer{limit: NewLimiter(pps), cap: NewBlockCap(perBlockPPS), clock: systemClock{}}
}

// Pace returns when a packet to dst may be sent, and books it. A packet to a
// block at its cap waits for the block (and holds up the sender: a random
// order of targets makes that rare).
func (p *Pacer) Pace(dst netip.Addr) {
	p.limit.Wait(1)
	if p.cap.interval == 0 {
		return
	}
	now := p.clock.Now()
	for {
		at, ok := p.cap.Allow(dst, now)
		if ok {
			return
		}
		sleepUntil(p.clock, at, now)
		now = p.clock.Now()
	}
}

// SharedPacer is a Pacer for many sender goroutines at once (the traces of a
// sweep). Its caps are booked under a lock, but every wait is outside it: a
// packet waits for its turn in the global rate without holding up the packets
// booked after it, and a packet to a block at its cap waits for the block
// without holding up packets to any other block. Safe for concurrent use.
type SharedPacer struct {
	mu sync.Mutex
	p  *Pacer
}

// NewSharedPacer returns a SharedPacer for pps packets a second in all and
// perBlockPPS to any one block; either may be 0 for no limit.
func NewSharedPacer(pps, perBlockPPS int) *SharedPacer {
	return &SharedPacer{p: NewPacer(pps, perBlockPPS)}
}

// Pace returns when a packet to dst may be sent, and books it. The packet
// takes its turn in the global rate first, then its block's: a block at its
// cap sends the caller to sleep until the block's next turn and to ask again
// (the turn in the global rate it took is left unused).
func (s *SharedPacer) Pace(dst netip.Addr) {
	p := s.p
	for {
		s.mu.Lock()
		now := p.clock.Now()
		at := p.limit.Reserve(now, 1)
		s.mu.Unlock()
		if at.After(now) {
			sleepUntil(p.clock, at, now)
		}
		if p.cap.interval == 0 {
			return
		}
		s.mu.Lock()
		now = p.clock.Now()
		next, ok := p.cap.Allow(dst, now)
		s.mu.Unlock()
		if ok {
			return
		}
		sleepUntil(p.clock, next, now)
	}
}
