package schedule

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)

// fakeClock advances by tick on every Now (a spinning caller makes progress),
// and by stall more every stallEvery-th Now (the sender was descheduled), and
// by the duration plus overshoot on every Sleep (a coarse timer).
type fakeClock struct {
	now        time.Time
	tick       time.Duration
	overshoot  time.Duration
	stallEvery int
	stall      time.Duration
	nows       int
	sleeps     int
}

func (c *fakeClock) Now() time.Time {
	c.now = c.now.Add(c.tick)
	if c.nows++; c.stallEvery > 0 && c.nows%c.stallEvery == 0 {
		c.now = c.now.Add(c.stall)
	}
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) {
	if d <= 0 {
		panic("Sleep of a non-positive duration")
	}
	c.sleeps++
	c.now = c.now.Add(d + c.overshoot)
}

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestLimiterReserve(t *testing.T) {
	type step struct {
		at   time.Duration // now, since t0
		n    int
		want time.Duration // when the packets may go, since t0
	}
	tests := []struct {
		name  string
		pps   int
		steps []step
	}{
		{"unlimited", 0, []step{{0, 1, 0}, {0, 1000, 0}, {ms(1), 1, ms(1)}}},
		{"one at a time", 1000, []step{{0, 1, 0}, {0, 1, ms(1)}, {0, 1, ms(2)}, {ms(2), 1, ms(3)}, {ms(5), 1, ms(5)}}},
		{"batches", 1000, []step{{0, 10, 0}, {0, 5, ms(10)}, {ms(10), 1, ms(15)}, {ms(16), 1, ms(16)}}},
		{"on time", 100, []step{{0, 1, 0}, {ms(10), 1, ms(10)}, {ms(20), 1, ms(20)}, {ms(25), 1, ms(30)}}},
		// Behind schedule: the backlog goes at twice the rate.
		{"catch-up", 1000, []step{{0, 1, 0}, {ms(5), 1, ms(5)}, {ms(5), 1, ms(5.5)}, {ms(5), 2, ms(6)}, {ms(5), 1, ms(7)}, {ms(5), 1, ms(7.5)}, {ms(5), 1, ms(8)}, {ms(5), 1, ms(8.5)}, {ms(5), 1, ms(9)}, {ms(5), 1, ms(10)}}},
		{"nothing asked", 10, []step{{0, 0, 0}, {0, -3, 0}, {0, 1, 0}, {0, 1, ms(100)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.pps)
			for i, s := range tt.steps {
				got := l.Reserve(t0.Add(s.at), s.n).Sub(t0)
				if got != s.want {
					t.Fatalf("step %d: Reserve(t0+%v, %d) = t0+%v, want t0+%v", i, s.at, s.n, got, s.want)
				}
			}
		})
	}
}

// TestLimiterCatchUp: a sender 500 ms late makes up LimiterSlack's worth of
// packets at twice the rate, then goes on at the rate.
func TestLimiterCatchUp(t *testing.T) {
	l := NewLimiter(1000)
	l.Reserve(t0, 1)
	now := t0.Add(ms(500))
	made := int(LimiterSlack / time.Millisecond) // packets made up: 100
	for k := range 3 * made {
		want := ms(500) + time.Duration(k)*ms(0.5) // twice the rate
		if k >= 2*made {
			want = ms(500) - LimiterSlack + time.Duration(k)*ms(1) // the rate
		}
		if got := l.Reserve(now, 1).Sub(t0); got != want {
			t.Fatalf("packet %d after the pause: at t0+%v, want t0+%v", k, got, want)
		}
	}
}

// TestLimiterExactRate: rates that do not divide a second still come out exact
// over time, with no rounding drift.
func TestLimiterExactRate(t *testing.T) {
	for _, pps := range []int{1, 3, 7, 999, 999983, 3000000} {
		l := NewLimiter(pps)
		for range pps {
			l.Reserve(t0, 1)
		}
		if got := l.Reserve(t0, 1).Sub(t0); got != time.Second {
			t.Errorf("pps=%d: packet %d is due at %v, want 1s", pps, pps, got)
		}
	}
}

