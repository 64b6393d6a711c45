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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

const traceTestContact = "darkwatch test"

var traceProtos = []struct {
	name  string
	proto uint8
	ip    layers.IPProtocol // of the probe
}{
	{"icmp", protoICMP, layers.IPProtocolICMPv4},
	{"udp", protoUDP, layers.IPProtocolUDP},
	{"tcp", protoTCP, layers.IPProtocolTCP},
}

// testFlow is the deterministic flow of the golden files.
func testFlow(proto uint8, v6 bool) traceFlow {
	src, dst := synSrc4, netip.MustParseAddr("198.18.7.7")
	if v6 {
		src, dst = synSrc6, synDst6
	}
	dport := uint16(0)
	switch proto {
	case protoUDP:
		dport = DefaultTraceUDPPort
	case protoTCP:
		dport = DefaultTraceTCPPort
	}
	return newTraceFlow(testKey, proto, src, dst, dport, 0, traceTestContact)
}

// transportProto is the IP protocol of a flow's probes on the wire.
func transportProto(proto uint8, v6 bool) layers.IPProtocol {
	if proto == protoICMP && v6 {
		return layers.IPProtocolICMPv6
	}
	return layers.IPProtocol(proto)
}

// splitProbe returns the transport part of a probe, checking the IPv4 header
// (version, TTL, protocol, addresses, header checksum) when there is one.
func splitProbe(t *testing.T, f traceFlow, b []byte, ttl int) []byte {
	t.Helper()
	if f.dst.Is6() {
		return b
	}
	pkt := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		t.Fatalf("gopacket finds no IPv4 header in %x", b)
	}
	if ip.TTL != uint8(ttl) || ip.Protocol != layers.IPProtocol(f.proto) || !ip.SrcIP.Equal(f.src.AsSlice()) ||
		!ip.DstIP.Equal(f.dst.AsSlice()) || int(ip.Length) != len(b) || ip.IHL != 5 {
		t.Errorf("IPv4 header wrong: %+v", ip)
	}
	if r := ^foldSum(sumWords(0, b[:20])); r != 0 {
		t.Errorf("IPv4 header checksum wrong (residue %#04x)", r)
	}
	return b[20:]
}

func TestTraceProbeGolden(t *testing.T) {
	for _, p := range traceProtos {
		for _, v6 := range []bool{false, true} {
			name := fmt.Sprintf("trace_%s_v%d.hex", p.name, map[bool]int{false: 4, true: 6}[v6])
			t.Run(name, func(t *testing.T) {
				f := testFlow(p.proto, v6)
				const idx, ttl = 4, 5
				b, err := f.packet(idx, ttl)
				if err != nil {
					t.Fatal(err)
				}
				checkGoldenHex(t, name, b)
				seg := splitProbe(t, f, b, ttl)
				pkt := verifyTransportChecksum(t, seg, f.src, f.dst, transportProto(p.proto, v6))
				switch p.proto {
				case protoICMP:
					if got := binary.BigEndian.Uint16(seg[2:]); got != f.sum {
						t.Errorf("ICMP checksum %#04x, want the flow's %#04x", got, f.sum)
					}
					if binary.BigEndian.Uint16(seg[4:]) != f.id || uint32(binary.BigEndian.Uint16(seg[6:])) != f.ident(idx) {
						t.Errorf("ICMP id/seq wrong: %x", seg[:8])
					}
					if !bytes.HasSuffix(seg, []byte(traceTestContact)) {
						t.Errorf("payload %q lacks the contact string", seg[8:])
					}
				case protoUDP:
					u := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
					if uint32(u.Checksum) != f.ident(idx) || uint16(u.DstPort) != DefaultTraceUDPPort || uint16(u.SrcPort) != f.sport {
						t.Errorf("UDP header wrong: %+v (want checksum %#x)", u, f.ident(idx))
					}
					if !bytes.HasSuffix(u.Payload, []byte(traceTestContact)) {
						t.Errorf("payload %q lacks the contact string", u.Payload)
					}
				case protoTCP:
					tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
					if !tcp.SYN || tcp.ACK || tcp.Seq != f.ident(idx) || uint16(tcp.DstPort) != DefaultTraceTCPPort || uint16(tcp.SrcPort) != f.sport {
						t.Errorf("TCP header wrong: %+v", tcp)
					}
				}
			})
		}
	}
}

