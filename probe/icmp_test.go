package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
)

// compareGolden compares got with testdata/name (testenv.Golden).
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got)
}

var testToken = [echoTokenLen]byte{'d', 'w', 'T', 'O', 'K', 'E', 'N', '!'}

func TestEchoRequestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		v6   bool
		typ  icmp.Type
	}{
		{"icmp_echo4.golden", false, ipv4.ICMPTypeEcho},
		{"icmp_echo6.golden", true, ipv6.ICMPTypeEchoRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := echoRequest(tc.v6, 0x1234, 0x0001, testToken, DefaultContact)
			compareGolden(t, tc.name, b)

			// x/net/icmp marshals the same message the same way (for ICMPv6
			// with a zero checksum, as the kernel fills it in).
			data := append(testToken[:], DefaultContact...)
			want, err := (&icmp.Message{Type: tc.typ, Body: &icmp.Echo{ID: 0x1234, Seq: 1, Data: data}}).Marshal(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("echoRequest\n%x\nx/net/icmp\n%x", b, want)
			}
			if !tc.v6 && checksum(0, b) != 0 {
				t.Errorf("ICMPv4 checksum does not verify: %#04x", checksum(0, b))
			}
			m, err := ParseICMP(b, tc.v6)
			if err != nil || m.ID != 0x1234 || m.Seq != 1 || !bytes.HasPrefix(m.Data, testToken[:]) {
				t.Errorf("ParseICMP = %+v, %v", m, err)
			}
		})
	}
}

func TestEchoChecksum(t *testing.T) {
	// RFC 1071 section 3 example: 0001 f203 f4f5 f6f7 sums to ddf2.
	if got := checksum(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Errorf("checksum = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
	if got := checksum(0, []byte{0xff}); got != ^uint16(0xff00) {
		t.Errorf("odd length: checksum = %#04x", got)
	}
}

// echoPacket is one message a fake socket delivers.
type echoPacket struct {
	b   []byte
	src netip.Addr
	ttl int
}

// fakeEcho is an echoConn that records what is sent and answers with packets
// from a script, so the matching logic runs without a network.
type fakeEcho struct {
	in      chan echoPacket
	closed  chan struct{}
	once    sync.Once
	respond func(b []byte, dst netip.Addr) []echoPacket

	mu   sync.Mutex
	sent [][]byte
	dsts []netip.Addr
}

func newFakeEcho(respond func([]byte, netip.Addr) []echoPacket) *fakeEcho {
	return &fakeEcho{in: make(chan echoPacket, 256), closed: make(chan struct{}), respond: respond}
}

func (f *fakeEcho) ReadFrom(b []byte) (int, int, netip.Addr, error) {
	select {
	case p := <-f.in:
		return copy(b, p.b), p.ttl, p.src, nil
	case <-f.closed:
		return 0, 0, netip.Addr{}, net.ErrClosed
	}
}

func (f *fakeEcho) WriteTo(b []byte, dst netip.Addr) error {
	f.mu.Lock()
	f.sent = append(f.sent, append([]byte(nil), b...))
	f.dsts = append(f.dsts, dst)
	f.mu.Unlock()
	if f.respond != nil {
		for _, p := range f.respond(b, dst) {
			f.in <- p
		}
	}
	return nil
}

func (f *fakeEcho) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeEcho) packets() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.sent...)
}

// fakeICMP returns a prober over fake sockets (one per family) with the test
// identifier 0x1234, token testToken and first sequence number 1.
func fakeICMP(t *testing.T, cfg Config, f4, f6 *fakeEcho) *ICMP {
	t.Helper()
	p := newICMP(cfg.WithDefaults())
	p.id, p.token, p.seq = 0x1234, testToken, 0
	p.open = func(v6, raw bool) (echoConn, error) {
		if v6 {
			if f6 == nil {
				return nil, syscall.EAFNOSUPPORT
			}
			return f6, nil
		}
		return f4, nil
	}
	if err := p.start(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// echoReplyTo turns a sent echo request into its echo reply.
func echoReplyTo(req []byte, v6 bool) []byte {
	b := append([]byte(nil), req...)
	b[0] = icmp4EchoReply
	if v6 {
		b[0] = icmp6EchoReply
	}
	b[2], b[3] = 0, 0
	if !v6 {
		binary.BigEndian.PutUint16(b[2:4], checksum(0, b))
	}
	return b
}

// quoting returns an ICMPv4 error of type typ/code quoting req as sent from src
// to dst; quoted is how many bytes of req to quote.
func quotingEcho(t *testing.T, typ, code uint8, src, dst netip.Addr, req []byte, quoted int) []byte {
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 1, protoICMP
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(req)))
	copy(ip[12:16], src.AsSlice())
	copy(ip[16:20], dst.AsSlice())
	q := append(ip, req[:min(quoted, len(req))]...)
	return icmp4Message(t, typ, code, 0, 0, q)
}

