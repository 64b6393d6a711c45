package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
)

// Addresses of the deterministic packets in the golden files.
var (
	synSrc4 = netip.MustParseAddr("192.0.2.10")
	synDst4 = netip.MustParseAddr("198.18.1.1")
	synSrc6 = netip.MustParseAddr("2001:db8:a:1::2")
	synDst6 = netip.MustParseAddr("2001:db8:1::7")
)

// checkGoldenHex compares got with the hex dump in testdata/name, or rewrites
// the file with testenv.Update.
func checkGoldenHex(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if testenv.Update() {
		var sb strings.Builder
		for i := 0; i < len(got); i += 16 {
			sb.WriteString(hex.EncodeToString(got[i:min(i+16, len(got))]))
			sb.WriteByte('\n')
		}
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s=1 creates it)", err, testenv.UpdateVar)
	}
	want, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got %x\nwant %x", name, got, want)
	}
}

// verifyTransportChecksum decodes a transport segment with gopacket, over the
// pseudo-header of src and dst, and fails unless its checksum is right.
func verifyTransportChecksum(t *testing.T, seg []byte, src, dst netip.Addr, proto layers.IPProtocol) gopacket.Packet {
	t.Helper()
	var first gopacket.LayerType
	switch proto {
	case layers.IPProtocolTCP:
		first = layers.LayerTypeTCP
	case layers.IPProtocolUDP:
		first = layers.LayerTypeUDP
	case layers.IPProtocolICMPv4:
		first = layers.LayerTypeICMPv4
	case layers.IPProtocolICMPv6:
		first = layers.LayerTypeICMPv6
	}
	pkt := gopacket.NewPacket(seg, first, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("gopacket cannot decode %x: %v", seg, el.Error())
	}
	type verifier interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		VerifyChecksum() (error, gopacket.ChecksumVerificationResult)
	}
	l, ok := pkt.Layer(first).(verifier)
	if !ok {
		if first == layers.LayerTypeICMPv4 {
			if got := ^foldSum(sumWords(0, seg)); got != 0 {
				t.Errorf("ICMP checksum of %x is wrong (residue %#04x)", seg, got)
			}
		}
		return pkt
	}
	if err := l.SetNetworkLayerForChecksum(pseudoHeader(src, dst, proto)); err != nil {
		t.Fatal(err)
	}
	err, res := l.VerifyChecksum()
	if err != nil || !res.Valid {
		t.Errorf("%v checksum of %x: got %#04x, want %#04x (%v)", first, seg, res.Actual, res.Correct, err)
	}
	return pkt
}

// pseudoHeader returns the network layer whose addresses a transport checksum
// covers, for gopacket to compute or verify it.
func pseudoHeader(src, dst netip.Addr, proto layers.IPProtocol) gopacket.NetworkLayer {
	if dst.Is4() {
		return &layers.IPv4{Version: 4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), Protocol: proto}
	}
	return &layers.IPv6{Version: 6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice(), NextHeader: proto}
}

func TestBuildSYNGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		mss      uint16
	}{
		{"tcp_syn_v4.hex", synSrc4, synDst4, synMSS4},
		{"tcp_syn_v6.hex", synSrc6, synDst6, synMSS6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := testKey.Sum32(tc.src, tc.dst, 80, uint64(40000)<<32|1)
			b := buildSYN(tc.src, tc.dst, 40000, 80, seq)
			checkGoldenHex(t, tc.name, b)
			pkt := verifyTransportChecksum(t, b, tc.src, tc.dst, layers.IPProtocolTCP)
			tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !tcp.SYN || tcp.ACK || tcp.RST || tcp.FIN || tcp.SrcPort != 40000 || tcp.DstPort != 80 || tcp.Seq != seq || tcp.Ack != 0 {
				t.Errorf("SYN fields wrong: %+v", tcp)
			}
			if len(tcp.Options) != 1 || tcp.Options[0].OptionType != layers.TCPOptionKindMSS ||
				binary.BigEndian.Uint16(tcp.Options[0].OptionData) != tc.mss {
				t.Errorf("options = %v, want MSS %d", tcp.Options, tc.mss)
			}
			if len(b) != 24 {
				t.Errorf("SYN is %d bytes, want 24", len(b))
			}
		})
	}
}

