package probe

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
)

var (
	sweepSrc = netip.MustParseAddr("192.0.2.10")
	sweepDst = netip.MustParseAddr("198.18.3.4")
	sweepKey = KeyFromBytes([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
)

func fixedBuilder(method string) *ProbeBuilder {
	epoch := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	b := &ProbeBuilder{now: func() time.Time { return epoch.Add(1500 * time.Microsecond) }}
	b.Init(SweepConfig{Method: method, Port: 80, Contact: "darkwatch test"}, sweepKey, sweepSrc, epoch)
	return b
}

// TestSweepProbeGolden pins the bytes of both sweep probes and checks that
// gopacket decodes them with correct checksums.
func TestSweepProbeGolden(t *testing.T) {
	for _, method := range []string{results.MethodICMP, results.MethodTCP} {
		t.Run(method, func(t *testing.T) {
			buf := make([]byte, 128)
			n := fixedBuilder(method).Build(buf, sweepDst)
			got := buf[:n]
			testenv.Golden(t, "sweep_"+method+".golden", got)
			pkt := gopacket.NewPacket(got, layers.LayerTypeIPv4, gopacket.Default)
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if ip == nil || ip.SrcIP.String() != sweepSrc.String() || ip.DstIP.String() != sweepDst.String() || ip.TTL != 64 {
				t.Fatalf("IPv4 header wrong: %v", pkt)
			}
			if checksum(0, got[:20]) != 0 {
				t.Error("IPv4 header checksum does not verify")
			}
			if method == results.MethodTCP {
				tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if tcp == nil || !tcp.SYN || tcp.ACK || tcp.DstPort != 80 {
					t.Fatalf("not a SYN to port 80: %v", pkt)
				}
				if checksum(pseudoSum(sweepSrc, sweepDst, protoTCP, len(got)-20), got[20:]) != 0 {
					t.Error("TCP checksum does not verify")
				}
			} else {
				ic, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
				if ic == nil || ic.TypeCode.Type() != layers.ICMPv4TypeEchoRequest {
					t.Fatalf("not an echo request: %v", pkt)
				}
				if checksum(0, got[20:]) != 0 {
					t.Error("ICMP checksum does not verify")
				}
			}
		})
	}
}

// reply turns a probe into the reply a target would send: addresses swapped,
// ICMP type echo-reply, or TCP flags with ack = seq+1.
func reply(probe []byte, flags byte) []byte {
	r := append([]byte(nil), probe...)
	copy(r[12:16], probe[16:20])
	copy(r[16:20], probe[12:16])
	r[8] = 61
	if r[9] == protoICMP {
		r[20] = icmp4EchoReply
		return r
	}
	answerSYN(r[20:], probe[20:], flags)
	return r
}

// answerSYN makes r, a copy of the TCP header syn, the header of its answer:
// ports swapped, flags set, ack = seq+1.
func answerSYN(r, syn []byte, flags byte) {
	copy(r[0:2], syn[2:4])
	copy(r[2:4], syn[0:2])
	binary.BigEndian.PutUint32(r[8:12], binary.BigEndian.Uint32(syn[4:8])+1)
	r[13] = flags
}

func TestSweepValidate(t *testing.T) {
	buf := make([]byte, 128)
	icmpProbe := append([]byte(nil), buf[:fixedBuilder(results.MethodICMP).Build(buf, sweepDst)]...)
	tcpProbe := append([]byte(nil), buf[:fixedBuilder(results.MethodTCP).Build(buf, sweepDst)]...)
	other := &ProbeBuilder{}
	other.Init(SweepConfig{Method: results.MethodTCP, Port: 80}, KeyFromBytes([16]byte{9}), sweepSrc, time.Now())

	mutate := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	tests := []struct {
		name    string
		method  string
		pkt     []byte
		outcome string // "" = rejected
	}{
		{"echo reply", results.MethodICMP, reply(icmpProbe, 0), results.OutcomeReply},
		{"syn-ack", results.MethodTCP, reply(tcpProbe, 0x12), results.OutcomeOpen},
		{"rst-ack", results.MethodTCP, reply(tcpProbe, 0x14), results.OutcomeClosed},
		{"our own probe seen on the wire", results.MethodICMP, icmpProbe, ""},
		{"echo reply from someone else", results.MethodICMP, mutate(reply(icmpProbe, 0), func(b []byte) { b[15]++ }), ""},
		{"echo reply with another id", results.MethodICMP, mutate(reply(icmpProbe, 0), func(b []byte) { b[24]++ }), ""},
		{"echo reply to another host", results.MethodICMP, mutate(reply(icmpProbe, 0), func(b []byte) { b[19]++ }), ""},
		{"syn-ack with wrong ack", results.MethodTCP, mutate(reply(tcpProbe, 0x12), func(b []byte) { b[31]++ }), ""},
		{"syn-ack to another port", results.MethodTCP, mutate(reply(tcpProbe, 0x12), func(b []byte) { b[23]++ }), ""},
		{"syn-ack from another port", results.MethodTCP, mutate(reply(tcpProbe, 0x12), func(b []byte) { b[21]++ }), ""},
		{"bare syn", results.MethodTCP, reply(tcpProbe, 0x02), ""},
		{"tcp reply to an icmp sweep", results.MethodICMP, reply(tcpProbe, 0x12), ""},
		{"truncated", results.MethodTCP, reply(tcpProbe, 0x12)[:30], ""},
		{"not ipv4", results.MethodICMP, mutate(reply(icmpProbe, 0), func(b []byte) { b[0] = 0x65 }), ""},
		{"empty", results.MethodICMP, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := fixedBuilder(tt.method).Validate(tt.pkt)
			if ok != (tt.outcome != "") || r.Outcome != tt.outcome && ok {
				t.Fatalf("Validate = %+v, %v; want outcome %q", r, ok, tt.outcome)
			}
			if ok && (r.From != sweepDst || r.TTL != 61) {
				t.Fatalf("reply from %s ttl %d", r.From, r.TTL)
			}
		})
	}
	if _, ok := other.Validate(reply(tcpProbe, 0x12)); ok {
		t.Error("a prober with another key accepted our reply")
	}
	if r, ok := fixedBuilder(results.MethodICMP).Validate(reply(icmpProbe, 0)); !ok || r.SentNanos != int64(1500*time.Microsecond) {
		t.Errorf("send time not recovered from the echo: %+v", r)
	}
}

func FuzzSweepValidate(f *testing.F) {
	buf := make([]byte, 128)
	f.Add(append([]byte(nil), buf[:fixedBuilder(results.MethodICMP).Build(buf, sweepDst)]...), false)
	p := append([]byte(nil), buf[:fixedBuilder(results.MethodTCP).Build(buf, sweepDst)]...)
	f.Add(reply(p, 0x12), true)
	f.Add(reply(p, 0x14)[:25], true)
	f.Add([]byte{0x4f, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		m := results.MethodICMP
		if tcp {
			m = results.MethodTCP
		}
		fixedBuilder(m).Validate(pkt)
	})
}

// BenchmarkSweepBuildValidate measures one probe built and one reply validated.
func BenchmarkSweepBuildValidate(b *testing.B) {
	for _, method := range []string{results.MethodICMP, results.MethodTCP} {
		b.Run(method, func(b *testing.B) {
			pb := &ProbeBuilder{}
			pb.Init(SweepConfig{Method: method, Port: 80, Contact: "darkwatch benchmark"}, sweepKey, sweepSrc, time.Now())
			buf := make([]byte, 128)
			n := pb.Build(buf, sweepDst)
			rep := reply(buf[:n], 0x12)
			dst := sweepDst
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				pb.Build(buf, dst)
				if _, ok := pb.Validate(rep); !ok {
					b.Fatal("reply rejected")
				}
			}
		})
	}
}

