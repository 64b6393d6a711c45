package results

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// packVantage is the vantage point the pack tests give decoded records.
const packVantage = "vp-pack"

// packT0 is when the pack tests' records begin, in a zone other than UTC so
// that decoding into UTC shows.
var packT0 = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.FixedZone("CET", 3600))

// packCases are chunks of records that, among them, set every field.
func packCases() []struct {
	name string
	recs []Record
} {
	at := func(d time.Duration) time.Time { return packT0.Add(d) }
	return []struct {
		name string
		recs []Record
	}{
		{"none", nil},
		{"empty", []Record{}},
		{"single", []Record{
			{Time: at(0), Round: 7, Method: MethodICMP, Target: "198.18.0.1", Seq: 1,
				Outcome: OutcomeTimeout},
		}},
		{"targets that are not written as netip writes addresses", []Record{
			{Time: at(0), Method: MethodDNS, Target: "2001:DB8::53", Outcome: OutcomeReply},
			{Time: at(1), Method: MethodDNS, Target: "2001:db8:0:0::53", Outcome: OutcomeReply},
			{Time: at(2), Method: MethodICMP, Target: "2001:db8::1%lab0", Outcome: OutcomeReply},
			{Time: at(3), Method: MethodICMP, Target: "::ffff:198.18.0.1", Outcome: OutcomeReply},
			{Time: at(4), Method: MethodDNS, Target: "ns1.dw.example.", Outcome: OutcomeReply},
			{Time: at(5), Method: "quic", Target: "", Outcome: "reset"},
		}},
		{"icmp and tcp", []Record{
			{Time: at(0), Round: 12, Method: MethodICMP, Target: "198.18.3.4", Seq: 1,
				Outcome: OutcomeReply, RTTms: 12.75, ReplyTTL: 57},
			{Time: at(time.Millisecond), Round: 12, Method: MethodICMP, Target: "2001:db8::7", Seq: 2,
				Outcome: OutcomeUnreachable, ICMP: "dest-unreachable/admin"},
			{Time: at(2 * time.Millisecond), Round: 12, Method: MethodICMP, Target: "198.18.3.5", Seq: 3,
				Outcome: OutcomeUnreachable, ICMP: "icmp-42/7"},
			{Time: at(3 * time.Millisecond), Round: 12, Method: MethodTCP, Target: "198.18.3.6", Port: 443,
				Seq: 2, Outcome: OutcomeOpen, RTTms: 0.001, ReplyTTL: 250, ICMP: "syn-ack"},
			{Time: at(4 * time.Millisecond), Round: 12, Method: MethodTCP, Target: "198.18.3.7", Port: 65535,
				Outcome: OutcomeClosed, RTTms: math.Copysign(0, -1), ICMP: "rst"},
			{Time: at(5 * time.Millisecond), Round: 12, Method: "icmp-ext", Target: "198.18.3.8",
				Outcome: "lost-in-space", RTTms: math.Inf(1), ReplyTTL: -1},
		}},
		{"traces", []Record{
			{Time: at(0), Round: 3, Method: MethodTrace, Target: "198.51.100.9", Proto: "icmp",
				Outcome: OutcomeReply, RTTms: 14.2, Reached: Bool(true), Hops: []Hop{
					{TTL: 1, Addr: "192.0.2.1", RTTms: 0.375, ICMP: "time-exceeded"},
					{TTL: 2},
					{TTL: 3, Addr: "203.0.113.5"},
					{TTL: 4, Addr: "198.51.100.9", RTTms: 14.2, ICMP: "echo-reply"},
				}},
			{Time: at(time.Second), Round: 3, Method: MethodTrace, Target: "198.18.7.7", Proto: "udp",
				Port: 33434, Outcome: OutcomeTimeout, Reached: Bool(false), Hops: []Hop{}},
			{Time: at(2 * time.Second), Round: 3, Method: MethodTrace, Target: "2001:db8::1", Proto: "tcp",
				Port: 80, Outcome: OutcomeUnreachable, ICMP: "dest-unreachable/port",
				Hops: []Hop{{TTL: -3, ICMP: "weird"}, {TTL: 300, RTTms: 1e-9}}},
			{Time: at(3 * time.Second), Round: 3, Method: MethodTrace, Target: "198.18.7.8", Proto: "icmp",
				Outcome: OutcomeError, Error: "not sent"},
		}},
		{"dns", []Record{
			{Time: at(0), Round: 1, Method: MethodDNS, Target: "192.0.2.53", Port: 53,
				Outcome: OutcomeReply, RTTms: 31.5, Qname: "kp.", Qtype: "SOA", Rcode: "NOERROR",
				AA: Bool(true), Answers: Int(1)},
			{Time: at(time.Second), Round: 1, Method: MethodDNS, Target: "192.0.2.54", Port: 53,
				Outcome: OutcomeReply, Qname: "nope.example.", Qtype: "AAAA", Rcode: "NXDOMAIN",
				AA: Bool(false), Answers: Int(0)},
			{Time: at(2 * time.Second), Round: 1, Method: MethodDNS, Target: "2001:db8::53", Port: 5353,
				Outcome: OutcomeReply, Qname: "big.example.", Qtype: "TYPE65280", Rcode: "RCODE23",
				Answers: Int(-2)},
			{Time: at(3 * time.Second), Round: 1, Method: MethodDNS, Target: "192.0.2.55", Port: 53,
				Outcome: OutcomeTimeout, Qname: "kp.", Qtype: "NS"},
		}},
		{"dns answers", []Record{
			{Time: at(0), Round: 2, Method: MethodDNS, Target: "192.0.2.53", Port: 53, Source: "192.0.2.7",
				Outcome: OutcomeReply, RTTms: 1.25, Qname: "dw.example.", Qtype: "SOA", Rcode: "NOERROR",
				AA: Bool(true), Answers: Int(1), Serial: Uint32(math.MaxUint32), NSID: "6e7331",
				Answer: []RR{{Name: "dw.example.", Type: "SOA", TTL: 300,
					Data: "ns.dw.example. admin.dw.example. 4294967295 3600 600 86400 300"}}},
			{Time: at(time.Second), Round: 2, Method: MethodDNS, Target: "2001:db8::53", Port: 53,
				Source: "2001:db8::7", Outcome: OutcomeReply, Qname: "hostname.bind.", Qtype: "TXT",
				Rcode: "NOERROR", Answers: Int(2), Answer: []RR{
					{Name: "hostname.bind.", Type: "TXT", Class: "CH", Data: `"ns1.dw.example"`},
					{Name: "x.", Type: "TYPE65280", Class: "CLASS9", TTL: 1, Data: `\# 2 abcd`},
				}},
			{Time: at(2 * time.Second), Round: 2, Method: MethodDNS, Target: "192.0.2.54", Port: 53,
				Source: "not an address", Outcome: OutcomeReply, Rcode: "NXDOMAIN", Answers: Int(0),
				Answer: []RR{}, Serial: Uint32(0)},
		}},
		{"odd values", []Record{
			{Time: at(0), Round: -1, Method: MethodICMP, Target: "198.18.255.255", Seq: -5,
				Outcome: OutcomeError, Error: "échec: réseau injoignable — ネットワーク 🚫"},
			{Time: time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC), Round: math.MinInt64, Method: MethodICMP,
				Target: "198.19.0.0", Seq: math.MaxInt, Outcome: OutcomeTimeout},
			{Time: time.Unix(0, math.MinInt64), Round: math.MaxInt64, Method: MethodTCP,
				Target: "203.0.113.1", Port: math.MinInt, Outcome: OutcomeTimeout},
			{Time: time.Unix(0, math.MaxInt64), Method: MethodICMP, Target: "198.18.0.0",
				Outcome: OutcomeTimeout, Error: string(make([]byte, 300))},
			{Time: at(-time.Hour), Method: MethodICMP, Target: "198.18.0.2", Outcome: OutcomeReply,
				RTTms: math.MaxFloat64, ReplyTTL: math.MinInt},
		}},
	}
}