// TestTraceParisFlow checks what makes it Paris traceroute: every probe of a
// trace has the same flow identifier (addresses, protocol, ToS, the first
// transport bytes: ports, or ICMP type, code, checksum and identifier) and the
// same length, while each probe has an identifier of its own that maps back to
// its index.
func TestTraceParisFlow(t *testing.T) {
	for _, p := range traceProtos {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v6=%v", p.name, v6), func(t *testing.T) {
				f := testFlow(p.proto, v6)
				flowBytes := map[uint8]int{protoICMP: 8 - 2, protoUDP: 6, protoTCP: 4}[p.proto]
				var first []byte
				seen := map[uint32]int{}
				for idx := range 3 * 30 {
					ttl := idx/3 + 1
					b, err := f.packet(idx, ttl)
					if err != nil {
						t.Fatal(err)
					}
					seg := splitProbe(t, f, b, ttl)
					verifyTransportChecksum(t, seg, f.src, f.dst, transportProto(p.proto, v6))
					if first == nil {
						first = b
					}
					if len(b) != len(first) {
						t.Fatalf("probe %d is %d bytes, probe 0 %d", idx, len(b), len(first))
					}
					hdr := 0
					if !v6 {
						hdr = 20
						if b[1] != first[1] || !bytes.Equal(b[9:10], first[9:10]) || !bytes.Equal(b[12:20], first[12:20]) {
							t.Errorf("probe %d: IPv4 flow fields differ", idx)
						}
					}
					if !bytes.Equal(b[hdr:hdr+flowBytes], first[hdr:hdr+flowBytes]) {
						t.Errorf("probe %d: flow bytes %x, probe 0 %x", idx, b[hdr:hdr+flowBytes], first[hdr:hdr+flowBytes])
					}
					id := f.ident(idx)
					if j, dup := seen[id]; dup {
						t.Errorf("probes %d and %d share identifier %#x", j, idx, id)
					}
					seen[id] = idx
					if got, ok := f.index(id); !ok || got != idx {
						t.Errorf("index(ident(%d)) = %d, %v", idx, got, ok)
					}
				}
			})
		}
	}
	// Another key, another flow: nobody else can guess ours.
	a := newTraceFlow(testKey, protoUDP, synSrc4, synDst4, 33434, 0, "")
	b := newTraceFlow(NewKey(), protoUDP, synSrc4, synDst4, 33434, 0, "")
	if a.sport == b.sport && a.base == b.base {
		t.Error("two keys give the same flow")
	}
}

// traceReplyFor builds what a router (hop) or the destination sends back for
// probe b of flow f, as the receiving raw socket delivers it, and whether it
// comes on the TCP socket.
func traceReplyFor(t testing.TB, f traceFlow, b []byte, from netip.Addr, hop bool) (reply []byte, onTCP bool) {
	t.Helper()
	v6 := f.dst.Is6()
	if hop {
		if v6 {
			return icmpError6(t, icmp6TimeExceeded, 0, ipv6Packet(t, f.src, f.dst, uint8(transportProto(f.proto, true)), 1, b)), false
		}
		return icmpError4(t, from, f.src, icmp4TimeExceeded, 0, b), false
	}
	switch f.proto {
	case protoICMP:
		data := b
		if !v6 {
			data = b[20:]
		}
		id, seq := binary.BigEndian.Uint16(data[4:]), binary.BigEndian.Uint16(data[6:])
		if v6 {
			echo := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(icmp6EchoReply, 0)}
			_ = echo.SetNetworkLayerForChecksum(pseudoHeader(f.dst, f.src, layers.IPProtocolICMPv6))
			buf := gopacket.NewSerializeBuffer()
			_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, echo,
				&layers.ICMPv6Echo{Identifier: id, SeqNumber: seq}, gopacket.Payload(data[8:]))
			return buf.Bytes(), false
		}
		echo := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(icmp4EchoReply, 0), Id: id, Seq: seq}
		buf := gopacket.NewSerializeBuffer()
		_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, echo, gopacket.Payload(data[8:]))
		return ipv4Packet(t, f.dst, f.src, protoICMP, 60, buf.Bytes()), false
	case protoUDP:
		if v6 {
			return icmpError6(t, icmp6Unreachable, 4, ipv6Packet(t, f.src, f.dst, protoUDP, 1, b)), false
		}
		return icmpError4(t, f.dst, f.src, icmp4Unreachable, 3, b), false
	}
	seg := b
	if !v6 {
		seg = b[20:]
	}
	s, _ := ParseTCP(seg, true)
	if v6 {
		return tcpReply6(t, f.dst, f.src, s.DstPort, s.SrcPort, 77, s.Seq+1, true, false), true
	}
	return tcpReply4(t, f.dst, f.src, s.DstPort, s.SrcPort, 77, s.Seq+1, true, false), true
}