func TestICMPMatching(t *testing.T) {
	me, target, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.18.3.4"), netip.MustParseAddr("198.18.3.5")
	router := netip.MustParseAddr("203.0.113.13")
	with := func(b []byte, f func([]byte)) []byte { b = append([]byte(nil), b...); f(b); return b }
	tests := []struct {
		name    string
		ping    bool // ping socket: the kernel owns the identifier
		respond func(req []byte, dst netip.Addr) []echoPacket
		outcome string
		icmp    string
		ttl     int
	}{
		{"own reply", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{echoReplyTo(req, false), dst, 61}}
		}, results.OutcomeReply, "", 61},
		{"foreign replies first, then ours", false, func(req []byte, dst netip.Addr) []echoPacket {
			r := echoReplyTo(req, false)
			return []echoPacket{
				{with(r, func(b []byte) { b[4] ^= 0xff }), dst, 1}, // another identifier
				{with(r, func(b []byte) { b[8] ^= 0xff }), dst, 2}, // another token
				{with(r, func(b []byte) { b[7]++ }), dst, 3},       // a sequence number not pending
				{r, other, 4},               // from another address
				{r[:12], dst, 5},            // token cut short
				{req, dst, 6},               // our own request, looped back
				{[]byte("garbage"), dst, 7}, // not ICMP at all
				{quotingEcho(t, 3, 1, me, other, req, 28), router, 8},                                   // quotes a request to another address
				{quotingEcho(t, 3, 1, me, dst, with(req, func(b []byte) { b[9] ^= 1 }), 64), router, 9}, // quotes another token
				{r, dst, 64},
			}
		}, results.OutcomeReply, "", 64},
		{"reply from another address only", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{echoReplyTo(req, false), other, 64}}
		}, results.OutcomeTimeout, "", 0},
		{"reply with another identifier only", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{with(echoReplyTo(req, false), func(b []byte) { b[5]++ }), dst, 64}}
		}, results.OutcomeTimeout, "", 0},
		{"ping socket: the kernel's identifier", true, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{with(echoReplyTo(req, false), func(b []byte) { b[4], b[5] = 0x99, 0x99 }), dst, 64}}
		}, results.OutcomeReply, "", 64},
		{"ping socket: another token", true, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{with(echoReplyTo(req, false), func(b []byte) { b[15]++ }), dst, 64}}
		}, results.OutcomeTimeout, "", 0},
		{"host unreachable quoting the whole request", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{quotingEcho(t, 3, 1, me, dst, req, len(req)), router, 250}}
		}, results.OutcomeUnreachable, "dest-unreachable/host", 250},
		{"admin prohibited quoting 8 bytes", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{quotingEcho(t, 3, 13, me, dst, req, 8), router, 250}}
		}, results.OutcomeUnreachable, "dest-unreachable/admin", 250},
		{"time exceeded", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{quotingEcho(t, 11, 0, me, dst, req, 28), router, 254}}
		}, results.OutcomeUnreachable, "time-exceeded", 254},
		{"unreachable quoting another identifier", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{quotingEcho(t, 3, 1, me, dst, with(req, func(b []byte) { b[4]++ }), 8), router, 250}}
		}, results.OutcomeTimeout, "", 0},
		{"unreachable quoting a UDP packet", false, func(req []byte, dst netip.Addr) []echoPacket {
			return []echoPacket{{icmp4Message(t, 3, 3, 0, 0, quotedUDP4(t)), router, 250}}
		}, results.OutcomeTimeout, "", 0},
		{"silence", false, nil, results.OutcomeTimeout, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEcho(tc.respond)
			p := fakeICMP(t, Config{Timeout: 150 * time.Millisecond, ICMP: ICMPOptions{Unprivileged: tc.ping}, Vantage: "vp1", Round: 7}, f, nil)
			if p.raw == tc.ping {
				t.Fatalf("raw = %v with Unprivileged %v", p.raw, tc.ping)
			}
			recs := p.Probe(context.Background(), Target{Addr: target})
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.Outcome != tc.outcome || r.ICMP != tc.icmp || r.ReplyTTL != tc.ttl {
				t.Errorf("outcome %q icmp %q ttl %d, want %q %q %d (%+v)", r.Outcome, r.ICMP, r.ReplyTTL, tc.outcome, tc.icmp, tc.ttl, r)
			}
			if r.Method != "icmp" || r.Target != "198.18.3.4" || r.Seq != 1 || r.Vantage != "vp1" || r.Round != 7 ||
				r.Time.Location() != time.UTC || r.Time.IsZero() {
				t.Errorf("record fields: %+v", r)
			}
			if (r.Outcome == results.OutcomeTimeout) != (r.RTTms == 0) {
				t.Errorf("rtt %v with outcome %s", r.RTTms, r.Outcome)
			}
			if n := p.pending.len(); n != 0 {
				t.Errorf("%d waits left pending", n)
			}
		})
	}
}