func TestLimiterWait(t *testing.T) {
	tests := []struct {
		name            string
		pps, n, calls   int
		tick, overshoot time.Duration
		stallEvery      int
		stall           time.Duration
		wantTotal       time.Duration // the time the calls take, to within 2%
		sleeps          bool          // whether Wait should sleep (else spin)
	}{
		{"1k pps precise timer", 1000, 1, 1000, time.Microsecond, 0, 0, 0, time.Second, true},
		// Sleeps that overshoot by a whole millisecond: the rate still holds,
		// as the next wait is shorter.
		{"1k pps coarse timer", 1000, 1, 1000, time.Microsecond, time.Millisecond, 0, 0, time.Second, true},
		{"1M pps spins", 1000000, 1, 10000, 50 * time.Nanosecond, time.Millisecond, 0, 0, 10 * time.Millisecond, false},
		{"1M pps in batches", 1000000, 64, 1000, 50 * time.Nanosecond, time.Millisecond, 0, 0, 64 * time.Millisecond, false},
		{"100k pps batches sleep", 100000, 100, 100, 50 * time.Nanosecond, 0, 0, 0, 100 * time.Millisecond, true},
		{"unlimited", 0, 1, 1000, time.Microsecond, 0, 0, 0, 0, false},
		// Descheduled for 2 ms every 5 ms or so: the backlog is made up.
		{"1M pps with stalls", 1000000, 1, 50000, 50 * time.Nanosecond, 0, 100000, 2 * time.Millisecond, 50 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: t0, tick: tt.tick, overshoot: tt.overshoot, stallEvery: tt.stallEvery, stall: tt.stall}
			l := NewLimiter(tt.pps)
			l.clock = c
			sent := 0
			for range tt.calls {
				l.Wait(tt.n)
				// Never early: packet k is due at k/pps after the first.
				if tt.pps > 0 {
					due := time.Duration(int64(sent) * int64(time.Second) / int64(tt.pps))
					if el := c.now.Sub(t0); el+tt.tick < due {
						t.Fatalf("Wait returned at %v for packets due at %v", el, due)
					}
				}
				sent += tt.n
			}
			total := c.now.Sub(t0) + time.Duration(int64(tt.n)*int64(time.Second)/max(int64(tt.pps), 1))
			if tt.pps == 0 {
				total = c.now.Sub(t0)
			}
			t.Logf("%d calls took %v, %d sleeps", tt.calls, total, c.sleeps)
			if diff := total - tt.wantTotal; diff < -tt.wantTotal/50-10*tt.tick || diff > tt.wantTotal/50+10*tt.tick {
				t.Errorf("%d calls took %v, want %v", tt.calls, total, tt.wantTotal)
			}
			if (c.sleeps > 0) != tt.sleeps {
				t.Errorf("slept %d times, want sleeping=%v", c.sleeps, tt.sleeps)
			}
		})
	}
}

func TestBlockOf(t *testing.T) {
	for a, want := range map[string]string{
		"175.45.176.15":          "175.45.176.0/24",
		"::ffff:175.45.176.15":   "175.45.176.0/24",
		"2001:db8:1:2:3:4:5:6":   "2001:db8:1::/56",
		"2001:db8:1:ff:3:4:5:6":  "2001:db8:1::/56",
		"2001:db8:1:100::1":      "2001:db8:1:100::/56",
		"ffff:ffff:ffff:ffff::1": "ffff:ffff:ffff:ff00::/56",
	} {
		if got := BlockOf(netip.MustParseAddr(a)); got.String() != want {
			t.Errorf("BlockOf(%s) = %v, want %s", a, got, want)
		}
	}
	if BlockOf(netip.Addr{}).IsValid() {
		t.Error("BlockOf(invalid) is valid")
	}
}

func TestBlockCapAllow(t *testing.T) {
	type step struct {
		addr string
		at   time.Duration // since t0
		ok   bool
		when time.Duration // when it may go, since t0
	}
	tests := []struct {
		name  string
		pps   int
		steps []step
	}{
		{"no cap", 0, []step{{"175.45.176.1", 0, true, 0}, {"175.45.176.1", 0, true, 0}}},
		{"ipv4 /24", 10, []step{
			{"175.45.176.1", 0, true, 0},
			{"175.45.176.2", ms(50), false, ms(100)}, // same /24
			{"175.45.177.2", ms(50), true, ms(50)},   // another /24
			{"175.45.176.2", ms(99), false, ms(100)},
			{"175.45.176.2", ms(100), true, ms(100)},
			{"::ffff:175.45.176.3", ms(150), false, ms(200)}, // mapped is the same block
			{"175.45.176.3", ms(500), true, ms(500)},
			{"175.45.176.3", ms(599), false, ms(600)},
		}},
		{"ipv6 /56", 2, []step{
			{"2001:db8:1::1", 0, true, 0},
			{"2001:db8:1:ff::1", ms(10), false, ms(500)}, // another /64, same /56
			{"2001:db8:1:100::1", ms(10), true, ms(10)},  // another /56
			{"2001:db8:1::9", ms(500), true, ms(500)},
		}},
		{"families apart", 1, []step{
			{"0.0.0.1", 0, true, 0},
			{"::1", 0, true, 0}, // ::/56 and 0.0.0.0/24 are different blocks
			{"0.0.0.2", ms(1), false, time.Second},
		}},
		{"odd rate rounds up", 3, []step{
			{"175.45.176.1", 0, true, 0},
			{"175.45.176.1", 333333333, false, 333333334},
			{"175.45.176.1", 333333334, true, 333333334},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewBlockCap(tt.pps)
			for i, s := range tt.steps {
				when, ok := c.Allow(netip.MustParseAddr(s.addr), t0.Add(s.at))
				if ok != s.ok || when.Sub(t0) != s.when {
					t.Fatalf("step %d: Allow(%s, t0+%v) = t0+%v, %v, want t0+%v, %v", i, s.addr, s.at, when.Sub(t0), ok, s.when, s.ok)
				}
			}
		})
	}
}