// parseTraceReplyForTest parses a reply the way the receivers do.
func parseTraceReplyForTest(b []byte, v6, onTCP bool, from netip.Addr) (TraceReply, error) {
	if onTCP {
		s, err := ParseTCP(b, v6)
		if err != nil {
			return TraceReply{}, err
		}
		if v6 {
			s.Src = from
		}
		return traceReplyFromTCP(s)
	}
	return ParseTraceICMP(b, v6, from, 64)
}

func TestTraceMatch(t *testing.T) {
	router4, router6 := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:b:1::1")
	for _, p := range traceProtos {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v6=%v", p.name, v6), func(t *testing.T) {
				f := testFlow(p.proto, v6)
				other := newTraceFlow(KeyFromBytes([16]byte{1}), p.proto, f.src, f.dst, f.dport, 0, traceTestContact)
				router := router4
				if v6 {
					router = router6
				}
				for _, tc := range []struct {
					name  string
					hop   bool
					class answerClass
					kind  string
				}{
					{"time exceeded", true, classHop, "time-exceeded"},
					{"destination", false, classReached, map[uint8]string{protoICMP: "echo-reply", protoUDP: "dest-unreachable/port", protoTCP: "syn-ack"}[p.proto]},
				} {
					const idx = 17
					b, _ := f.packet(idx, 6)
					from := router
					if !tc.hop {
						from = f.dst
					}
					reply, onTCP := traceReplyFor(t, f, b, from, tc.hop)
					r, err := parseTraceReplyForTest(reply, v6, onTCP, from)
					if err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
					if r.flowKey() != f.key() {
						t.Errorf("%s: flow key %+v, want %+v", tc.name, r.flowKey(), f.key())
					}
					if got, ok := f.match(&r); !ok || got != idx {
						t.Errorf("%s: match = %d, %v; want %d", tc.name, got, ok, idx)
					}
					if c := f.classify(&r); c != tc.class || r.Kind != tc.kind || r.From != from {
						t.Errorf("%s: class %d kind %q from %s, want %d %q %s", tc.name, c, r.Kind, r.From, tc.class, tc.kind, from)
					}
					if _, ok := other.match(&r); ok && other.key() == r.flowKey() {
						t.Errorf("%s: the flow of another key takes the reply", tc.name)
					}
					// A reply quoting or echoing a changed identifier is not ours.
					bad := r
					bad.Ident += 1000
					if got, ok := f.match(&bad); ok && got < 30 {
						t.Errorf("%s: changed identifier still matches probe %d", tc.name, got)
					}
					flow := r
					if p.proto == protoICMP {
						flow.ID++
					} else {
						flow.SrcPort++
					}
					if _, ok := f.match(&flow); ok {
						t.Errorf("%s: a reply of another flow matches", tc.name)
					}
					if tc.hop {
						moved := r
						moved.Src = f.dst // quoted source is not us
						if _, ok := f.match(&moved); ok {
							t.Errorf("%s: a quote of a packet from another source matches", tc.name)
						}
						if p.proto == protoICMP {
							sum := r
							sum.Sum++
							if _, ok := f.match(&sum); ok {
								t.Errorf("%s: a quoted probe with another checksum matches", tc.name)
							}
						}
					}
				}
				// A destination unreachable from a router ends the trace.
				b, _ := f.packet(3, 2)
				var reply []byte
				if v6 {
					reply = icmpError6(t, icmp6Unreachable, 0, ipv6Packet(t, f.src, f.dst, uint8(transportProto(p.proto, true)), 1, b))
				} else {
					reply = icmpError4(t, router, f.src, icmp4Unreachable, 1, b)
				}
				r, err := ParseTraceICMP(reply, v6, router, 64)
				if err != nil {
					t.Fatal(err)
				}
				if idx, ok := f.match(&r); !ok || idx != 3 || f.classify(&r) != classUnreachable {
					t.Errorf("unreachable: match %d %v class %d", idx, ok, f.classify(&r))
				}
			})
		}
	}
}