func TestICMPGoldenThroughProber(t *testing.T) {
	f4, f6 := newFakeEcho(nil), newFakeEcho(nil)
	p := fakeICMP(t, Config{Timeout: time.Millisecond}, f4, f6)
	p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("192.0.2.1")})
	p.seq = 0
	p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("2001:db8::1")})
	if s := f4.packets(); len(s) != 1 {
		t.Fatalf("%d IPv4 packets sent", len(s))
	} else {
		compareGolden(t, "icmp_echo4.golden", s[0])
	}
	if s := f6.packets(); len(s) != 1 {
		t.Fatalf("%d IPv6 packets sent", len(s))
	} else {
		compareGolden(t, "icmp_echo6.golden", s[0])
	}
}

func TestICMPCountSeqAndBlocked(t *testing.T) {
	f := newFakeEcho(func(req []byte, dst netip.Addr) []echoPacket {
		return []echoPacket{{echoReplyTo(req, false), dst, 64}}
	})
	blocked := netip.MustParseAddr("198.51.100.7")
	cfg := Config{Count: 4, Interval: 20 * time.Millisecond, Timeout: time.Second,
		Permit: func(a netip.Addr) error {
			if a == blocked {
				return ErrBlocked
			}
			return nil
		}}
	p := fakeICMP(t, cfg, f, nil)
	start := time.Now()
	recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("198.18.0.1")})
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("4 echoes 20ms apart took %v", el)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	seen := map[uint16]bool{}
	for i, r := range recs {
		if r.Seq != i+1 || r.Outcome != results.OutcomeReply {
			t.Errorf("record %d: seq %d outcome %s", i, r.Seq, r.Outcome)
		}
		if i > 0 && !r.Time.After(recs[i-1].Time) {
			t.Errorf("record %d sent at %v, not after %v", i, r.Time, recs[i-1].Time)
		}
	}
	for _, b := range f.packets() {
		seen[binary.BigEndian.Uint16(b[6:8])] = true
	}
	if len(seen) != 4 {
		t.Errorf("wire sequence numbers %v, want 4 distinct", seen)
	}

	recs = p.Probe(context.Background(), Target{Addr: blocked})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "not sent") {
		t.Errorf("blocked target: %+v", recs)
	}
	if n := len(f.packets()); n != 4 {
		t.Errorf("%d packets sent, want 4 (none to the blocked target)", n)
	}
}