// allPackRecords are the records of every pack case, as one chunk.
func allPackRecords() []Record {
	var all []Record
	for _, c := range packCases() {
		all = append(all, c.recs...)
	}
	return all
}

// unpackAll decodes data, keeping a copy of each record.
func unpackAll(data []byte) ([]Record, error) {
	var got []Record
	err := UnpackRecords(data, packVantage, func(r *Record) error {
		got = append(got, *r)
		return nil
	})
	return got, err
}

// checkUnpacked fails t unless got are want with the vantage point set and
// their times the same instants in UTC.
func checkUnpacked(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		w.Vantage = packVantage
		if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC {
			t.Errorf("record %d: time %v, want %v in UTC", i, g.Time, w.Time)
		}
		g.Time = w.Time
		if !reflect.DeepEqual(g, w) || math.Float64bits(g.RTTms) != math.Float64bits(w.RTTms) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestPackRecordsRoundTrip(t *testing.T) {
	cases := packCases()
	cases = append(cases, struct {
		name string
		recs []Record
	}{"all", allPackRecords()})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := PackRecords(nil, c.recs)
			n, err := PackedCount(data)
			if err != nil || n != len(c.recs) {
				t.Errorf("PackedCount = %d, %v; want %d", n, err, len(c.recs))
			}
			got, err := unpackAll(data)
			if err != nil {
				t.Fatal(err)
			}
			checkUnpacked(t, got, c.recs)
		})
	}
}