// tcpReply4 is a TCP segment from target to us with its IPv4 header, as an
// IPv4 raw socket delivers it.
func tcpReply4(t testing.TB, from, to netip.Addr, sport, dport uint16, seq, ack uint32, syn, rst bool) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 61, Protocol: layers.IPProtocolTCP, SrcIP: from.AsSlice(), DstIP: to.AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		SYN: syn, RST: rst, ACK: true, Window: 1024}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tcpReply6 is the same for IPv6: the bare segment.
func tcpReply6(t testing.TB, from, to netip.Addr, sport, dport uint16, seq, ack uint32, syn, rst bool) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		SYN: syn, RST: rst, ACK: true, Window: 1024}
	_ = tcp.SetNetworkLayerForChecksum(pseudoHeader(from, to, layers.IPProtocolTCP))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// icmpError4 is an ICMP error from router quoting packet (an IPv4 packet, cut
// to its header and 8 bytes as RFC 792 routers do), with the outer IPv4 header.
func icmpError4(t testing.TB, router, to netip.Addr, typ, code uint8, packet []byte) []byte {
	t.Helper()
	ihl := int(packet[0]&0x0f) * 4
	quoted := packet[:min(len(packet), ihl+8)]
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 62, Protocol: layers.IPProtocolICMPv4, SrcIP: router.AsSlice(), DstIP: to.AsSlice()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code)}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, icmp, gopacket.Payload(quoted)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// icmpError6 is an ICMPv6 error quoting an IPv6 packet, without the outer
// header (as an IPv6 raw socket delivers it).
func icmpError6(t testing.TB, typ, code uint8, packet []byte) []byte {
	t.Helper()
	b := make([]byte, 8, 8+len(packet))
	b[0], b[1] = typ, code
	return append(b, packet...)
}