func TestICMPSequenceNumbersUnique(t *testing.T) {
	// Many concurrent probes of many targets: every request gets its own
	// sequence number and every probe its own reply.
	f := newFakeEcho(func(req []byte, dst netip.Addr) []echoPacket {
		return []echoPacket{{echoReplyTo(req, false), dst, 64}}
	})
	p := fakeICMP(t, Config{Count: 3, Interval: time.Millisecond, Timeout: 2 * time.Second}, f, nil)
	p.seq = 0xfff0 // wrap around during the test
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for i := range 50 {
		wg.Go(func() {
			a := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
			for _, r := range p.Probe(context.Background(), Target{Addr: a}) {
				if r.Outcome != results.OutcomeReply {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if bad != 0 {
		t.Errorf("%d of 150 echoes without reply", bad)
	}
	if got := p.ignored.Load(); got != 0 {
		t.Errorf("%d own replies dropped", got)
	}
}

func TestICMPCloseAndContext(t *testing.T) {
	f := newFakeEcho(nil)
	p := fakeICMP(t, Config{Timeout: 10 * time.Second}, f, nil)
	done := make(chan []results.Record)
	go func() { done <- p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("198.18.0.1")}) }()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-done:
		if recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "closed") {
			t.Errorf("probe cut short by Close: %+v", recs[0])
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not end a waiting probe")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("198.18.0.1")})
	if recs[0].Outcome != results.OutcomeError || len(f.packets()) != 1 {
		t.Errorf("probe after Close: %+v, %d packets", recs[0], len(f.packets()))
	}

	p = fakeICMP(t, Config{Count: 3, Interval: time.Hour, Timeout: 10 * time.Second}, newFakeEcho(nil), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	recs = p.Probe(ctx, Target{Addr: netip.MustParseAddr("198.18.0.1")})
	if time.Since(start) > 2*time.Second || len(recs) != 3 {
		t.Fatalf("cancelled probe took %v and gave %d records", time.Since(start), len(recs))
	}
	for i, r := range recs {
		want := "not sent"
		if i == 0 {
			want = "deadline"
		}
		if r.Outcome != results.OutcomeError || !strings.Contains(r.Error, want) || r.Seq != i+1 {
			t.Errorf("record %d: %+v, want error containing %q", i, r, want)
		}
	}
}

func TestICMPFamilyWithoutSocket(t *testing.T) {
	// A host without IPv6 still probes IPv4; IPv6 targets get an error record.
	f := newFakeEcho(func(req []byte, dst netip.Addr) []echoPacket {
		return []echoPacket{{echoReplyTo(req, false), dst, 64}}
	})
	p := fakeICMP(t, Config{Timeout: time.Second}, f, nil)
	r6 := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("2001:db8::1")})
	if r6[0].Outcome != results.OutcomeError || !strings.Contains(r6[0].Error, "ipv6") {
		t.Errorf("IPv6 without socket: %+v", r6[0])
	}
	r4 := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("198.18.0.1")})
	if r4[0].Outcome != results.OutcomeReply {
		t.Errorf("IPv4: %+v", r4[0])
	}
}