// traceCapture is a real reply from testdata/trace_capture.txt.
type traceCapture struct {
	name, kind string
	v6, onTCP  bool
	b          []byte
}

func loadTraceCaptures(t testing.TB) []traceCapture {
	t.Helper()
	text, err := os.ReadFile("testdata/trace_capture.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []traceCapture
	for _, line := range strings.Split(string(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 5 {
			t.Fatalf("trace_capture.txt: bad line %q", line)
		}
		b, err := hex.DecodeString(f[4])
		if err != nil {
			t.Fatalf("trace_capture.txt: %s: %v", f[0], err)
		}
		out = append(out, traceCapture{name: f[0], v6: f[1] == "v6", onTCP: f[2] == "tcp", kind: f[3], b: b})
	}
	return out
}

// TestTraceCaptures parses the real replies of the lab's routers and target.
func TestTraceCaptures(t *testing.T) {
	caps := loadTraceCaptures(t)
	if len(caps) < 12 {
		t.Fatalf("%d captures, want 12", len(caps))
	}
	from6 := netip.MustParseAddr("2001:db8:b:1::1")
	for _, c := range caps {
		t.Run(c.name, func(t *testing.T) {
			from := from6 // what an IPv6 socket reports: the sender
			if c.kind == "echo-reply" || c.kind == hopSYNACK {
				from = netip.MustParseAddr("2001:db8:1::7")
			}
			r, err := parseTraceReplyForTest(c.b, c.v6, c.onTCP, from)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != c.kind {
				t.Errorf("kind %q, want %q", r.Kind, c.kind)
			}
			wantDst := "198.18.7.7"
			if c.v6 {
				wantDst = "2001:db8:1::7"
			}
			if r.Dst.String() != wantDst || (r.Quoted && r.Src.String() != map[bool]string{false: "192.0.2.10", true: "2001:db8:a:1::2"}[c.v6]) {
				t.Errorf("probe addresses %s -> %s", r.Src, r.Dst)
			}
			if r.Quoted && r.Proto == protoICMP && r.Sum == 0 {
				t.Error("quoted ICMP checksum missing")
			}
		})
	}
}

// traceFuzzSeeds are replies to the probes of the test flows, whole and cut.
func traceFuzzSeeds(t testing.TB) (seeds []struct {
	b  []byte
	v6 bool
}) {
	add := func(b []byte, v6 bool) {
		seeds = append(seeds, struct {
			b  []byte
			v6 bool
		}{b, v6})
	}
	for _, p := range traceProtos {
		for _, v6 := range []bool{false, true} {
			f := testFlow(p.proto, v6)
			b, _ := f.packet(5, 6)
			for _, hop := range []bool{true, false} {
				r, onTCP := traceReplyFor(t, f, b, netip.MustParseAddr("203.0.113.9"), hop)
				if onTCP {
					continue
				}
				add(r, v6)
				add(r[:len(r)/2], v6)
				add(r[:min(len(r), 30)], v6)
			}
		}
	}
	for _, c := range loadTraceCaptures(t) {
		if !c.onTCP {
			add(c.b, c.v6)
			add(c.b[:len(c.b)-20], c.v6)
		}
	}
	add(nil, false)
	add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 0, 0, 0, 0, 0, 0, 0}, false)
	add([]byte("\x03\x00garbage garbage garbage garbage garbage garbage garbage garbage"), true)
	return seeds
}