func TestPackRecordsAppends(t *testing.T) {
	recs := allPackRecords()
	prefix := []byte("head")
	data := PackRecords(slices.Clone(prefix), recs)
	if string(data[:len(prefix)]) != string(prefix) {
		t.Fatalf("PackRecords overwrote dst: %q", data[:len(prefix)])
	}
	if want := PackRecords(nil, recs); string(data[len(prefix):]) != string(want) {
		t.Errorf("PackRecords after a prefix differs")
	}
}

// TestUnpackRecordsOwnsMemory checks that decoded records share nothing with
// the chunk or with each other.
func TestUnpackRecordsOwnsMemory(t *testing.T) {
	recs := allPackRecords()
	data := PackRecords(nil, recs)
	got, err := unpackAll(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0xff
	}
	checkUnpacked(t, got, recs)
	owner := make(map[any]int)
	own := func(i int, p any) {
		if j, ok := owner[p]; ok {
			t.Errorf("records %d and %d share %T %p", j, i, p, p)
		}
		owner[p] = i
	}
	for i, r := range got {
		if r.Reached != nil {
			own(i, r.Reached)
		}
		if r.AA != nil {
			own(i, r.AA)
		}
		if r.Answers != nil {
			own(i, r.Answers)
		}
		if len(r.Hops) > 0 {
			own(i, &r.Hops[0])
		}
		if len(r.Answer) > 0 {
			own(i, &r.Answer[0])
		}
		if r.Serial != nil {
			own(i, r.Serial)
		}
	}
}

func TestUnpackRecordsCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := UnpackRecords(PackRecords(nil, allPackRecords()), packVantage, func(*Record) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("UnpackRecords = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestUnpackRecordsTruncated(t *testing.T) {
	data := PackRecords(nil, allPackRecords())
	for n := range len(data) {
		if _, err := unpackAll(data[:n]); !errors.Is(err, ErrBadPacked) {
			t.Fatalf("%d of %d bytes: err = %v, want ErrBadPacked", n, len(data), err)
		}
	}
}

func TestUnpackRecordsCorrupt(t *testing.T) {
	recs := allPackRecords()
	valid := PackRecords(nil, recs)
	// withCount is valid with its count replaced by n.
	withCount := func(n uint64) []byte {
		var c chunkReader
		c.b = valid[1:]
		c.uvarint()
		return append(binary.AppendUvarint([]byte{chunkVersion}, n), c.b...)
	}
	// one is a chunk of a single record with flags f, round 0 and empty
	// method, target and outcome, followed by rest.
	one := func(f uint64, rest ...byte) []byte {
		b := binary.AppendUvarint([]byte{chunkVersion, 1, 0}, f)
		return append(append(b, 0, 0, 0, 0), rest...)
	}
	if _, err := unpackAll(one(0)); err != nil {
		t.Fatalf("a minimal record: %v", err)
	}
	for _, c := range []struct {
		name      string
		data      []byte
		countFail bool // PackedCount refuses it too
	}{
		{"empty", nil, true},
		{"trailing byte", append(slices.Clone(valid), 0), false},
		{"trailing record", append(slices.Clone(valid), valid[2:]...), false},
		{"version 0", append([]byte{0}, valid[1:]...), true},
		{"version 2", append([]byte{2}, valid[1:]...), true},
		{"one more record", withCount(uint64(len(recs) + 1)), false},
		{"one fewer record", withCount(uint64(len(recs) - 1)), false},
		{"huge count", withCount(math.MaxUint64), true},
		{"count past bytes", withCount(uint64(len(valid))), true},
		{"overlong varint", []byte{chunkVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, true},
		{"unknown flag", one(packAll + 1), false},
		{"reached without set", one(packReached), false},
		{"aa without set", one(packAA), false},
		{"huge string", append([]byte{chunkVersion, 1, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0), false},
		{"huge hop count", one(packHops, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), false},
		{"hop count past bytes", one(packHops, 3, 0, 0, 0, 0, 0), false},
		{"unknown hop flag", one(packHops, 1, hopAll+1, 0), false},
		{"short float", one(packRTT, 1, 2, 3, 4, 5, 6, 7), false},
		{"rr count past bytes", one(packAnswer, 2, 0, 0, 0, 0, 0), false},
		{"huge rr ttl", one(packAnswer, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0), false},
		{"huge serial", one(packSerial, 0x80, 0x80, 0x80, 0x80, 0x10), false},
		{"short nsid", one(packNSID, 4, 'a'), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := unpackAll(c.data); !errors.Is(err, ErrBadPacked) {
				t.Errorf("unpack: err = %v, want ErrBadPacked", err)
			}
			if _, err := PackedCount(c.data); c.countFail != errors.Is(err, ErrBadPacked) {
				t.Errorf("PackedCount: err = %v, want ErrBadPacked %v", err, c.countFail)
			}
		})
	}
}

// TestUnpackRecordsAllocs checks that decoding an ICMP record allocates only
// its target, and that packing into a big enough buffer allocates nothing.
func TestUnpackRecordsAllocs(t *testing.T) {
	recs := packBenchRecords(1000)
	recs = slices.DeleteFunc(recs, func(r Record) bool { return r.Method != MethodICMP })
	data := PackRecords(nil, recs)
	buf := make([]byte, 0, 2*len(data))
	if n := testing.AllocsPerRun(10, func() { PackRecords(buf[:0], recs) }); n != 0 {
		t.Errorf("PackRecords: %v allocations, want 0", n)
	}
	n := testing.AllocsPerRun(10, func() {
		if err := UnpackRecords(data, packVantage, func(*Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if limit := float64(len(recs) + 1); n > limit {
		t.Errorf("UnpackRecords of %d ICMP records: %v allocations, want at most %v", len(recs), n, limit)
	}
}

// packFloatBits lists the bits of every RTT in recs, of records and hops.
func packFloatBits(recs []Record) []uint64 {
	var bits []uint64
	for _, r := range recs {
		bits = append(bits, math.Float64bits(r.RTTms))
		for _, h := range r.Hops {
			bits = append(bits, math.Float64bits(h.RTTms))
		}
	}
	return bits
}

// withoutRTTs is a copy of recs with every RTT zero, sharing no hops with it.
func withoutRTTs(recs []Record) []Record {
	recs = slices.Clone(recs)
	for i := range recs {
		recs[i].RTTms = 0
		recs[i].Hops = slices.Clone(recs[i].Hops)
		for j := range recs[i].Hops {
			recs[i].Hops[j].RTTms = 0
		}
	}
	return recs
}

// samePacked reports whether a and b are deeply equal, RTTs compared by their
// bits, so that NaNs equal themselves.
func samePacked(a, b []Record) bool {
	return slices.Equal(packFloatBits(a), packFloatBits(b)) && reflect.DeepEqual(withoutRTTs(a), withoutRTTs(b))
}

func FuzzUnpackRecords(f *testing.F) {
	for _, c := range packCases() {
		f.Add(PackRecords(nil, c.recs))
	}
	f.Add(PackRecords(nil, packBenchRecords(200)))
	f.Add([]byte{})
	f.Add([]byte{chunkVersion, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := unpackAll(data)
		n, cerr := PackedCount(data)
		if err != nil {
			if !errors.Is(err, ErrBadPacked) {
				t.Fatalf("error %v does not wrap ErrBadPacked", err)
			}
			return
		}
		if cerr != nil || n != len(got) {
			t.Fatalf("PackedCount = %d, %v; decoded %d records", n, cerr, len(got))
		}
		again, err := unpackAll(PackRecords(nil, got))
		if err != nil {
			t.Fatalf("repacked chunk: %v", err)
		}
		if !samePacked(got, again) {
			t.Fatalf("repacked records differ:\n got %+v\nwant %+v", again, got)
		}
	})
}

// packBenchRecords makes n records like one vantage point's sweep of
// 198.18.0.0/15: mostly ICMP echoes, two thirds answered, with 10 % TCP
// probes of port 80, 2 % DNS queries and 1 % traces of eight hops.
func packBenchRecords(n int) []Record {
	recs := make([]Record, n)
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range recs {
		x := uint32(i)*2654435761 + 12345
		r := Record{
			Time:    start.Add(time.Duration(i)*37*time.Microsecond + time.Duration(x%1000)),
			Round:   4242,
			Method:  MethodICMP,
			Target:  fmt.Sprintf("198.%d.%d.%d", 18+x>>16&1, x>>8&0xff, x&0xff),
			Seq:     1,
			Outcome: OutcomeTimeout,
		}
		switch {
		case i%100 == 7:
			r.Method, r.Proto, r.Seq, r.Outcome = MethodTrace, "icmp", 0, OutcomeReply
			r.Reached, r.RTTms = Bool(true), 14.2
			for ttl := 1; ttl <= 8; ttl++ {
				r.Hops = append(r.Hops, Hop{TTL: ttl, Addr: fmt.Sprintf("203.0.113.%d", ttl),
					RTTms: float64(ttl) * 1.7, ICMP: "time-exceeded"})
			}
		case i%50 == 3:
			r.Method, r.Port, r.Seq, r.Outcome = MethodDNS, 53, 0, OutcomeReply
			r.Qname, r.Qtype, r.Rcode, r.AA, r.Answers = "kp.", "SOA", "NOERROR", Bool(true), Int(1)
			r.RTTms = 31.5
		case i%10 == 1:
			r.Method, r.Port = MethodTCP, 80
			if x%3 == 0 {
				r.Outcome, r.RTTms, r.ReplyTTL, r.ICMP = OutcomeOpen, 12.25, 58, "syn-ack"
			}
		case x%10 < 7:
			r.Outcome, r.RTTms, r.ReplyTTL = OutcomeReply, 10+float64(x%1000)/100, 57
		}
		recs[i] = r
	}
	return recs
}

// packBenchN is how many records the pack benchmarks code at a time.
const packBenchN = 5000

func BenchmarkPackRecords(b *testing.B) {
	recs := packBenchRecords(packBenchN)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = PackRecords(buf[:0], recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packBenchN), "ns/record")
	b.ReportMetric(float64(len(buf))/packBenchN, "B/record")
}

func BenchmarkUnpackRecords(b *testing.B) {
	data := PackRecords(nil, packBenchRecords(packBenchN))
	out := make([]Record, 0, packBenchN)
	b.ReportAllocs()
	for b.Loop() {
		out = out[:0]
		err := UnpackRecords(data, packVantage, func(r *Record) error {
			out = append(out, *r)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*packBenchN), "ns/record")
}

// unpackProbes decodes data as UnpackProbes gives it, each target put back
// as text.
func unpackProbes(data []byte) ([]Record, error) {
	var got []Record
	err := UnpackProbes(data, packVantage, func(r *Record, addr netip.Addr) error {
		g := *r
		if addr.IsValid() {
			if g.Target != "" {
				return fmt.Errorf("record %d: target %q and address %v", len(got), g.Target, addr)
			}
			g.Target = addr.String()
		}
		got = append(got, g)
		return nil
	})
	return got, err
}

func TestUnpackProbesAgrees(t *testing.T) {
	recs := append(allPackRecords(), packBenchRecords(300)...)
	data := PackRecords(nil, recs)
	want, err := unpackAll(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unpackProbes(data)
	if err != nil {
		t.Fatal(err)
	}
	if !samePacked(got, want) {
		t.Errorf("UnpackProbes and UnpackRecords differ:\n got %+v\nwant %+v", got, want)
	}
	for n := range len(data) {
		if _, err := unpackProbes(data[:n]); !errors.Is(err, ErrBadPacked) {
			t.Fatalf("%d of %d bytes: err = %v, want ErrBadPacked", n, len(data), err)
		}
	}
}