// ipv6Packet prepends an IPv6 header to a transport segment.
func ipv6Packet(t testing.TB, src, dst netip.Addr, next uint8, hop uint8, seg []byte) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: hop, NextHeader: layers.IPProtocol(next), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ip, gopacket.Payload(seg)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ipv4Packet prepends an IPv4 header (as the kernel would) to a segment.
func ipv4Packet(t testing.TB, src, dst netip.Addr, proto uint8, ttl uint8, seg []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: layers.IPProtocol(proto), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, gopacket.Payload(seg)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseTCP(t *testing.T) {
	synack4 := tcpReply4(t, synDst4, synSrc4, 80, 40000, 7, 1001, true, false)
	synack6 := tcpReply6(t, synDst6, synSrc6, 80, 40000, 7, 1001, true, false)
	frag := bytes.Clone(synack4)
	frag[7] = 1 // fragment offset 8 bytes
	notTCP := bytes.Clone(synack4)
	notTCP[9] = protoUDP
	badOff4 := bytes.Clone(synack4)
	badOff4[20+12] = 0xf0 // data offset 60 bytes, more than there is
	shortOff6 := bytes.Clone(synack6)
	shortOff6[12] = 0x40 // data offset 16 bytes: less than a header
	for _, tc := range []struct {
		name string
		b    []byte
		v6   bool
		want TCPSegment
		err  error
	}{
		{"v4 syn-ack", synack4, false, TCPSegment{Src: synDst4, Dst: synSrc4, TTL: 61, SrcPort: 80, DstPort: 40000,
			Seq: 7, Ack: 1001, Flags: TCPFlagSYN | TCPFlagACK}, nil},
		{"v6 syn-ack", synack6, true, TCPSegment{SrcPort: 80, DstPort: 40000, Seq: 7, Ack: 1001, Flags: TCPFlagSYN | TCPFlagACK}, nil},
		{"v4 rst", tcpReply4(t, synDst4, synSrc4, 81, 40000, 0, 1001, false, true), false,
			TCPSegment{Src: synDst4, Dst: synSrc4, TTL: 61, SrcPort: 81, DstPort: 40000, Ack: 1001, Flags: TCPFlagRST | TCPFlagACK}, nil},
		{"empty", nil, false, TCPSegment{}, ErrShort},
		{"v4 header only", synack4[:20], false, TCPSegment{}, ErrShort},
		{"v4 truncated tcp", synack4[:30], false, TCPSegment{}, ErrShort},
		{"v6 truncated", synack6[:19], true, TCPSegment{}, ErrShort},
		{"v6 packet on a v4 socket", ipv6Packet(t, synDst6, synSrc6, protoTCP, 64, synack6), false, TCPSegment{}, ErrNotIP},
		{"later fragment", frag, false, TCPSegment{}, ErrUnhandled},
		{"udp", notTCP, false, TCPSegment{}, ErrUnhandled},
		{"v4 data offset past the end", badOff4, false, TCPSegment{}, ErrShort},
		{"v6 data offset below 5", shortOff6, true, TCPSegment{}, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTCP(tc.b, tc.v6)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseTCP(f *testing.F) {
	f.Add(tcpReply4(f, synDst4, synSrc4, 80, 40000, 7, 1001, true, false), false)
	f.Add(tcpReply4(f, synDst4, synSrc4, 81, 40000, 0, 1001, false, true), false)
	f.Add(tcpReply6(f, synDst6, synSrc6, 80, 40000, 7, 1001, true, false), true)
	syn := buildSYN(synSrc4, synDst4, 40000, 80, 1000)
	f.Add(ipv4Packet(f, synSrc4, synDst4, protoTCP, 64, syn), false)
	f.Add(syn, true)
	f.Add(syn[:13], true)
	f.Add(tcpReply4(f, synDst4, synSrc4, 80, 40000, 7, 1001, true, false)[:27], false)
	f.Add([]byte{0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 6}, false)
	f.Add([]byte("garbage that is long enough to be a header, surely"), false)
	f.Add([]byte{}, true)
	for _, c := range loadTraceCaptures(f) {
		if c.onTCP {
			f.Add(c.b, c.v6)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		s, err := ParseTCP(b, v6)
		if err != nil {
			return
		}
		seg := b
		if !v6 {
			seg = b[int(b[0]&0x0f)*4:]
			if s.Src != netip.AddrFrom4([4]byte(b[12:16])) || s.TTL != b[8] {
				t.Fatalf("IPv4 fields of %x parsed as %+v", b, s)
			}
		}
		if s.SrcPort != binary.BigEndian.Uint16(seg) || s.Ack != binary.BigEndian.Uint32(seg[8:]) || s.Flags != seg[13] {
			t.Fatalf("TCP fields of %x parsed as %+v", b, s)
		}
	})
}

// fakeRaw is a rawConn for tests: what is written goes to onWrite, which may
// answer by calling deliver on any fakeRaw.
type fakeRaw struct {
	v6      bool
	in      chan fakePacket
	closed  chan struct{}
	once    sync.Once
	onWrite func(b []byte, dst, src netip.Addr, hopLimit int)
	mu      sync.Mutex
	written [][]byte
}

type fakePacket struct {
	b        []byte
	src      netip.Addr
	hopLimit int
}

func newFakeRaw(v6 bool) *fakeRaw {
	return &fakeRaw{v6: v6, in: make(chan fakePacket, 1024), closed: make(chan struct{})}
}

func (f *fakeRaw) deliver(b []byte, src netip.Addr, hopLimit int) {
	select {
	case f.in <- fakePacket{bytes.Clone(b), src, hopLimit}:
	case <-f.closed:
	}
}

func (f *fakeRaw) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	select {
	case p := <-f.in:
		return copy(b, p.b), p.src, p.hopLimit, nil
	case <-f.closed:
		return 0, netip.Addr{}, 0, net.ErrClosed
	}
}

func (f *fakeRaw) WriteTo(b []byte, dst, src netip.Addr, hopLimit int) error {
	f.mu.Lock()
	f.written = append(f.written, bytes.Clone(b))
	f.mu.Unlock()
	if f.onWrite != nil {
		f.onWrite(bytes.Clone(b), dst, src, hopLimit)
	}
	return nil
}

func (f *fakeRaw) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeRaw) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.written)
}

