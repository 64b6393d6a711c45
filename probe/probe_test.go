package probe

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"darkwatch/results"
)

// TestRegistry checks that every method is in the registry with a prober, that
// Methods is read from it, and that exactly icmp and tcp can sweep, with the
// IP protocol of their packets.
func TestRegistry(t *testing.T) {
	tests := []struct {
		method string
		sweep  bool
		proto  uint8 // of the sweep module
	}{
		{results.MethodICMP, true, protoICMP},
		{results.MethodTCP, true, protoTCP},
		{results.MethodTrace, false, 0},
		{results.MethodDNS, false, 0},
	}
	if len(modules) != len(tests) {
		t.Errorf("registry has %d methods, the test knows %d: add the new one here", len(modules), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			m, ok := modules[tc.method]
			if !ok || m.newProber == nil {
				t.Fatalf("method %q has no prober in the registry", tc.method)
			}
			if Methods[tc.method] == nil {
				t.Errorf("Methods[%q] is missing", tc.method)
			}
			if (m.sweep != nil) != tc.sweep {
				t.Fatalf("sweep module present = %v, want %v", m.sweep != nil, tc.sweep)
			}
			if tc.sweep && m.sweep.proto(false) != tc.proto {
				t.Errorf("sweep module proto = %d, want %d", m.sweep.proto(false), tc.proto)
			}
			if !tc.sweep {
				_, err := NewSweep(SweepConfig{Method: tc.method, Port: 80})
				if err == nil || !strings.Contains(err.Error(), "use icmp or tcp") {
					t.Errorf("NewSweep(%q) = %v, want a refusal naming icmp and tcp", tc.method, err)
				}
			}
		})
	}
	if got, want := SweepMethods(), []string{results.MethodICMP, results.MethodTCP}; !slices.Equal(got, want) {
		t.Errorf("SweepMethods() = %v, want %v", got, want)
	}
	if len(Methods) != len(modules) {
		t.Errorf("Methods has %d entries, the registry %d", len(Methods), len(modules))
	}
}

// TestConfigDefaults checks that WithDefaults fills the common and the
// per-method options, and keeps what is set.
func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.Count != DefaultCount || c.Timeout != DefaultTimeout || c.Proto != "icmp" || c.Contact != DefaultContact {
		t.Errorf("common defaults wrong: %+v", c)
	}
	if o := c.Trace; o.FirstTTL != 1 || o.MaxTTL != DefaultMaxTTL || o.GapLimit != DefaultGapLimit || o.Pace != nil {
		t.Errorf("trace defaults wrong: %+v", c.Trace)
	}
	c = Config{Trace: TraceOptions{FirstTTL: 3, MaxTTL: 9, GapLimit: 2}, ICMP: ICMPOptions{Unprivileged: true}}.WithDefaults()
	if c.Trace.FirstTTL != 3 || c.Trace.MaxTTL != 9 || c.Trace.GapLimit != 2 || !c.ICMP.Unprivileged {
		t.Errorf("set options lost: %+v", c)
	}
	for _, ttl := range []int{-1, 256} {
		if _, err := NewICMP(Config{TTL: ttl}); err == nil || !strings.Contains(err.Error(), "icmp: ttl") {
			t.Errorf("NewICMP with ttl %d: %v, want a refusal naming icmp", ttl, err)
		}
		if _, err := NewTCP(Config{TTL: ttl}); err == nil || !strings.Contains(err.Error(), "tcp: ttl") {
			t.Errorf("NewTCP with ttl %d: %v, want a refusal naming tcp", ttl, err)
		}
	}
}

