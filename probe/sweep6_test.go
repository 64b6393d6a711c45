package probe

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

var (
	sweepSrc6 = netip.MustParseAddr("2001:db8:a:1::2")
	sweepDst6 = netip.MustParseAddr("2001:db8:1::1234")
)

// fixedBuilder6 is fixedBuilder from an IPv6 source.
func fixedBuilder6(method string) *ProbeBuilder {
	b := fixedBuilder(method)
	b.Init(SweepConfig{Method: method, Port: 80, Contact: "darkwatch test"}, sweepKey, sweepSrc6, b.epoch)
	return b
}

// reply6 turns an IPv6 probe (no IP header) into the payload of the reply a
// target would send: ICMPv6 echo reply, or TCP flags with ack = seq+1.
func reply6(probe []byte, tcp bool, flags byte) []byte {
	r := append([]byte(nil), probe...)
	if !tcp {
		r[0] = icmp6EchoReply
		return r
	}
	answerSYN(r, probe, flags)
	return r
}

func TestSweepValidate6(t *testing.T) {
	buf := make([]byte, 128)
	icmpProbe := append([]byte(nil), buf[:fixedBuilder6(results.MethodICMP).Build(buf, sweepDst6)]...)
	tcpProbe := append([]byte(nil), buf[:fixedBuilder6(results.MethodTCP).Build(buf, sweepDst6)]...)
	if icmpProbe[0] != icmp6Echo || len(icmpProbe) != 8+8+len("darkwatch test") {
		t.Fatalf("ICMPv6 probe = % x, want an echo request with stamp and contact", icmpProbe)
	}
	if checksum(pseudoSum(sweepSrc6, sweepDst6, protoTCP, len(tcpProbe)), tcpProbe) != 0 {
		t.Error("TCP checksum over the IPv6 pseudo-header does not verify")
	}
	mutate := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	other := netip.MustParseAddr("2001:db8:1::1235")
	tests := []struct {
		name    string
		method  string
		pkt     []byte
		from    netip.Addr
		outcome string // "" = rejected
	}{
		{"echo reply", results.MethodICMP, reply6(icmpProbe, false, 0), sweepDst6, results.OutcomeReply},
		{"syn-ack", results.MethodTCP, reply6(tcpProbe, true, 0x12), sweepDst6, results.OutcomeOpen},
		{"rst-ack", results.MethodTCP, reply6(tcpProbe, true, 0x14), sweepDst6, results.OutcomeClosed},
		{"our own probe", results.MethodICMP, icmpProbe, sweepDst6, ""},
		{"echo reply from someone else", results.MethodICMP, reply6(icmpProbe, false, 0), other, ""},
		{"echo reply with another id", results.MethodICMP, mutate(reply6(icmpProbe, false, 0), func(b []byte) { b[4]++ }), sweepDst6, ""},
		{"an IPv4 echo reply type", results.MethodICMP, mutate(reply6(icmpProbe, false, 0), func(b []byte) { b[0] = icmp4EchoReply }), sweepDst6, ""},
		{"syn-ack with wrong ack", results.MethodTCP, mutate(reply6(tcpProbe, true, 0x12), func(b []byte) { b[11]++ }), sweepDst6, ""},
		{"syn-ack from another host", results.MethodTCP, reply6(tcpProbe, true, 0x12), other, ""},
		{"bare syn", results.MethodTCP, reply6(tcpProbe, true, 0x02), sweepDst6, ""},
		{"from an IPv4 address", results.MethodICMP, reply6(icmpProbe, false, 0), sweepSrc, ""},
		{"truncated", results.MethodTCP, reply6(tcpProbe, true, 0x12)[:12], sweepDst6, ""},
		{"empty", results.MethodICMP, nil, sweepDst6, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := fixedBuilder6(tt.method).Validate6(tt.pkt, tt.from, 61)
			if ok != (tt.outcome != "") || r.Outcome != tt.outcome && ok {
				t.Fatalf("Validate6 = %+v, %v; want outcome %q", r, ok, tt.outcome)
			}
			if ok && (r.From != sweepDst6 || r.TTL != 61) {
				t.Fatalf("reply from %s hop limit %d", r.From, r.TTL)
			}
		})
	}
	if _, ok := fixedBuilder(results.MethodICMP).Validate6(reply6(icmpProbe, false, 0), sweepDst6, 61); ok {
		t.Error("an IPv4 builder accepted an IPv6 reply")
	}
	if r, ok := fixedBuilder6(results.MethodICMP).Validate6(reply6(icmpProbe, false, 0), sweepDst6, 61); !ok || r.SentNanos != int64(1500*time.Microsecond) {
		t.Errorf("send time not recovered from the echo: %+v", r)
	}
}

