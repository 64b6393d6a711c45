package probe

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Packets captured with tcpdump on the loopback interface of a fresh network
// namespace (Linux 6.x): ping 127.0.0.1 and ::1, and a UDP datagram to a closed
// port of each, which the kernel answered with port unreachable.
const (
	realEchoReply4 = "45000054d4f200004001a7b47f0000017f00000100001fec334200012f1e026b00000000ff220000000000006477746f6b656e216477746f6b656e216477746f6b656e216477746f6b656e216477746f6b656e21"
	realEchoReply6 = "60000a8400403a400000000000000000000000000000000100000000000000000000000000000001810041a3334300012f1e026b000000001940000000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
	realPortUnr4   = "45c0004bd51e00004001a6d17f0000017f0000010303736e000000004500002f67a840004011d5137f0000017f000001b383829a001bfe2e6461726b77617463682d7564702d70726f6265"
	realPortUnr6   = "600973e9004b3a400000000000000000000000000000000100000000000000000000000000000001010445640000000060069d47001b11400000000000000000000000000000000100000000000000000000000000000001d25b829a001b002e6461726b77617463682d7564702d70726f6265"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	quoteSrc4 = netip.MustParseAddr("192.0.2.1")  // the prober
	quoteDst4 = netip.MustParseAddr("198.18.3.4") // the target
	quoteSrc6 = netip.MustParseAddr("2001:db8::1")
	quoteDst6 = netip.MustParseAddr("2001:db8:1::1234")
	router6   = netip.MustParseAddr("2001:db8:ff::9")
)

// serialize builds a packet from gopacket layers, lengths and checksums computed.
func buildPacket(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func layerIP4(src, dst netip.Addr, proto layers.IPProtocol, ttl uint8, id uint16) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: id, Protocol: proto,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

func layerIP6(src, dst netip.Addr, next layers.IPProtocol, hop uint8) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: hop, NextHeader: next,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

// probes as they leave the prober: what ICMP errors quote.
func quotedUDP4(t testing.TB) []byte {
	ip := layerIP4(quoteSrc4, quoteDst4, layers.IPProtocolUDP, 1, 0x4242)
	udp := &layers.UDP{SrcPort: 40000, DstPort: 33435}
	udp.SetNetworkLayerForChecksum(ip)
	return buildPacket(t, ip, udp, gopacket.Payload("darkwatch"))
}

func quotedTCP4(t testing.TB) []byte {
	ip := layerIP4(quoteSrc4, quoteDst4, layers.IPProtocolTCP, 2, 0x4343)
	tcp := &layers.TCP{SrcPort: 41000, DstPort: 80, Seq: 0xdeadbeef, SYN: true, Window: 1024}
	tcp.SetNetworkLayerForChecksum(ip)
	return buildPacket(t, ip, tcp)
}

func quotedEcho4(t testing.TB) []byte {
	return buildPacket(t, layerIP4(quoteSrc4, quoteDst4, layers.IPProtocolICMPv4, 3, 0x4444),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x1234, Seq: 7},
		gopacket.Payload("tokentokdarkwatch"))
}

func quotedUDP6(t testing.TB) []byte {
	ip := layerIP6(quoteSrc6, quoteDst6, layers.IPProtocolUDP, 1)
	udp := &layers.UDP{SrcPort: 40000, DstPort: 33435}
	udp.SetNetworkLayerForChecksum(ip)
	return buildPacket(t, ip, udp, gopacket.Payload("darkwatch"))
}

func quotedTCP6(t testing.TB) []byte {
	ip := layerIP6(quoteSrc6, quoteDst6, layers.IPProtocolTCP, 2)
	tcp := &layers.TCP{SrcPort: 41000, DstPort: 443, Seq: 0x01020304, SYN: true, Window: 1024}
	tcp.SetNetworkLayerForChecksum(ip)
	return buildPacket(t, ip, tcp)
}