// TestConfigCheck checks each refusal of Check, and that a method that has
// no trace options ignores them.
func TestConfigCheck(t *testing.T) {
	ok := Config{Count: 1, Proto: "icmp", Trace: TraceOptions{FirstTTL: 1, MaxTTL: 30}}
	for _, c := range []struct {
		name, method string
		edit         func(*Config)
		want         string // "" for no error
	}{
		{"fine", results.MethodTrace, func(*Config) {}, ""},
		{"count 0", results.MethodICMP, func(c *Config) { c.Count = 0 }, "count must be at least 1"},
		{"ttl 256", results.MethodTCP, func(c *Config) { c.TTL = 256 }, "tcp: ttl 256"},
		{"proto sctp", results.MethodTrace, func(c *Config) { c.Proto = "sctp" }, `proto "sctp"`},
		{"proto ignored", results.MethodICMP, func(c *Config) { c.Proto = "sctp" }, ""},
		{"first > max", results.MethodTrace, func(c *Config) { c.Trace.FirstTTL = 31 }, "first TTL 31 and max TTL 30"},
		{"max 256", results.MethodTrace, func(c *Config) { c.Trace.MaxTTL = 256 }, "max TTL 256"},
		{"first 0", results.MethodTrace, func(c *Config) { c.Trace.FirstTTL = 0 }, "first TTL 0"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Check(c.method)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Check = %v, want %q", c.name, err, c.want)
		}
	}
}

func mustHexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ipv4Example is the header of a UDP IPv4 packet (from
// 192.0.2.1 to 192.0.2.199, the documentation range), checksum b5b1.
const ipv4Example = "4500 0073 0000 4000 4011 b5b1 c000 0201 c000 02c7"

func TestChecksum(t *testing.T) {
	hdr := mustHexBytes(t, ipv4Example)
	zeroed := bytes.Clone(hdr)
	zeroed[10], zeroed[11] = 0, 0
	tests := []struct {
		name   string
		pseudo uint32
		b      []byte
		want   uint16
	}{
		{"RFC 1071 example", 0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"empty", 0, nil, 0xffff},
		{"odd length pads with zero", 0, []byte{0xff}, ^uint16(0xff00)},
		{"IPv4 header with its checksum verifies", 0, hdr, 0},
		{"IPv4 header without it", 0, zeroed, 0xb5b1},
		{"carry folds", 0, []byte{0xff, 0xff, 0x00, 0x01}, 0xfffe},
		{"pseudo-header sum counts", 0x0001, []byte{0x00, 0x01}, 0xfffd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checksum(tc.pseudo, tc.b); got != tc.want {
				t.Errorf("checksum = %#04x, want %#04x", got, tc.want)
			}
		})
	}
}

// TestChecksumTransport checks checksum over the pseudo-header against
// gopacket's, for TCP and UDP over IPv4 and IPv6.
func TestChecksumTransport(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		proto    layers.IPProtocol
	}{
		{"tcp4", synSrc4, synDst4, layers.IPProtocolTCP},
		{"tcp6", synSrc6, synDst6, layers.IPProtocolTCP},
		{"udp4", synSrc4, synDst4, layers.IPProtocolUDP},
		{"udp6", synSrc6, synDst6, layers.IPProtocolUDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l interface {
				gopacket.SerializableLayer
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}
			if tc.proto == layers.IPProtocolTCP {
				l = &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 7, SYN: true, Window: 1024}
			} else {
				l = &layers.UDP{SrcPort: 40000, DstPort: 53}
			}
			if err := l.SetNetworkLayerForChecksum(pseudoHeader(tc.src, tc.dst, tc.proto)); err != nil {
				t.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
			if err := gopacket.SerializeLayers(buf, opts, l, gopacket.Payload("darkwatch!")); err != nil {
				t.Fatal(err)
			}
			seg := buf.Bytes()
			if got := checksum(pseudoSum(tc.src, tc.dst, uint8(tc.proto), len(seg)), seg); got != 0 {
				t.Errorf("gopacket's segment does not verify: residue %#04x", got)
			}
			seg[len(seg)-1] ^= 1
			if got := checksum(pseudoSum(tc.src, tc.dst, uint8(tc.proto), len(seg)), seg); got == 0 {
				t.Error("a changed segment still verifies")
			}
		})
	}
}

// TestSetChecksum checks that the compensating word gives the wanted checksum.
func TestSetChecksum(t *testing.T) {
	for _, want := range []uint16{1, 0x1234, 0xfffe} {
		b := append([]byte{8, 0, 0, 0, 0xab, 0xcd, 0, 1, 0, 0}, "contact"...)
		setChecksum(b, 0, 2, 8, want)
		if got := checksum(0, b); got != 0 {
			t.Errorf("want %#04x: message does not verify (residue %#04x)", want, got)
		}
		if got := uint16(b[2])<<8 | uint16(b[3]); got != want {
			t.Errorf("checksum field = %#04x, want %#04x", got, want)
		}
	}
}