func FuzzParseTraceICMP(f *testing.F) {
	for _, s := range traceFuzzSeeds(f) {
		f.Add(s.b, s.v6)
	}
	var flows []traceFlow
	for _, p := range traceProtos {
		flows = append(flows, testFlow(p.proto, false), testFlow(p.proto, true))
	}
	from := netip.MustParseAddr("203.0.113.9")
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		r, err := ParseTraceICMP(b, v6, from, 64)
		if err != nil {
			return
		}
		for i := range flows {
			fl := &flows[i]
			idx, ok := fl.match(&r)
			_ = fl.classify(&r)
			if ok && fl.ident(idx) != r.Ident {
				t.Fatalf("match gave probe %d, whose identifier %#x is not the reply's %#x", idx, fl.ident(idx), r.Ident)
			}
		}
	})
}

func TestSummarizeTrace(t *testing.T) {
	r1, r2, dst := netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.18.7.7")
	r2b := netip.MustParseAddr("203.0.113.17")
	hop := func(a netip.Addr, ms int) traceAnswer {
		return traceAnswer{ok: true, from: a, rtt: time.Duration(ms) * time.Millisecond, name: "time-exceeded", class: classHop}
	}
	reached := func(ms int) traceAnswer {
		return traceAnswer{ok: true, from: dst, rtt: time.Duration(ms) * time.Millisecond, ttl: 61, name: "echo-reply", class: classReached}
	}
	unreach := traceAnswer{ok: true, from: r2, rtt: time.Millisecond, name: "dest-unreachable/net", class: classUnreachable}
	none := traceAnswer{}
	h := func(ttl int, a netip.Addr, ms float64, name string) results.Hop {
		if !a.IsValid() {
			return results.Hop{TTL: ttl}
		}
		return results.Hop{TTL: ttl, Addr: a.String(), RTTms: ms, ICMP: name}
	}
	for _, tc := range []struct {
		name             string
		answers          []traceAnswer
		first, sent, cnt int
		want             []results.Hop
		reached          bool
		end              int
	}{
		{"reached at 3, beyond dropped", []traceAnswer{hop(r1, 1), hop(r2, 2), reached(3), reached(4), reached(5)}, 1, 5, 1,
			[]results.Hop{h(1, r1, 1, "time-exceeded"), h(2, r2, 2, "time-exceeded"), h(3, dst, 3, "echo-reply")}, true, 3},
		{"silent hop in the middle", []traceAnswer{hop(r1, 1), none, reached(3)}, 1, 3, 1,
			[]results.Hop{h(1, r1, 1, "time-exceeded"), h(2, netip.Addr{}, 0, ""), h(3, dst, 3, "echo-reply")}, true, 3},
		{"cut after 2: gap of 3 kept", []traceAnswer{hop(r1, 1), hop(r2, 2), none, none, none, none, none, none}, 1, 8, 1,
			[]results.Hop{h(1, r1, 1, "time-exceeded"), h(2, r2, 2, "time-exceeded"), h(3, netip.Addr{}, 0, ""),
				h(4, netip.Addr{}, 0, ""), h(5, netip.Addr{}, 0, "")}, false, 0},
		{"unreachable ends it", []traceAnswer{hop(r1, 1), hop(r2, 2), unreach, none}, 1, 4, 1,
			[]results.Hop{h(1, r1, 1, "time-exceeded"), h(2, r2, 2, "time-exceeded"), h(3, r2, 1, "dest-unreachable/net")}, false, 3},
		{"two probes per hop, two routers at hop 2", []traceAnswer{hop(r1, 2), hop(r1, 1), hop(r2, 2), hop(r2b, 3), none, reached(4)}, 1, 3, 2,
			[]results.Hop{h(1, r1, 1, "time-exceeded"), h(2, r2, 2, "time-exceeded"), h(2, r2b, 3, "time-exceeded"), h(3, dst, 4, "echo-reply")}, true, 3},
		{"first ttl 2", []traceAnswer{hop(r2, 2), reached(3)}, 2, 3, 1,
			[]results.Hop{h(2, r2, 2, "time-exceeded"), h(3, dst, 3, "echo-reply")}, true, 3},
		{"nothing at all", []traceAnswer{none, none, none, none, none}, 1, 5, 1,
			[]results.Hop{h(1, netip.Addr{}, 0, ""), h(2, netip.Addr{}, 0, ""), h(3, netip.Addr{}, 0, "")}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarizeTrace(tc.answers, tc.first, tc.sent, tc.cnt, 3)
			if fmt.Sprint(s.hops) != fmt.Sprint(tc.want) || s.reached != tc.reached || s.end != tc.end {
				t.Errorf("hops %v reached %v end %d\nwant %v reached %v end %d", s.hops, s.reached, s.end, tc.want, tc.reached, tc.end)
			}
		})
	}
}