func quotedEcho6(t testing.TB) []byte {
	ip := layerIP6(quoteSrc6, quoteDst6, layers.IPProtocolICMPv6, 3)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return buildPacket(t, ip, ic, &layers.ICMPv6Echo{Identifier: 0x1234, SeqNumber: 7}, gopacket.Payload("tokentokdarkwatch"))
}

// icmp4Msg is an ICMPv4 message (no IP header) of the given type and code whose
// body is rest (the quoted packet for errors).
func icmp4Message(t testing.TB, typ, code uint8, id, seq uint16, rest []byte) []byte {
	return buildPacket(t, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: id, Seq: seq},
		gopacket.Payload(rest))
}

// icmp6Err is an ICMPv6 error (no IP header) quoting q, sent by a router.
func icmp6Error(t testing.TB, typ, code uint8, q []byte) []byte {
	ip := layerIP6(router6, quoteSrc6, layers.IPProtocolICMPv6, 60)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	ic.SetNetworkLayerForChecksum(ip)
	b := buildPacket(t, ip, ic, gopacket.Payload(append(make([]byte, 4), q...)))
	return b[40:]
}

func icmp6EchoMsg(t testing.TB, typ uint8, id, seq uint16, data []byte) []byte {
	ip := layerIP6(quoteDst6, quoteSrc6, layers.IPProtocolICMPv6, 60)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	b := buildPacket(t, ip, ic, &layers.ICMPv6Echo{Identifier: id, SeqNumber: seq}, gopacket.Payload(data))
	return b[40:]
}