func TestICMPStart(t *testing.T) {
	eperm := &net.OpError{Op: "listen", Net: "ip4:icmp", Err: os.NewSyscallError("socket", syscall.EPERM)}
	eacces := os.NewSyscallError("socket", syscall.EACCES)
	tests := []struct {
		name         string
		unprivileged bool
		raw, ping    error
		wantRaw      bool
		wantErr      error // errors.Is
		wantText     []string
		tried        string
	}{
		{"raw allowed", false, nil, nil, true, nil, nil, "raw"},
		{"raw refused, ping allowed", false, eperm, nil, false, nil, nil, "raw,ping"},
		{"both refused", false, eperm, eacces, false, ErrPermission, []string{"setcap", "ping_group_range", "CAP_NET_RAW"}, "raw,ping"},
		{"raw broken otherwise", false, syscall.EMFILE, nil, false, syscall.EMFILE, []string{"raw socket"}, "raw"},
		{"unprivileged forced", true, nil, nil, false, nil, nil, "ping"},
		{"unprivileged forced, refused", true, nil, eacces, false, ErrPermission, []string{"ping_group_range", "unprivileged"}, "ping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newICMP(Config{ICMP: ICMPOptions{Unprivileged: tc.unprivileged}}.WithDefaults())
			var tried []string
			p.open = func(v6, raw bool) (echoConn, error) {
				if raw {
					tried = append(tried, "raw")
					if tc.raw != nil {
						return nil, tc.raw
					}
				} else {
					tried = append(tried, "ping")
					if tc.ping != nil {
						return nil, tc.ping
					}
				}
				return newFakeEcho(nil), nil
			}
			err := p.start(false)
			defer p.Close()
			if strings.Join(tried, ",") != tc.tried {
				t.Errorf("tried %v, want %s", tried, tc.tried)
			}
			if tc.wantErr == nil {
				if err != nil || p.raw != tc.wantRaw {
					t.Errorf("err %v raw %v, want nil and %v", err, p.raw, tc.wantRaw)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := NewICMP(Config{TTL: 256}); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("TTL 256: %v", err)
	}
}

// needRoot skips a test that needs CAP_NET_RAW (raw sockets) when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		lab.Missing(t, "needs root for raw ICMP sockets (CAP_NET_RAW); not root")
	}
}

// loopbackHas reports whether a works as a local address.
func loopbackHas(a string) bool {
	c, err := net.ListenPacket("udp", net.JoinHostPort(a, "0"))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestICMPLoopback(t *testing.T) {
	needRoot(t)
	for _, target := range []string{"127.0.0.1", "::1"} {
		t.Run(target, func(t *testing.T) {
			if !loopbackHas(target) {
				lab.Missing(t, "no %s on this host", target)
			}
			p, err := NewICMP(Config{Count: 3, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second, Vantage: "lo"})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if !p.raw {
				t.Fatal("root did not get a raw socket")
			}
			recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr(target)})
			if len(recs) != 3 {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range recs {
				t.Logf("%+v", r)
				if r.Outcome != results.OutcomeReply || r.RTTms <= 0 || r.ReplyTTL != 64 || r.Seq != i+1 ||
					r.Target != target || r.Method != "icmp" || r.Vantage != "lo" {
					t.Errorf("record %d: %+v, want reply with rtt > 0 and reply_ttl 64", i, r)
				}
			}
		})
	}
}

// TestICMPTTL checks that Config.TTL sets the TTL / hop limit of the echo
// requests, as another raw socket sees them arrive on loopback.
func TestICMPTTL(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		target, network string
	}{{"127.0.0.1", "ip4:icmp"}, {"::1", "ip6:ipv6-icmp"}} {
		t.Run(tc.target, func(t *testing.T) {
			if !loopbackHas(tc.target) {
				lab.Missing(t, "no %s on this host", tc.target)
			}
			v6 := strings.Contains(tc.target, ":")
			spy, err := icmp.ListenPacket(tc.network, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			defer spy.Close()
			if v6 {
				err = spy.IPv6PacketConn().SetControlMessage(ipv6.FlagHopLimit, true)
			} else {
				err = spy.IPv4PacketConn().SetControlMessage(ipv4.FlagTTL, true)
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewICMP(Config{TTL: 7, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr(tc.target)})
			if recs[0].Outcome != results.OutcomeReply {
				t.Fatalf("%+v", recs[0])
			}
			spy.SetReadDeadline(time.Now().Add(2 * time.Second))
			b := make([]byte, 1500)
			for {
				var n, ttl int
				if v6 {
					var cm *ipv6.ControlMessage
					n, cm, _, err = spy.IPv6PacketConn().ReadFrom(b)
					if cm != nil {
						ttl = cm.HopLimit
					}
				} else {
					var cm *ipv4.ControlMessage
					n, cm, _, err = spy.IPv4PacketConn().ReadFrom(b)
					if cm != nil {
						ttl = cm.TTL
					}
				}
				if err != nil {
					t.Fatalf("our echo request never seen: %v", err)
				}
				m, err := ParseICMP(b[:n], v6)
				if err != nil || m.IsEchoReply() || !bytes.HasPrefix(m.Data, p.token[:]) {
					continue
				}
				if ttl != 7 {
					t.Errorf("echo request left with TTL %d, want 7", ttl)
				}
				return
			}
		})
	}
}

// TestICMPTwoProbers runs two probers against 127.0.0.1 at once. Each raw socket
// sees both probers' replies; each prober must take exactly its own.
func TestICMPTwoProbers(t *testing.T) {
	needRoot(t)
	target := netip.MustParseAddr("127.0.0.1")
	cfg := Config{Count: 5, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second}

	t.Run("random identifiers", func(t *testing.T) {
		a, err := NewICMP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := NewICMP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var ra, rb []results.Record
		var wg sync.WaitGroup
		wg.Go(func() { ra = a.Probe(context.Background(), Target{Addr: target}) })
		wg.Go(func() { rb = b.Probe(context.Background(), Target{Addr: target}) })
		wg.Wait()
		for name, recs := range map[string][]results.Record{"a": ra, "b": rb} {
			if n := countOutcome(recs, results.OutcomeReply); n != 5 || len(recs) != 5 {
				t.Errorf("prober %s: %d replies in %d records, want 5 in 5", name, n, len(recs))
			}
		}
		// Each saw the other's 5 replies on its raw socket and dropped them.
		// Both sockets were open (NewICMP opens them) before either prober
		// sent, so every foreign reply is queued on both; but the last of
		// them may still wait in a socket's queue, unread, when the other's
		// Probe returns. Wait for the reader, not for a scheduling order.
		deadline := time.Now().Add(10 * time.Second)
		for (a.ignored.Load() < 5 || b.ignored.Load() < 5) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if a.ignored.Load() < 5 || b.ignored.Load() < 5 {
			t.Errorf("dropped %d and %d foreign packets, want >= 5 each", a.ignored.Load(), b.ignored.Load())
		}
	})

	t.Run("same identifier and sequence numbers, only the token differs", func(t *testing.T) {
		// b shares a's identifier and sequence numbers, and its socket only
		// pretends to send: the replies to a's requests are the only replies
		// on the wire that carry b's identifier and pending sequence numbers.
		// b must take none of them.
		a, err := NewICMP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b := newICMP(cfg.WithDefaults())
		b.open = func(v6, raw bool) (echoConn, error) {
			c, err := openEcho(v6, raw, netip.Addr{}, 0)
			return muteEcho{c}, err
		}
		if err := b.start(false); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.id, b.seq = a.id, a.seq
		if b.token == a.token {
			t.Fatal("two probers drew the same token")
		}
		var ra, rb []results.Record
		var wg sync.WaitGroup
		wg.Go(func() { ra = a.Probe(context.Background(), Target{Addr: target}) })
		wg.Go(func() { rb = b.Probe(context.Background(), Target{Addr: target}) })
		wg.Wait()
		if n := countOutcome(ra, results.OutcomeReply); n != 5 {
			t.Errorf("prober a: %d replies, want 5: %+v", n, ra)
		}
		if n := countOutcome(rb, results.OutcomeTimeout); n != 5 {
			t.Errorf("prober b took a's replies: %d timeouts of 5: %+v", n, rb)
		}
		deadline := time.Now().Add(10 * time.Second)
		for b.ignored.Load() < 5 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if b.ignored.Load() < 5 {
			t.Errorf("b dropped %d packets, want >= 5 (a's replies)", b.ignored.Load())
		}
	})
}

// muteEcho is a real socket that does not send.
type muteEcho struct{ echoConn }

func (muteEcho) WriteTo([]byte, netip.Addr) error { return nil }

func countOutcome(recs []results.Record, outcome string) int {
	n := 0
	for _, r := range recs {
		if r.Outcome == outcome {
			n++
		}
	}
	return n
}

// The unprivileged path is tested for real: the test binary runs itself as user
// nobody, without capabilities, in a fresh network namespace whose
// net.ipv4.ping_group_range (a per-namespace setting) the parent sets first, so
// the host's setting is never touched.

const unprivEnv = "DARKWATCH_ICMP_UNPRIV_CHILD"

func TestICMPUnprivileged(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"unshare", "setpriv", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			lab.Missing(t, "needs %s (util-linux, iproute2): %v", tool, err)
		}
	}
	exe := copyTestBinary(t)
	for _, tc := range []struct {
		name, mode, groups string
		asNobody           bool
	}{
		{"nobody, ping sockets allowed", "reply", "0 2147483647", true},
		{"nobody, ping sockets refused", "refused", "1 0", true},
		{"root, Unprivileged forces the ping socket", "forced", "0 2147483647", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drop := ""
			if tc.asNobody {
				drop = "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all"
			}
			script := `set -e
ip link set lo up
echo "$1" > /proc/sys/net/ipv4/ping_group_range
shift
exec ` + drop + ` "$@"`
			cmd := exec.Command("unshare", "--net", "sh", "-c", script, "sh", tc.groups,
				exe, "-test.run=^TestICMPUnprivilegedChild$", "-test.v", "-test.count=1")
			cmd.Dir = filepath.Dir(exe)
			cmd.Env = append(os.Environ(), unprivEnv+"="+tc.mode)
			out, err := cmd.CombinedOutput()
			t.Logf("child output:\n%s", out)
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
			if !bytes.Contains(out, []byte("--- PASS: TestICMPUnprivilegedChild")) {
				t.Fatal("child did not run and pass its test")
			}
		})
	}
}