// TestBlockCapMatchesModel checks the expiring table against a map that forgets
// nothing, over random traffic to a few blocks and to many (long probe chains,
// rebuilds).
func TestBlockCapMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ pps, blocks int }{{1, 8}, {10, 8}, {1000, 8}, {1, 3000}, {10, 20000}} {
		c := NewBlockCap(tc.pps)
		interval := (time.Second + time.Duration(tc.pps) - 1) / time.Duration(tc.pps)
		model := map[netip.Prefix]time.Time{}
		pool := make([]netip.Addr, tc.blocks)
		for i := range pool {
			pool[i] = netip.AddrFrom4([4]byte{175, byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
			if i%3 == 0 {
				pool[i] = netip.AddrFrom16([16]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), 0, 0, 0, 0, byte(rng.IntN(256)), 0xff})
			}
		}
		now := t0
		for i := range 200000 {
			// Gaps from nothing to a few intervals, so that entries expire at
			// every phase.
			now = now.Add(time.Duration(rng.Int64N(int64(interval) / time.Duration(tc.blocks).Nanoseconds() * 4)))
			if rng.IntN(5000) == 0 {
				now = now.Add(time.Duration(rng.Int64N(3 * int64(interval))))
			}
			a := pool[rng.IntN(len(pool))]
			b := BlockOf(a)
			wantOK := !model[b].After(now)
			wantWhen := now
			if !wantOK {
				wantWhen = model[b]
			} else {
				model[b] = now.Add(interval)
			}
			when, ok := c.Allow(a, now)
			if ok != wantOK || !when.Equal(wantWhen) {
				t.Fatalf("pps=%d blocks=%d step %d: Allow(%v) = %v, %v, want %v, %v", tc.pps, tc.blocks, i, a, when.Sub(t0), ok, wantWhen.Sub(t0), wantOK)
			}
		}
	}
}

// TestBlockKeyMatchesBlockOf: two addresses share a key exactly when they share
// a block.
func TestBlockKeyMatchesBlockOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	randAddr := func() netip.Addr {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		switch rng.IntN(3) {
		case 0:
			return netip.AddrFrom4([4]byte(b[:4]))
		case 1:
			return netip.AddrFrom16(b).Unmap()
		}
		return netip.AddrFrom16(b)
	}
	for range 100000 {
		a := randAddr()
		// A neighbour: a with one random bit flipped.
		raw := a.As16()
		bit := rng.IntN(a.BitLen())
		if a.Is4() {
			bit += 96
		}
		raw[bit/8] ^= 0x80 >> (bit % 8)
		b := netip.AddrFrom16(raw)
		if a.Is4() {
			b = b.Unmap()
		}
		if same, want := blockKey(a) == blockKey(b), BlockOf(a) == BlockOf(b); same != want {
			t.Fatalf("%v, %v: same key %v, same block %v", a, b, same, want)
		}
		if blockKey(a) == 0 {
			t.Fatalf("blockKey(%v) = 0", a)
		}
	}
	if blockKey(netip.MustParseAddr("0.0.0.1")) == blockKey(netip.MustParseAddr("::1")) {
		t.Error("0.0.0.0/24 and ::/56 share a key")
	}
}