func TestParseICMP(t *testing.T) {
	real4 := mustHex(t, realEchoReply4)[20:]
	real6 := mustHex(t, realEchoReply6)[40:]
	unr4 := mustHex(t, realPortUnr4)[20:]
	unr6 := mustHex(t, realPortUnr6)[40:]
	udp4, tcp4, echo4 := quotedUDP4(t), quotedTCP4(t), quotedEcho4(t)
	udp6, tcp6, echo6 := quotedUDP6(t), quotedTCP6(t), quotedEcho6(t)
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")

	tests := []struct {
		name    string
		b       []byte
		v6      bool
		err     error
		want    ICMPReply // compared field by field below; Quoted.Payload by length
		payload int
		label   string
		isErr   bool
	}{
		{name: "v4 real echo reply", b: real4, want: ICMPReply{Type: 0, ID: 0x3342, Seq: 1, Data: real4[8:]}, label: "echo-reply"},
		{name: "v6 real echo reply", b: real6, v6: true, want: ICMPReply{V6: true, Type: 129, ID: 0x3343, Seq: 1, Data: real6[8:]}, label: "echo-reply"},
		{name: "v4 real port unreachable quoting udp", b: unr4, isErr: true, label: "dest-unreachable/port", payload: len("darkwatch-udp-probe"),
			want: ICMPReply{Type: 3, Code: 3, Quoted: Quoted{Src: lo4, Dst: lo4, Proto: protoUDP, TTL: 64, IPID: 0x67a8,
				SrcPort: 0xb383, DstPort: 33434, UDPLen: 27, UDPSum: 0xfe2e}}},
		{name: "v6 real port unreachable quoting udp", b: unr6, v6: true, isErr: true, label: "dest-unreachable/port", payload: len("darkwatch-udp-probe"),
			want: ICMPReply{V6: true, Type: 1, Code: 4, Quoted: Quoted{Src: lo6, Dst: lo6, Proto: protoUDP, TTL: 64,
				SrcPort: 0xd25b, DstPort: 33434, UDPLen: 27, UDPSum: 0x002e}}},
		{name: "v4 time exceeded quoting udp", b: icmp4Message(t, 11, 0, 0, 0, udp4), isErr: true, label: "time-exceeded", payload: len("darkwatch"),
			want: ICMPReply{Type: 11, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242,
				SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp4, 20)}}},
		{name: "v4 host unreachable quoting tcp", b: icmp4Message(t, 3, 1, 0, 0, tcp4), isErr: true, label: "dest-unreachable/host", payload: 12,
			want: ICMPReply{Type: 3, Code: 1, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoTCP, TTL: 2, IPID: 0x4343,
				SrcPort: 41000, DstPort: 80, TCPSeq: 0xdeadbeef}}},
		{name: "v4 time exceeded quoting icmp echo", b: icmp4Message(t, 11, 0, 0, 0, echo4), isErr: true, label: "time-exceeded", payload: len("tokentokdarkwatch"),
			want: ICMPReply{Type: 11, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoICMP, TTL: 3, IPID: 0x4444,
				ICMPType: 8, ICMPID: 0x1234, ICMPSeq: 7, ICMPSum: uint16(echo4[22])<<8 | uint16(echo4[23])}}},
		{name: "v4 admin prohibited, 8 bytes quoted (RFC 792)", b: icmp4Message(t, 3, 13, 0, 0, echo4[:28]), isErr: true, label: "dest-unreachable/admin",
			want: ICMPReply{Type: 3, Code: 13, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoICMP, TTL: 3, IPID: 0x4444,
				ICMPType: 8, ICMPID: 0x1234, ICMPSeq: 7, ICMPSum: uint16(echo4[22])<<8 | uint16(echo4[23])}}},
		{name: "v4 quote cut inside the transport header", b: icmp4Message(t, 11, 0, 0, 0, udp4[:24]), err: ErrShort, isErr: true, label: "time-exceeded",
			want: ICMPReply{Type: 11, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242}}},
		{name: "v4 quote cut inside the IP header", b: icmp4Message(t, 11, 0, 0, 0, udp4[:19]), err: ErrShort, isErr: true, label: "time-exceeded",
			want: ICMPReply{Type: 11}},
		{name: "v4 error quoting nothing", b: icmp4Message(t, 3, 3, 0, 0, nil), err: ErrShort, isErr: true, label: "dest-unreachable/port",
			want: ICMPReply{Type: 3, Code: 3}},
		{name: "v4 error quoting IPv6", b: icmp4Message(t, 11, 0, 0, 0, udp6), err: ErrNotIP, isErr: true, label: "time-exceeded",
			want: ICMPReply{Type: 11}},
		{name: "v4 quote with bad IHL", b: icmp4Message(t, 11, 0, 0, 0, append([]byte{0x44}, udp4[1:]...)), err: ErrShort, isErr: true, label: "time-exceeded",
			want: ICMPReply{Type: 11}},
		{name: "v4 echo request", b: echo4[20:], want: ICMPReply{Type: 8, ID: 0x1234, Seq: 7, Data: []byte("tokentokdarkwatch")}, label: "icmp-8/0"},
		{name: "v4 redirect unhandled", b: icmp4Message(t, 5, 1, 0, 0, udp4), err: ErrUnhandled, label: "icmp-5/1", want: ICMPReply{Type: 5, Code: 1}},
		{name: "v4 unknown unreachable code", b: icmp4Message(t, 3, 99, 0, 0, udp4), isErr: true, label: "icmp-3/99", payload: len("darkwatch"),
			want: ICMPReply{Type: 3, Code: 99, Quoted: Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242,
				SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp4, 20)}}},
		{name: "v4 seven bytes", b: real4[:7], err: ErrShort, label: "echo-reply", want: ICMPReply{}}, // type unread: zero
		{name: "empty", b: nil, err: ErrShort, label: "echo-reply", want: ICMPReply{}},
		{name: "v6 time exceeded quoting udp", b: icmp6Error(t, 3, 0, udp6), v6: true, isErr: true, label: "time-exceeded", payload: len("darkwatch"),
			want: ICMPReply{V6: true, Type: 3, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoUDP, TTL: 1,
				SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp6, 40)}}},
		{name: "v6 admin prohibited quoting tcp", b: icmp6Error(t, 1, 1, tcp6), v6: true, isErr: true, label: "dest-unreachable/admin", payload: 12,
			want: ICMPReply{V6: true, Type: 1, Code: 1, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoTCP, TTL: 2,
				SrcPort: 41000, DstPort: 443, TCPSeq: 0x01020304}}},
		{name: "v6 time exceeded quoting icmp echo", b: icmp6Error(t, 3, 0, echo6), v6: true, isErr: true, label: "time-exceeded", payload: len("tokentokdarkwatch"),
			want: ICMPReply{V6: true, Type: 3, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoICMPv6, TTL: 3,
				ICMPType: 128, ICMPID: 0x1234, ICMPSeq: 7, ICMPSum: uint16(echo6[42])<<8 | uint16(echo6[43])}}},
		{name: "v6 packet too big", b: icmp6Error(t, 2, 0, udp6), v6: true, isErr: true, label: "packet-too-big", payload: len("darkwatch"),
			want: ICMPReply{V6: true, Type: 2, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoUDP, TTL: 1,
				SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp6, 40)}}},
		{name: "v6 quote cut inside the transport header", b: icmp6Error(t, 3, 0, udp6[:47]), v6: true, err: ErrShort, isErr: true, label: "time-exceeded",
			want: ICMPReply{V6: true, Type: 3, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoUDP, TTL: 1}}},
		{name: "v6 quote cut inside the IP header", b: icmp6Error(t, 3, 0, udp6[:39]), v6: true, err: ErrShort, isErr: true, label: "time-exceeded",
			want: ICMPReply{V6: true, Type: 3}},
		{name: "v6 error quoting IPv4", b: icmp6Error(t, 1, 3, append(tcp4, make([]byte, 8)...)), v6: true, err: ErrNotIP, isErr: true, label: "dest-unreachable/host",
			want: ICMPReply{V6: true, Type: 1, Code: 3}},
		{name: "v6 echo reply built", b: icmp6EchoMsg(t, 129, 0xbeef, 0xffff, []byte("x")), v6: true, label: "echo-reply",
			want: ICMPReply{V6: true, Type: 129, ID: 0xbeef, Seq: 0xffff, Data: []byte("x")}},
		{name: "v6 neighbour solicitation unhandled", b: icmp6EchoMsg(t, 135, 0, 0, make([]byte, 16)), v6: true, err: ErrUnhandled, label: "icmp6-135/0",
			want: ICMPReply{V6: true, Type: 135}},
		{name: "v6 unknown unreachable code", b: icmp6Error(t, 1, 9, udp6), v6: true, isErr: true, label: "icmp6-1/9", payload: len("darkwatch"),
			want: ICMPReply{V6: true, Type: 1, Code: 9, Quoted: Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoUDP, TTL: 1,
				SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp6, 40)}}},
		{name: "v4 bytes read as v6", b: real4, v6: true, err: ErrUnhandled, label: "icmp6-0/0", want: ICMPReply{V6: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseICMP(tc.b, tc.v6)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			w := tc.want
			if got.V6 != w.V6 || got.Type != w.Type || got.Code != w.Code || got.ID != w.ID || got.Seq != w.Seq {
				t.Errorf("header = v6 %v type %d code %d id %#x seq %d, want v6 %v type %d code %d id %#x seq %d",
					got.V6, got.Type, got.Code, got.ID, got.Seq, w.V6, w.Type, w.Code, w.ID, w.Seq)
			}
			if !bytes.Equal(got.Data, w.Data) {
				t.Errorf("data = %q, want %q", got.Data, w.Data)
			}
			gq := got.Quoted
			if tc.err == nil && len(gq.Payload) != tc.payload {
				t.Errorf("quoted payload is %d bytes, want %d", len(gq.Payload), tc.payload)
			}
			gq.Payload = nil
			if !reflect.DeepEqual(gq, w.Quoted) {
				t.Errorf("quoted = %+v\nwant     %+v", gq, w.Quoted)
			}
			if got.IsError() != tc.isErr {
				t.Errorf("IsError = %v, want %v", got.IsError(), tc.isErr)
			}
			if got.Name() != tc.label {
				t.Errorf("Name = %q, want %q", got.Name(), tc.label)
			}
			if got.IsEchoReply() != (tc.label == "echo-reply") {
				t.Errorf("IsEchoReply = %v", got.IsEchoReply())
			}
			if got.IsTimeExceeded() != (tc.label == "time-exceeded") {
				t.Errorf("IsTimeExceeded = %v", got.IsTimeExceeded())
			}
		})
	}
}