// fakeTCPNet is a TCP prober over fake sockets and a target that answers
// port 80 with a SYN-ACK, port 81 with a RST, port 82 with an ICMP port
// unreachable from a router, and drops everything else. Every answer is
// delivered twice: once as it is and once with a wrong acknowledgement, as
// another prober's reply would look.
func fakeTCPNet(t *testing.T, cfg Config) (*TCP, [2]*fakeRaw) {
	t.Helper()
	router4 := netip.MustParseAddr("192.0.2.9")
	router6 := netip.MustParseAddr("2001:db8:a:1::1")
	var socks familySockets
	var tcps [2]*fakeRaw
	for i, v6 := range []bool{false, true} {
		tc, ic := newFakeRaw(v6), newFakeRaw(v6)
		tcps[i] = tc
		tc.onWrite = func(b []byte, dst, src netip.Addr, _ int) {
			s, err := ParseTCP(b, true) // the bare segment we sent
			if err != nil || s.Flags != TCPFlagSYN {
				t.Errorf("prober sent %x: %+v, %v", b, s, err)
				return
			}
			answer := func(ack uint32) {
				syn, rst := s.DstPort == 80, s.DstPort == 81
				if ack != s.Seq+1 && (syn || rst) {
					syn, rst = rst, syn // a wrong answer, were it taken
				}
				switch {
				case s.DstPort == 82 && !v6:
					q := ipv4Packet(t, src, dst, protoTCP, 1, b)
					q[16+0]++ // a quote of someone else's packet to another address
					ic.deliver(icmpError4(t, router4, src, 3, 3, q), netip.Addr{}, 0)
					ic.deliver(icmpError4(t, router4, src, 3, 3, ipv4Packet(t, src, dst, protoTCP, 1, b)), netip.Addr{}, 0)
				case s.DstPort == 82:
					q := ipv6Packet(t, src, dst, protoTCP, 1, b)
					ic.deliver(icmpError6(t, 1, 4, q), router6, 63)
				case !syn && !rst:
				case v6:
					tc.deliver(tcpReply6(t, dst, src, s.DstPort, s.SrcPort, 99, ack, syn, rst), dst, 57)
				default:
					tc.deliver(tcpReply4(t, dst, src, s.DstPort, s.SrcPort, 99, ack, syn, rst), netip.Addr{}, 0)
				}
			}
			answer(s.Seq + 2) // not ours
			answer(s.Seq + 1)
		}
		socks[i] = rawSockets{send: tc, tcp: tc, icmp: ic}
	}
	p := newTCP(cfg.WithDefaults(), testKey, 40000, socks)
	t.Cleanup(func() { p.Close() })
	return p, tcps
}

func TestTCPProbeMatching(t *testing.T) {
	cfg := Config{Count: 2, Interval: time.Millisecond, Timeout: 300 * time.Millisecond,
		Source: netip.Addr{}, Vantage: "vp-test", Round: 7}
	for _, tc := range []struct {
		target  string
		port    uint16
		outcome string
		icmp    string
	}{
		{"198.18.1.1", 80, results.OutcomeOpen, ""},
		{"198.18.1.1", 81, results.OutcomeClosed, ""},
		{"198.18.1.1", 82, results.OutcomeUnreachable, "dest-unreachable/port"},
		{"198.18.1.1", 83, results.OutcomeTimeout, ""},
		{"2001:db8:1::7", 80, results.OutcomeOpen, ""},
		{"2001:db8:1::7", 81, results.OutcomeClosed, ""},
		{"2001:db8:1::7", 82, results.OutcomeUnreachable, "dest-unreachable/port"},
		{"2001:db8:1::7", 83, results.OutcomeTimeout, ""},
	} {
		t.Run(fmt.Sprintf("%s:%d", tc.target, tc.port), func(t *testing.T) {
			dst := netip.MustParseAddr(tc.target)
			c := cfg
			// The fake network needs a source the kernel need not know.
			if dst.Is4() {
				c.Source = synSrc4
			} else {
				c.Source = synSrc6
			}
			p, _ := fakeTCPNet(t, c)
			recs := p.Probe(context.Background(), Target{Addr: dst, Port: tc.port})
			if len(recs) != 2 {
				t.Fatalf("got %d records, want 2", len(recs))
			}
			for i, r := range recs {
				if r.Outcome != tc.outcome || r.ICMP != tc.icmp || r.Seq != i+1 || r.Port != int(tc.port) ||
					r.Method != results.MethodTCP || r.Target != tc.target || r.Vantage != "vp-test" || r.Round != 7 {
					t.Errorf("record %d = %+v, want outcome %s icmp %q", i, r, tc.outcome, tc.icmp)
				}
			}
			if tc.outcome != results.OutcomeTimeout && p.foreign.Load() < 2 {
				t.Errorf("%d foreign replies dropped, want at least 2 (the wrong acks)", p.foreign.Load())
			}
			if tc.outcome != results.OutcomeTimeout && p.matched.Load() != 2 {
				t.Errorf("%d replies matched, want 2", p.matched.Load())
			}
		})
	}
}