// TestBlockCapMemoryBounded: sending to a new block every microsecond touches a
// million blocks, but the cap's table follows the 10,000 of one interval.
func TestBlockCapMemoryBounded(t *testing.T) {
	const pps = 100 // 10 ms interval: 10,000 blocks at a time
	c := NewBlockCap(pps)
	now, peak, peakSlots := t0, 0, 0
	for i := range 1000000 {
		a := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1})
		if _, ok := c.Allow(a, now); !ok {
			t.Fatalf("block %d refused at its first packet", i)
		}
		peak, peakSlots = max(peak, c.Len()), max(peakSlots, len(c.slots))
		now = now.Add(time.Microsecond)
	}
	if peak > 4*10000 || peakSlots > 8*10000 {
		t.Errorf("the cap held up to %d blocks in %d slots, for 10000 live ones", peak, peakSlots)
	}
	// A quieter phase reuses the expired slots: the table does not grow.
	before := len(c.slots)
	for i := range 100000 {
		now = now.Add(100 * time.Microsecond)
		c.Allow(netip.AddrFrom4([4]byte{175, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if len(c.slots) > before {
		t.Errorf("the table grew from %d to %d slots with fewer blocks live", before, len(c.slots))
	}
}

func TestPacer(t *testing.T) {
	for _, shared := range []bool{false, true} {
		c := &fakeClock{now: t0, tick: time.Microsecond}
		var pace func(netip.Addr)
		if shared {
			s := NewSharedPacer(1000, 10)
			s.p.clock, s.p.limit.clock = c, c
			pace = s.Pace
		} else {
			p := NewPacer(1000, 10)
			p.clock, p.limit.clock = c, c
			pace = p.Pace
		}
		a, b := netip.MustParseAddr("175.45.176.1"), netip.MustParseAddr("175.45.177.1")
		var times []time.Duration
		for _, dst := range []netip.Addr{a, b, a, b, a} {
			pace(dst)
			times = append(times, c.now.Sub(t0))
		}
		// a and b alternate within the global rate (1 ms apart), but each block is
		// held to 100 ms between packets.
		want := []time.Duration{0, ms(1), ms(100), ms(101), ms(200)}
		for i := range want {
			if times[i] < want[i] || times[i] > want[i]+ms(0.5) {
				t.Fatalf("shared %v: packets went at %v, want about %v", shared, times, want)
			}
		}
	}
}

func BenchmarkLimiterWait(b *testing.B) {
	// "overhead": a rate no sender reaches, so Wait never waits: the cost of
	// reading the clock and booking. "1M pps": ns/op is the achieved interval
	// and should be about 1000.
	for _, bc := range []struct {
		name string
		pps  int
	}{{"unlimited", 0}, {"overhead", 1 << 40}, {"1Mpps", 1000000}} {
		b.Run(bc.name, func(b *testing.B) {
			l := NewLimiter(bc.pps)
			b.ReportAllocs()
			for b.Loop() {
				l.Wait(1)
			}
		})
	}
}

func BenchmarkBlockCapAllow(b *testing.B) {
	// Random addresses of a /8 (65536 blocks) at a simulated million packets a
	// second, 10 a second a block.
	rng := rand.New(rand.NewPCG(11, 12))
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{175, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	c := NewBlockCap(10)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Allow(addrs[i&4095], now)
		now = now.Add(time.Microsecond)
	}
}

// gateClock is a clock whose Sleep reports itself on sleeping and returns
// only when the test lets it, then a little past the deadline.
type gateClock struct {
	mu       sync.Mutex
	now      time.Time
	sleeping chan struct{}
	wake     chan struct{}
}

func (c *gateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *gateClock) Sleep(d time.Duration) {
	c.sleeping <- struct{}{}
	<-c.wake
	c.mu.Lock()
	c.now = c.now.Add(d + spinBelow)
	c.mu.Unlock()
}

func TestSharedPacerBlockWaitsAlone(t *testing.T) {
	c := &gateClock{now: t0, sleeping: make(chan struct{}), wake: make(chan struct{})}
	s := NewSharedPacer(0, 10)
	s.p.clock, s.p.limit.clock = c, c
	a, b := netip.MustParseAddr("175.45.176.1"), netip.MustParseAddr("175.45.177.1")
	s.Pace(a)
	// The second packet to a's block waits for its cap...
	aDone := make(chan struct{})
	go func() { s.Pace(a); close(aDone) }()
	<-c.sleeping
	// ...and, while it sleeps, a packet to another block goes at once.
	bDone := make(chan struct{})
	go func() { s.Pace(b); close(bDone) }()
	select {
	case <-bDone:
	case <-aDone:
		t.Fatal("the packet to a's block went before its cap allowed")
	case <-time.After(30 * time.Second):
		t.Fatal("a packet to another block is held up by one waiting for its block's cap")
	}
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("the packet to b's block went at %v, want at once", got.Sub(t0))
	}
	close(c.wake)
	<-aDone
	if got := c.Now().Sub(t0); got < ms(100) {
		t.Fatalf("the second packet to a's block went after %v, want 100 ms or more", got)
	}
}