func FuzzSweepValidate6(f *testing.F) {
	buf := make([]byte, 128)
	f.Add(reply6(buf[:fixedBuilder6(results.MethodICMP).Build(buf, sweepDst6)], false, 0), false, 64)
	f.Add(reply6(buf[:fixedBuilder6(results.MethodTCP).Build(buf, sweepDst6)], true, 0x12), true, 300)
	f.Add([]byte{129, 0}, false, -1)
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool, hopLimit int) {
		m := results.MethodICMP
		if tcp {
			m = results.MethodTCP
		}
		fixedBuilder6(m).Validate6(pkt, sweepDst6, hopLimit)
	})
}

// TestSweepLoopback6 sweeps ::1 for real with both methods, twice each, so
// that the IPv6 socket, the keyed hash over IPv6 addresses and the duplicate
// count are exercised end to end.
func TestSweepLoopback6(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.Missing(t, "raw sockets need CAP_NET_RAW: run the tests as root (CI does)")
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		lab.Missing(t, "no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	lo := netip.IPv6Loopback()
	for _, tc := range []struct{ method, want string }{
		{results.MethodICMP, results.OutcomeReply}, {results.MethodTCP, results.OutcomeOpen},
	} {
		t.Run(tc.method, func(t *testing.T) {
			s, err := NewSweep(SweepConfig{Method: tc.method, Port: port, Cooldown: 300 * time.Millisecond, Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pass := func() AddrIter {
				sent := false
				return func() (netip.Addr, bool) { ok := !sent; sent = true; return lo, ok }
			}
			var mu sync.Mutex
			var got []results.Record
			st, err := s.Run(nil, pass, func(r results.Record) { mu.Lock(); got = append(got, r); mu.Unlock() })
			if err != nil {
				t.Fatal(err)
			}
			if st.Sent != 2 || st.Hits != 1 || st.Duplicates != 1 || len(got) != 1 {
				t.Fatalf("sent %d hits %d dups %d records %d; want 2, 1, 1, 1", st.Sent, st.Hits, st.Duplicates, len(got))
			}
			if r := got[0]; r.Target != "::1" || r.Outcome != tc.want || r.ReplyTTL != 64 || !s.Answered(lo) {
				t.Fatalf("record %+v, answered=%v; want %s from ::1 with hop limit 64", r, s.Answered(lo), tc.want)
			}
		})
	}
}

// BenchmarkSweepBuildValidate6 measures one IPv6 probe built and one reply
// validated; neither may allocate.
func BenchmarkSweepBuildValidate6(b *testing.B) {
	for _, method := range []string{results.MethodICMP, results.MethodTCP} {
		b.Run(method, func(b *testing.B) {
			pb := fixedBuilder6(method)
			buf := make([]byte, 128)
			rep := reply6(buf[:pb.Build(buf, sweepDst6)], method == results.MethodTCP, 0x12)
			b.ReportAllocs()
			for b.Loop() {
				pb.Build(buf, sweepDst6)
				if _, ok := pb.Validate6(rep, sweepDst6, 61); !ok {
					b.Fatal("reply rejected")
				}
			}
		})
	}
}

// TestSweepLoopbackMixed sweeps IPv4 and IPv6 loopback addresses in one
// pass: each family learns its own source and validates its own replies.
func TestSweepLoopbackMixed(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.Missing(t, "raw sockets need CAP_NET_RAW: run the tests as root (CI does)")
	}
	targets := []netip.Addr{netip.MustParseAddr("127.0.1.1"), netip.IPv6Loopback(), netip.MustParseAddr("127.0.1.2"),
		netip.MustParseAddr("127.0.1.3")}
	s, err := NewSweep(SweepConfig{Method: results.MethodICMP, Cooldown: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pass := func() AddrIter {
		i := 0
		return func() (netip.Addr, bool) {
			if i == len(targets) {
				return netip.Addr{}, false
			}
			i++
			return targets[i-1], true
		}
	}
	var mu sync.Mutex
	got := map[string]string{}
	st, err := s.Run(nil, pass, func(r results.Record) { mu.Lock(); got[r.Target] = r.Outcome; mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 4 || st.Hits != 4 || len(got) != 4 {
		t.Fatalf("sent %d hits %d records %v; want 4, 4 and a reply from each", st.Sent, st.Hits, got)
	}
	for _, a := range targets {
		if got[a.String()] != results.OutcomeReply || !s.Answered(a) {
			t.Errorf("%s: %q, answered=%v; want a reply", a, got[a.String()], s.Answered(a))
		}
	}
}