// TestSweepLoopback sweeps 254 loopback addresses for real with both methods.
func TestSweepLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.Missing(t, "raw sockets need CAP_NET_RAW: run the tests as root (CI does)")
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	prefix := netip.MustParsePrefix("127.0.1.0/24")
	for _, method := range []string{results.MethodICMP, results.MethodTCP} {
		t.Run(method, func(t *testing.T) {
			s, err := NewSweep(SweepConfig{Method: method, Port: port, Cooldown: 300 * time.Millisecond, Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pass := func() AddrIter {
				a := prefix.Addr().Next()
				return func() (netip.Addr, bool) {
					if a.As4()[3] == 255 {
						return a, false
					}
					r := a
					a = a.Next()
					return r, true
				}
			}
			var mu sync.Mutex
			got := map[netip.Addr]string{}
			st, err := s.Run(nil, pass, func(r results.Record) {
				mu.Lock()
				got[netip.MustParseAddr(r.Target)] = r.Outcome
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			want := results.OutcomeReply
			if method == results.MethodTCP {
				want = results.OutcomeOpen
			}
			if st.Sent != 2*254 || st.Hits != 254 || len(got) != 254 || st.Duplicates != 254 {
				t.Fatalf("sent %d hits %d records %d dups %d; want 508, 254, 254, 254", st.Sent, st.Hits, len(got), st.Duplicates)
			}
			for a, o := range got {
				if o != want || !s.Answered(a) {
					t.Fatalf("%s: %s, answered=%v", a, o, s.Answered(a))
				}
			}
		})
	}
}