func TestTCPPermitSendsNothing(t *testing.T) {
	refuse := errors.New("blocklisted: test")
	p, socks := fakeTCPNet(t, Config{Source: synSrc4, Permit: func(netip.Addr) error { return refuse }})
	recs := p.Probe(context.Background(), Target{Addr: synDst4, Port: 80})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "blocklisted") ||
		recs[0].Port != 80 || recs[0].Method != results.MethodTCP {
		t.Errorf("records = %+v, want one error record naming the refusal", recs)
	}
	if n := socks[0].writes() + socks[1].writes(); n != 0 {
		t.Errorf("%d packets sent to a refused target", n)
	}
}

func TestTCPNoPort(t *testing.T) {
	p, socks := fakeTCPNet(t, Config{Source: synSrc4})
	recs := p.Probe(context.Background(), Target{Addr: synDst4})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeError || socks[0].writes() != 0 {
		t.Errorf("records = %+v with %d packets sent, want an error and nothing sent", recs, socks[0].writes())
	}
}

// rawTCPOrSkip returns a real TCP prober, or skips without CAP_NET_RAW.
func rawTCPOrSkip(t *testing.T, cfg Config) *TCP {
	t.Helper()
	p, err := NewTCP(cfg)
	if errors.Is(err, ErrPermission) {
		lab.Missing(t, "no raw sockets (not root, no CAP_NET_RAW): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// loopbackPorts returns an open port (a Go listener) and a closed one on addr.
func loopbackPorts(t *testing.T, network, addr string) (open, closed uint16) {
	t.Helper()
	ln, err := net.Listen(network, net.JoinHostPort(addr, "0"))
	if err != nil {
		lab.Missing(t, "cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ln2, err := net.Listen(network, net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	closed = uint16(ln2.Addr().(*net.TCPAddr).Port)
	ln2.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port), closed
}

func TestTCPLoopback(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		t.Run(tc.addr, func(t *testing.T) {
			open, closed := loopbackPorts(t, tc.network, tc.addr)
			p := rawTCPOrSkip(t, Config{Timeout: 2 * time.Second, Count: 2, Interval: 10 * time.Millisecond})
			dst := netip.MustParseAddr(tc.addr)
			for _, c := range []struct {
				port uint16
				want string
			}{{open, results.OutcomeOpen}, {closed, results.OutcomeClosed}} {
				recs := p.Probe(context.Background(), Target{Addr: dst, Port: c.port})
				for _, r := range recs {
					t.Logf("%s:%d seq %d: %s rtt %.3f ms ttl %d %s", tc.addr, c.port, r.Seq, r.Outcome, r.RTTms, r.ReplyTTL, r.Error)
					if r.Outcome != c.want || r.Port != int(c.port) || r.ReplyTTL == 0 {
						t.Errorf("port %d: %+v, want %s with a reply TTL", c.port, r, c.want)
					}
				}
			}
		})
	}
}

// TestTCPTwoProbersLoopback runs two probers at once with the same source
// port against ports of their own: each sees the other's replies on its raw
// socket and must take only its own.
func TestTCPTwoProbersLoopback(t *testing.T) {
	openA, closedA := loopbackPorts(t, "tcp4", "127.0.0.1")
	openB, closedB := loopbackPorts(t, "tcp4", "127.0.0.1")
	cfg := Config{Timeout: 2 * time.Second, Count: 3, Interval: 5 * time.Millisecond}
	rawTCPOrSkip(t, cfg) // skips without raw sockets
	var probers [2]*TCP
	for i := range probers {
		var socks familySockets
		s, err := openTCPSockets(false, netip.Addr{}, 0, 40123)
		if err != nil {
			t.Fatal(err)
		}
		socks[0], socks[1].err = s, errors.New("no ipv6 in this test")
		// The same source port for both: only the keyed acknowledgement
		// tells their replies apart.
		probers[i] = newTCP(cfg.WithDefaults(), NewKey(), 40123, socks)
		t.Cleanup(func() { probers[i].Close() })
	}
	a, b2 := probers[0], probers[1]
	dst := netip.MustParseAddr("127.0.0.1")
	type job struct {
		p    *TCP
		port uint16
		want string
	}
	jobs := []job{{a, openA, results.OutcomeOpen}, {a, closedA, results.OutcomeClosed},
		{b2, openB, results.OutcomeOpen}, {b2, closedB, results.OutcomeClosed}}
	out := make([][]results.Record, len(jobs))
	var wg sync.WaitGroup
	for round := range 5 {
		for i, j := range jobs {
			wg.Go(func() { out[i] = j.p.Probe(context.Background(), Target{Addr: dst, Port: j.port}) })
		}
		wg.Wait()
		for i, j := range jobs {
			for _, r := range out[i] {
				if r.Outcome != j.want {
					t.Errorf("round %d port %d: %+v, want %s", round, j.port, r, j.want)
				}
			}
		}
	}
	for name, p := range map[string]*TCP{"a": a, "b": b2} {
		if m := p.matched.Load(); m != 5*2*3 {
			t.Errorf("prober %s matched %d replies, want %d: it took replies that were not its own", name, m, 5*2*3)
		}
		if p.foreign.Load() == 0 {
			t.Errorf("prober %s saw none of the other's replies: the test proves nothing", name)
		}
		t.Logf("prober %s: %d matched, %d foreign dropped", name, p.matched.Load(), p.foreign.Load())
	}
}

// TestTCPTTLLoopback checks that cfg.TTL is the TTL (hop limit) of the SYNs,
// as a second raw socket sees them arrive on the loopback interface.
func TestTCPTTLLoopback(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		t.Run(tc.addr, func(t *testing.T) {
			_, closed := loopbackPorts(t, tc.network, tc.addr)
			p := rawTCPOrSkip(t, Config{TTL: 7, Timeout: time.Second})
			dst := netip.MustParseAddr(tc.addr)
			spy, err := openRaw(dst.Is6(), protoTCP, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			defer spy.Close()
			got := make(chan int, 1)
			go func() {
				buf := make([]byte, 2048)
				for {
					n, _, hop, err := spy.ReadFrom(buf)
					if err != nil {
						return
					}
					s, err := ParseTCP(buf[:n], dst.Is6())
					if err == nil && s.SrcPort == p.sport && s.DstPort == closed && s.Flags == TCPFlagSYN {
						if !dst.Is6() {
							hop = int(s.TTL)
						}
						got <- hop
						return
					}
				}
			}()
			recs := p.Probe(context.Background(), Target{Addr: dst, Port: closed})
			if recs[0].Outcome != results.OutcomeClosed {
				t.Errorf("%+v, want closed", recs[0])
			}
			select {
			case ttl := <-got:
				if ttl != 7 {
					t.Errorf("the SYN arrived with TTL %d, want 7", ttl)
				}
			case <-time.After(time.Second):
				t.Error("the spy socket never saw the SYN")
			}
		})
	}
}

func TestTCPPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		runUnprivileged(t, "TestTCPPermission")
		return
	}
	_, err := NewTCP(Config{})
	if !errors.Is(err, ErrPermission) {
		t.Errorf("NewTCP without CAP_NET_RAW: %v, want ErrPermission", err)
	}
}