// fakePath is a network for a Trace over fake sockets: each target is
// pathLen hops away (routers 10.h.t.t derived from the target so that mixed-up
// replies show), hops listed in silent never answer, and hops from cut on
// (when not 0) drop everything.
type fakePath struct {
	pathLen int
	silent  map[int]bool
	cut     int
	unreach int // this hop answers net unreachable to probes that reach it
}

func (fp fakePath) router(dst netip.Addr, ttl int) netip.Addr {
	if dst.Is4() {
		a := dst.As4()
		return netip.AddrFrom4([4]byte{203, 0, byte(ttl), a[3]})
	}
	a := dst.As16()
	a[1], a[14] = byte(ttl), 0xee
	return netip.AddrFrom16(a)
}

func fakeTraceNet(t *testing.T, proto uint8, cfg Config, fp fakePath) *Trace {
	t.Helper()
	var socks familySockets
	for i, v6 := range []bool{false, true} {
		send, ic, tc := newFakeRaw(v6), newFakeRaw(v6), newFakeRaw(v6)
		send.onWrite = func(b []byte, dst, src netip.Addr, hopLimit int) {
			ttl := hopLimit
			if !v6 {
				ttl = int(b[8])
				src = netip.AddrFrom4([4]byte(b[12:16]))
			}
			f := traceFlow{proto: proto, src: src, dst: dst}
			if fp.cut != 0 && ttl >= fp.cut && fp.pathLen >= fp.cut {
				return
			}
			var from netip.Addr
			var reply []byte
			onTCP := false
			switch {
			case fp.unreach != 0 && ttl >= fp.unreach:
				from = fp.router(dst, fp.unreach)
				if v6 {
					reply = icmpError6(t, icmp6Unreachable, 0, ipv6Packet(t, src, dst, uint8(transportProto(proto, true)), 1, b))
				} else {
					reply = icmpError4(t, from, src, icmp4Unreachable, 0, b)
				}
			case ttl < fp.pathLen:
				if fp.silent[ttl] {
					return
				}
				from = fp.router(dst, ttl)
				reply, onTCP = traceReplyFor(t, f, b, from, true)
			default:
				from = dst
				reply, onTCP = traceReplyFor(t, f, b, from, false)
			}
			go func() { // answers come back after the write returns, like the network's
				if onTCP {
					tc.deliver(reply, from, 60)
				} else {
					ic.deliver(reply, from, 60)
				}
			}()
		}
		socks[i] = rawSockets{send: send, icmp: ic}
		if proto == protoTCP {
			socks[i].tcp = tc
		}
	}
	tr := newTrace(cfg.WithDefaults(), proto, testKey, socks)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestTraceFakePaths(t *testing.T) {
	for _, p := range traceProtos {
		for _, v6 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v6=%v", p.name, v6), func(t *testing.T) {
				src := synSrc4
				if v6 {
					src = synSrc6
				}
				cfg := Config{Proto: p.name, Source: src, Timeout: 150 * time.Millisecond, Trace: TraceOptions{GapLimit: 3, MaxTTL: 20}, Vantage: "vp1"}
				for _, tc := range []struct {
					name    string
					fp      fakePath
					hops    int
					reached bool
					outcome string
				}{
					{"reached at 4", fakePath{pathLen: 4}, 4, true, results.OutcomeReply},
					{"silent hop 2", fakePath{pathLen: 4, silent: map[int]bool{2: true}}, 4, true, results.OutcomeReply},
					{"reached at 18, second window", fakePath{pathLen: 18}, 18, true, results.OutcomeReply},
					{"cut after hop 2", fakePath{pathLen: 6, cut: 3}, 2 + 3, false, results.OutcomeTimeout},
					{"unreachable at 3", fakePath{pathLen: 6, unreach: 3}, 3, false, results.OutcomeUnreachable},
				} {
					t.Run(tc.name, func(t *testing.T) {
						tr := fakeTraceNet(t, p.proto, cfg, tc.fp)
						// Many targets at once, two traces of the first.
						var targets []netip.Addr
						for i := range 12 {
							a := netip.MustParseAddr(fmt.Sprintf("198.18.7.%d", 10+i))
							if v6 {
								a = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x", 0x10+i))
							}
							targets = append(targets, a)
						}
						targets = append(targets, targets[0])
						recs := make([][]results.Record, len(targets))
						var wg sync.WaitGroup
						for i, a := range targets {
							wg.Go(func() { recs[i] = tr.Probe(context.Background(), Target{Addr: a}) })
						}
						wg.Wait()
						for i, a := range targets {
							if len(recs[i]) != 1 {
								t.Fatalf("%s: %d records", a, len(recs[i]))
							}
							r := recs[i][0]
							if r.Method != results.MethodTrace || r.Proto != p.name || r.Target != a.String() || r.Outcome != tc.outcome ||
								r.Reached == nil || *r.Reached != tc.reached || len(r.Hops) != tc.hops || r.Vantage != "vp1" {
								t.Fatalf("%s: %+v\nwant outcome %s reached %v with %d hops", a, r, tc.outcome, tc.reached, tc.hops)
							}
							for j, h := range r.Hops {
								ttl := j + 1
								want := ""
								switch {
								case tc.fp.silent[ttl] || (tc.fp.cut != 0 && ttl >= tc.fp.cut):
								case tc.fp.unreach == ttl:
									want = tc.fp.router(a, ttl).String()
								case ttl < tc.fp.pathLen:
									want = tc.fp.router(a, ttl).String()
								default:
									want = a.String()
								}
								if h.TTL != ttl || h.Addr != want {
									t.Errorf("%s hop %d: %+v, want %q", a, ttl, h, want)
								}
							}
							if tc.reached && (r.RTTms < 0 || r.ReplyTTL == 0) {
								t.Errorf("%s: rtt %v reply ttl %d", a, r.RTTms, r.ReplyTTL)
							}
							wantPort := map[string]int{"icmp": 0, "udp": DefaultTraceUDPPort, "tcp": DefaultTraceTCPPort}[p.name]
							if r.Port != wantPort {
								t.Errorf("%s: port %d, want %d", a, r.Port, wantPort)
							}
						}
					})
				}
			})
		}
	}
}