// udpSum is the checksum of the UDP header at off in packet b.
func quotedUDPSum(b []byte, off int) uint16 { return uint16(b[off+6])<<8 | uint16(b[off+7]) }

func TestParseQuoted(t *testing.T) {
	udp4 := quotedUDP4(t)
	optIP := &layers.IPv4{Version: 4, TTL: 1, Id: 7, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP(quoteSrc4.AsSlice()), DstIP: net.IP(quoteDst4.AsSlice()),
		Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}
	optUDP := &layers.UDP{SrcPort: 1234, DstPort: 53}
	optUDP.SetNetworkLayerForChecksum(optIP)
	opts := buildPacket(t, optIP, optUDP, gopacket.Payload("q"))
	if ihl := opts[0] & 0x0f; ihl != 6 {
		t.Fatalf("test packet has IHL %d, want 6 (options)", ihl)
	}
	tests := []struct {
		name string
		b    []byte
		v6   bool
		err  error
		want Quoted
	}{
		{"v4 udp", udp4, false, nil, Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242,
			SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp4, 20), Payload: []byte("darkwatch")}},
		{"v4 with options", opts, false, nil, Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 7,
			SrcPort: 1234, DstPort: 53, UDPLen: 9, UDPSum: quotedUDPSum(opts, 24), Payload: []byte("q")}},
		{"v4 options cut", opts[:22], false, ErrShort, Quoted{}},
		{"v4 header only", udp4[:20], false, ErrShort, Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242}},
		{"v4 eight transport bytes", udp4[:28], false, nil, Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: protoUDP, TTL: 1, IPID: 0x4242,
			SrcPort: 40000, DstPort: 33435, UDPLen: 17, UDPSum: quotedUDPSum(udp4, 20), Payload: []byte{}}},
		{"v4 unknown protocol", append(append([]byte{}, udp4[:9]...), append([]byte{47}, udp4[10:]...)...), false, nil,
			Quoted{Src: quoteSrc4, Dst: quoteDst4, Proto: 47, TTL: 1, IPID: 0x4242, Payload: []byte("darkwatch")}},
		{"v6 header only", quotedUDP6(t)[:40], true, ErrShort, Quoted{Src: quoteSrc6, Dst: quoteDst6, Proto: protoUDP, TTL: 1}},
		{"v6 given v4", append(quotedTCP4(t), make([]byte, 8)...), true, ErrNotIP, Quoted{}},
		{"v6 given short v4", udp4, true, ErrShort, Quoted{}},
		{"v4 given v6", quotedUDP6(t), false, ErrNotIP, Quoted{}},
		{"empty v4", nil, false, ErrShort, Quoted{}},
		{"empty v6", nil, true, ErrShort, Quoted{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQuoted(tc.b, tc.v6)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !bytes.Equal(got.Payload, tc.want.Payload) {
				t.Errorf("payload = %q, want %q", got.Payload, tc.want.Payload)
			}
			got.Payload, tc.want.Payload = nil, nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestStripIPv4(t *testing.T) {
	real := mustHex(t, realEchoReply4)
	withOpts := buildPacket(t, &layers.IPv4{Version: 4, TTL: 61, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP(quoteDst4.AsSlice()), DstIP: net.IP(quoteSrc4.AsSlice()),
		Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 1, Seq: 2})
	tests := []struct {
		name    string
		b       []byte
		err     error
		payload []byte
		src     netip.Addr
		ttl     uint8
	}{
		{"real echo reply", real, nil, real[20:], netip.MustParseAddr("127.0.0.1"), 64},
		{"options", withOpts, nil, withOpts[24:], quoteDst4, 61},
		{"header only", real[:20], nil, []byte{}, netip.MustParseAddr("127.0.0.1"), 64},
		{"19 bytes", real[:19], ErrShort, nil, netip.Addr{}, 0},
		{"options cut", withOpts[:21], ErrShort, nil, netip.Addr{}, 0},
		{"IHL below 5", append([]byte{0x44}, real[1:]...), ErrShort, nil, netip.Addr{}, 0},
		{"IPv6", mustHex(t, realEchoReply6), ErrNotIP, nil, netip.Addr{}, 0},
		{"empty", nil, ErrShort, nil, netip.Addr{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, src, ttl, err := StripIPv4(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !bytes.Equal(p, tc.payload) || src != tc.src || ttl != tc.ttl {
				t.Errorf("got payload %x src %v ttl %d, want %x %v %d", p, src, ttl, tc.payload, tc.src, tc.ttl)
			}
		})
	}
}

// FuzzParseICMP feeds ParseICMP (and StripIPv4 before it) arbitrary bytes as
// ICMPv4 and ICMPv6. It must never panic, and what it returns must lie inside
// its input.
func FuzzParseICMP(f *testing.F) {
	seed4 := [][]byte{
		mustHex(f, realEchoReply4)[20:], mustHex(f, realPortUnr4)[20:],
		icmp4Message(f, 11, 0, 0, 0, quotedUDP4(f)), icmp4Message(f, 11, 0, 0, 0, quotedTCP4(f)),
		icmp4Message(f, 11, 0, 0, 0, quotedEcho4(f)), icmp4Message(f, 3, 13, 0, 0, quotedEcho4(f)[:28]),
		icmp4Message(f, 3, 1, 0, 0, quotedUDP4(f)[:21]), icmp4Message(f, 3, 3, 0, 0, nil),
		echoRequest(false, 1, 2, [echoTokenLen]byte{1}, "contact"),
		{}, {0}, {0, 0, 0, 0, 0, 0, 0}, {3, 0, 0, 0, 0, 0, 0, 0, 0x4f}, []byte("garbage garbage garbage"),
	}
	seed6 := [][]byte{
		mustHex(f, realEchoReply6)[40:], mustHex(f, realPortUnr6)[40:],
		icmp6Error(f, 3, 0, quotedUDP6(f)), icmp6Error(f, 3, 0, quotedTCP6(f)), icmp6Error(f, 3, 0, quotedEcho6(f)),
		icmp6Error(f, 1, 4, quotedEcho6(f)[:48]), icmp6Error(f, 2, 0, quotedUDP6(f)[:30]),
		icmp6EchoMsg(f, 129, 1, 2, []byte("tokentok")),
		echoRequest(true, 1, 2, [echoTokenLen]byte{1}, "contact"),
		{}, {129}, {1, 0, 0, 0, 0, 0, 0, 0, 0x60}, []byte("garbage garbage garbage"),
	}
	for _, b := range seed4 {
		f.Add(b, false)
	}
	for _, b := range seed6 {
		f.Add(b, true)
	}
	f.Add(mustHex(f, realEchoReply4), false) // with the IP header: StripIPv4 path
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		check := func(b []byte, v6 bool) {
			r, err := ParseICMP(b, v6)
			if len(r.Data) > len(b) || len(r.Quoted.Payload) > len(b) {
				t.Fatalf("returned more bytes than given")
			}
			if err == nil && r.IsError() && (!r.Quoted.Src.IsValid() || !r.Quoted.Dst.IsValid()) {
				t.Fatalf("error message parsed without quoted addresses: %+v", r)
			}
			if err == nil && !r.IsError() && len(r.Data) != len(b)-8 {
				t.Fatalf("echo data is %d bytes of %d", len(r.Data), len(b))
			}
			_ = r.Name()
		}
		check(b, v6)
		if p, src, _, err := StripIPv4(b); err == nil {
			if !src.Is4() || len(p) > len(b)-20 {
				t.Fatalf("StripIPv4 gave src %v and %d of %d bytes", src, len(p), len(b))
			}
			check(p, false)
		}
		q, err := ParseQuoted(b, v6)
		if err == nil && len(q.Payload) > len(b) {
			t.Fatalf("quoted payload longer than input")
		}
	})
}