// runUnprivileged runs the test named test again, in a child process of
// the test binary as user nobody with no capabilities at all: a test of what
// happens without CAP_NET_RAW then runs when the suite runs as root too.
func runUnprivileged(t *testing.T, test string) {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		lab.Missing(t, "needs setpriv (util-linux) to drop privileges: %v", err)
	}
	exe := copyTestBinary(t)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		exe, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = filepath.Dir(exe)
	out, err := cmd.CombinedOutput()
	t.Logf("child, as nobody without capabilities:\n%s", out)
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+test)) || bytes.Contains(out, []byte("--- SKIP: "+test)) {
		t.Fatalf("child did not run and pass %s", test)
	}
}

// copyTestBinary copies the running test binary where user nobody can run it.
func copyTestBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "darkwatch-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	exe := filepath.Join(dir, "probe.test")
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestICMPUnprivilegedChild is the child process of TestICMPUnprivileged.
func TestICMPUnprivilegedChild(t *testing.T) {
	mode := os.Getenv(unprivEnv)
	if mode == "" {
		t.Skip("helper: runs only as the child process of TestICMPUnprivileged")
	}
	status, _ := os.ReadFile("/proc/self/status")
	t.Logf("uid %d gid %d groups range %s, %s", os.Getuid(), os.Getgid(), pingGroupRange(),
		strings.TrimSpace(grepLine(string(status), "CapEff")))
	if mode != "forced" && (os.Getuid() == 0 || !strings.Contains(grepLine(string(status), "CapEff"), "0000000000000000")) {
		t.Fatal("child still has privileges: the test would prove nothing")
	}
	cfg := Config{Count: 2, Interval: 20 * time.Millisecond, Timeout: 2 * time.Second, ICMP: ICMPOptions{Unprivileged: mode == "forced"}}
	p, err := NewICMP(cfg)
	if mode == "refused" {
		if err == nil {
			p.Close()
			t.Fatal("NewICMP succeeded without CAP_NET_RAW and outside ping_group_range")
		}
		t.Logf("error: %v", err)
		if !errors.Is(err, ErrPermission) {
			t.Errorf("error does not wrap ErrPermission: %v", err)
		}
		for _, s := range []string{"setcap", "ping_group_range", "65534"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error does not mention %q", s)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.raw {
		t.Fatal("got a raw socket; want the ping socket")
	}
	for _, target := range []string{"127.0.0.1", "::1"} {
		if !loopbackHas(target) {
			t.Errorf("no %s in the child's namespace", target)
			continue
		}
		for _, r := range p.Probe(context.Background(), Target{Addr: netip.MustParseAddr(target)}) {
			t.Logf("%+v", r)
			if r.Outcome != results.OutcomeReply || r.RTTms <= 0 || r.ReplyTTL != 64 {
				t.Errorf("%s: %+v, want reply with rtt > 0 and reply_ttl 64", target, r)
			}
		}
	}
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func BenchmarkICMPDispatch(b *testing.B) {
	p := newICMP(Config{}.WithDefaults())
	p.raw = true
	target := netip.MustParseAddr("198.18.0.1")
	foreign := echoReplyTo(echoRequest(false, p.id+1, 1, p.token, DefaultContact), false)
	b.ReportAllocs()
	for b.Loop() {
		p.dispatch(foreign, false, target, 64, time.Time{})
	}
}