func TestTracePermitSendsNothing(t *testing.T) {
	refuse := errors.New("blocklisted: test")
	tr := fakeTraceNet(t, protoUDP, Config{Proto: "udp", Source: synSrc4, Permit: func(netip.Addr) error { return refuse }},
		fakePath{pathLen: 2})
	recs := tr.Probe(context.Background(), Target{Addr: synDst4})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "blocklisted") ||
		recs[0].Method != results.MethodTrace {
		t.Errorf("records = %+v, want one error record naming the refusal", recs)
	}
	for _, s := range tr.socks {
		if n := s.send.(*fakeRaw).writes(); n != 0 {
			t.Errorf("%d packets sent to a refused target", n)
		}
	}
}

func TestNewTraceRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{Proto: "sctp"}, {Trace: TraceOptions{FirstTTL: 9, MaxTTL: 3}}, {Trace: TraceOptions{MaxTTL: 300}}} {
		if _, err := NewTrace(c); err == nil || errors.Is(err, ErrPermission) {
			t.Errorf("NewTrace(%+v) = %v, want a configuration error", c, err)
		}
	}
}

// TestTraceLoopback traces 127.0.0.1 and ::1 in every mode: the destination
// answers at hop 1.
func TestTraceLoopback(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1"}, {"tcp6", "::1"}} {
		open, closed := loopbackPorts(t, tc.network, tc.addr)
		u, err := net.ListenPacket(strings.Replace(tc.network, "tcp", "udp", 1), net.JoinHostPort(tc.addr, "0"))
		if err != nil {
			t.Fatal(err)
		}
		closedUDP := uint16(u.LocalAddr().(*net.UDPAddr).Port)
		u.Close()
		for _, m := range []struct {
			proto string
			port  uint16
			icmp  string
		}{
			{"icmp", 0, "echo-reply"},
			{"udp", closedUDP, "dest-unreachable/port"},
			{"tcp", open, hopSYNACK},
			{"tcp", closed, hopRST},
		} {
			t.Run(fmt.Sprintf("%s/%s/%d", tc.addr, m.proto, m.port), func(t *testing.T) {
				tr, err := NewTrace(Config{Proto: m.proto, Timeout: 2 * time.Second, Count: 2})
				if errors.Is(err, ErrPermission) {
					lab.Missing(t, "no raw sockets (not root, no CAP_NET_RAW): %v", err)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer tr.Close()
				recs := tr.Probe(context.Background(), Target{Addr: netip.MustParseAddr(tc.addr), Port: m.port})
				r := recs[0]
				t.Logf("%+v", r)
				if r.Outcome != results.OutcomeReply || r.Reached == nil || !*r.Reached || len(r.Hops) != 1 ||
					r.Hops[0].TTL != 1 || r.Hops[0].Addr != tc.addr || r.Hops[0].ICMP != m.icmp {
					t.Errorf("trace %s %s: %+v %v, want reached at hop 1 with %s", m.proto, tc.addr, r, r.Hops, m.icmp)
				}
			})
		}
	}
}