func TestParseIPv4(t *testing.T) {
	base := mustHexBytes(t, ipv4Example+" 0035 0035 000c 0000 6461 726b")
	withOpts := append(mustHexBytes(t, "4600 0077 4242 0000 3d06 0000 c000 0201 c000 02c7 0101 0101"), base[20:]...)
	later := bytes.Clone(base)
	later[6], later[7] = 0x00, 0x10 // offset 128 bytes
	firstMF := bytes.Clone(base)
	firstMF[6] = 0x20 // more fragments, offset 0
	badIHL := bytes.Clone(base)
	badIHL[0] = 0x44
	longIHL := bytes.Clone(base)
	longIHL[0] = 0x4f // 60 bytes, more than there is
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.199")
	tests := []struct {
		name    string
		b       []byte
		want    ipHeader
		payload int
		err     error
	}{
		{"plain", base, ipHeader{src: src, dst: dst, ttl: 0x40, proto: protoUDP}, 12, nil},
		{"with options", withOpts, ipHeader{src: src, dst: dst, ttl: 0x3d, proto: protoTCP, id: 0x4242}, 12, nil},
		{"later fragment", later, ipHeader{src: src, dst: dst, ttl: 0x40, proto: protoUDP, later: true}, 12, nil},
		{"first fragment", firstMF, ipHeader{src: src, dst: dst, ttl: 0x40, proto: protoUDP}, 12, nil},
		{"header only", base[:20], ipHeader{src: src, dst: dst, ttl: 0x40, proto: protoUDP}, 0, nil},
		{"empty", nil, ipHeader{}, 0, ErrShort},
		{"short", base[:19], ipHeader{}, 0, ErrShort},
		{"IPv6", ipv6Packet(t, synSrc6, synDst6, protoTCP, 64, base[20:]), ipHeader{}, 0, ErrNotIP},
		{"header length below 20", badIHL, ipHeader{}, 0, ErrShort},
		{"header length past the end", longIHL, ipHeader{}, 0, ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, p, err := parseIPv4(tc.b)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if h != tc.want || len(p) != tc.payload {
				t.Errorf("got %+v and %d payload bytes\nwant %+v and %d", h, len(p), tc.want, tc.payload)
			}
		})
	}
}

// TestPutIPv4 checks the IPv4 header the package writes against gopacket and
// against parseIPv4.
func TestPutIPv4(t *testing.T) {
	for _, df := range []bool{false, true} {
		h := ipHeader{src: synSrc4, dst: synDst4, ttl: 7, proto: protoTCP, id: 0xbeef}
		b := make([]byte, 48)
		putIPv4(b, h, len(b), df)
		if checksum(0, b[:ipv4Len]) != 0 {
			t.Errorf("df=%v: header checksum does not verify", df)
		}
		got, p, err := parseIPv4(b)
		if err != nil || got != h || len(p) != len(b)-ipv4Len {
			t.Errorf("df=%v: parsed %+v, %d, %v; want %+v", df, got, len(p), err, h)
		}
		ip, _ := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default).Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil || ip.Length != 48 || ip.TTL != 7 || ip.Id != 0xbeef || (ip.Flags&layers.IPv4DontFragment != 0) != df {
			t.Errorf("df=%v: gopacket reads %+v", df, ip)
		}
	}
}

// FuzzParseIPv4 feeds the one IPv4 header parser arbitrary bytes: it must not
// panic, and what it accepts must hold a whole header and write back alike.
func FuzzParseIPv4(f *testing.F) {
	f.Add(mustHexBytes(f, ipv4Example))
	f.Add(mustHexBytes(f, "4600 0077 4242 0000 3d06 0000 c000 0201 c000 02c7 0101 0101"))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := parseIPv4(b)
		if err != nil {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if len(p) != len(b)-ihl || ihl < ipv4Len {
			t.Fatalf("payload of %d bytes from %d with header length %d", len(p), len(b), ihl)
		}
		out := make([]byte, ipv4Len)
		putIPv4(out, h, len(b), false)
		if back, _, err := parseIPv4(out); err != nil || back.src != h.src || back.dst != h.dst || back.proto != h.proto || back.ttl != h.ttl || back.id != h.id {
			t.Fatalf("written back as %+v (%v), read %+v", back, err, h)
		}
	})
}