func TestTracePermission(t *testing.T) {
	if os.Geteuid() == 0 {
		runUnprivileged(t, "TestTracePermission")
		return
	}
	for _, proto := range []string{"icmp", "udp", "tcp"} {
		if _, err := NewTrace(Config{Proto: proto}); !errors.Is(err, ErrPermission) {
			t.Errorf("NewTrace(%s) without CAP_NET_RAW: %v, want ErrPermission", proto, err)
		}
	}
}

func TestTraceSendsNothingPastTheEnd(t *testing.T) {
	var tr *Trace
	paced := 0
	cfg := Config{Proto: "icmp", Source: synSrc4, Timeout: 5 * time.Second, Vantage: "vp1"}
	// A cap slower than the path: each probe waits for the answer to the one
	// before it, so the destination has answered TTL 3 before TTL 4 may go.
	cfg.Trace.Pace = func(netip.Addr) {
		deadline := time.Now().Add(30 * time.Second)
		for tr.matched.Load() < uint64(paced) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		paced++
	}
	tr = fakeTraceNet(t, protoICMP, cfg, fakePath{pathLen: 3})
	dst := netip.MustParseAddr("198.18.7.10")
	recs := tr.Probe(context.Background(), Target{Addr: dst})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeReply || len(recs[0].Hops) != 3 {
		t.Fatalf("records %+v, want one reaching %s at hop 3", recs, dst)
	}
	send := tr.socks[0].send.(*fakeRaw)
	send.mu.Lock()
	defer send.mu.Unlock()
	if len(send.written) != 3 {
		t.Errorf("%d probes sent, want 3: none past the destination's answer", len(send.written))
	}
}
