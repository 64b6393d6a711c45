package atlas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
)

// samples is where the real Atlas results live (testdata/README.md at the
// top of the repository says where each comes from).
var samples = filepath.Join("..", "..", "testdata", "atlas")

// readSample reads a sample file, failing t if any result of it does not
// import.
func readSample(t *testing.T, name string) []results.Record {
	t.Helper()
	recs, err := ReadFile(filepath.Join(samples, name), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// lines counts the results of a sample file.
func lines(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(bytes.TrimSpace(b), []byte{'\n'}) + 1
}

// rawResult returns the string fields of the result of probe vantage
// ("atlas-N") at Unix time ts in a sample file, decoded as plain JSON.
func rawResult(t *testing.T, name, vantage string, ts int64) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte{'\n'}) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("atlas-%v", m["prb_id"]) != vantage || m["timestamp"] != float64(ts) {
			continue
		}
		out := map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	t.Fatalf("%s: no result of %s at %d", name, vantage, ts)
	return nil
}

// rawDNSTargets returns the server of every query of a DNS sample file, in
// file order: a result's dst_addr, or each of its resultset's.
func rawDNSTargets(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte{'\n'}) {
		var m struct {
			Dst       string `json:"dst_addr"`
			ResultSet []struct {
				Dst string `json:"dst_addr"`
			} `json:"resultset"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.ResultSet) == 0 {
			out = append(out, m.Dst)
		}
		for _, q := range m.ResultSet {
			out = append(out, q.Dst)
		}
	}
	return out
}

// find returns the records of vantage at Unix time ts.
func find(recs []results.Record, vantage string, ts int64) []results.Record {
	var out []results.Record
	for _, r := range recs {
		if r.Vantage == vantage && r.Time.Unix() == ts {
			out = append(out, r)
		}
	}
	return out
}

// TestSamplePing checks the ping results of testdata/atlas/ping.jsonl, as
// the file states them: RTTs, reply TTLs (per packet from firmware 4610,
// else the result's), timeouts, duplicates left out.
func TestSamplePing(t *testing.T) {
	recs := readSample(t, "ping.jsonl")
	type pkt struct {
		outcome string
		rtt     float64
		ttl     int
	}
	reply := func(rtt float64, ttl int) pkt { return pkt{results.OutcomeReply, rtt, ttl} }
	timeout := pkt{outcome: results.OutcomeTimeout}
	for _, tc := range []struct {
		vantage string
		ts      int64
		want    []pkt
	}{
		{"atlas-270", 1392321470, []pkt{reply(45.939, 50), reply(48.927, 50), reply(48.99, 50)}},
		{"atlas-270", 1395416383, []pkt{reply(63.213, 50), reply(47.941, 51), reply(60.268, 50)}},
		{"atlas-1216", 1395277728, []pkt{timeout, reply(27.768, 54)}},
		{"atlas-202", 1394745831, []pkt{timeout}},
		{"atlas-270", 1406561624, []pkt{reply(70.265, 51), reply(54.584, 51), reply(52.875, 51)}},
	} {
		// The addresses are the sample's own (the probe's source and the
		// target it pinged), read from the file as plain JSON.
		raw := rawResult(t, "ping.jsonl", tc.vantage, tc.ts)
		source, target := raw["src_addr"], raw["dst_addr"]
		got := find(recs, tc.vantage, tc.ts)
		if len(got) != len(tc.want) {
			t.Errorf("%s at %d: %d records, want %d", tc.vantage, tc.ts, len(got), len(tc.want))
			continue
		}
		for i, r := range got {
			w := tc.want[i]
			if r.Method != "icmp" || r.Target != target || r.Source != source || r.Outcome != w.outcome ||
				r.RTTms != w.rtt || r.ReplyTTL != w.ttl {
				t.Errorf("%s at %d, packet %d: %+v, want %+v", tc.vantage, tc.ts, i+1, r, w)
			}
			round := tc.ts / int64(DefaultRound/time.Second)
			if r.Round != round || r.Seq != int(tc.ts-round*660)*1000+i+1 {
				t.Errorf("%s at %d, packet %d: round %d seq %d", tc.vantage, tc.ts, i+1, r.Round, r.Seq)
			}
		}
	}
	if len(recs) != 12 {
		t.Errorf("%d records from 5 pings of 12 packets", len(recs))
	}
}

// TestSampleTraceroute checks traceroutes of firmware 4600 to 5020.
func TestSampleTraceroute(t *testing.T) {
	recs := append(readSample(t, "traceroute.jsonl"), readSample(t, "traceroute-fw5020.jsonl")...)
	if want := lines(t, "traceroute.jsonl") + lines(t, "traceroute-fw5020.jsonl"); len(recs) != want {
		t.Errorf("%d records from %d traceroutes", len(recs), want)
	}
	for _, tc := range []struct {
		vantage          string
		ts               int64
		proto, outcome   string
		rtt              float64
		replyTTL         int
		icmp, err        string
		hops             int
		lastAddr, lastIC string
	}{
		// UDP, reached at hop 20: the port unreachable of the destination;
		// the fastest of its three replies.
		{"atlas-394", 1398334547, "udp", "reply", 216.443, 45, "", "", 60, "220.226.205.30", "dest-unreachable/port"},
		// ICMP over IPv6: hop 1 says "H" three times.
		{"atlas-82", 1399388940, "icmp", "unreachable", 0, 0, "dest-unreachable/host", "", 3,
			"2001:67c:2e8:13:fad1:11ff:fea9:dd68", "dest-unreachable/host"},
		// firmware 5020, ICMP: the echo reply at hop 7 of 49.026 ms.
		{"atlas-53023", 1619121927, "icmp", "reply", 49.026, 56, "", "", 21, "84.205.77.1", "echo-reply"},
	} {
		got := find(recs, tc.vantage, tc.ts)
		if len(got) != 1 {
			t.Errorf("%s at %d: %d records", tc.vantage, tc.ts, len(got))
			continue
		}
		r := got[0]
		reached := tc.outcome == "reply"
		if r.Method != "trace" || r.Proto != tc.proto || r.Outcome != tc.outcome || r.RTTms != tc.rtt ||
			r.ReplyTTL != tc.replyTTL || r.ICMP != tc.icmp || r.Error != tc.err || r.Reached == nil || *r.Reached != reached {
			t.Errorf("%s at %d: %+v", tc.vantage, tc.ts, r)
		}
		if len(r.Hops) != tc.hops || r.Hops[len(r.Hops)-1].Addr != tc.lastAddr || r.Hops[len(r.Hops)-1].ICMP != tc.lastIC {
			t.Errorf("%s at %d: %d hops, last %+v", tc.vantage, tc.ts, len(r.Hops), r.Hops[len(r.Hops)-1])
		}
	}
	// A traceroute whose first hop could not be sent.
	for _, r := range recs {
		if r.Vantage == "atlas-82" && r.Outcome == results.OutcomeError {
			if r.Error != "hop 1: connect failed: Network is unreachable" || r.Hops != nil || r.Reached != nil {
				t.Errorf("failed traceroute: %+v", r)
			}
			return
		}
	}
	t.Error("no error record for probe 82's failed traceroute")
}

// TestSampleDNS checks DNS results of firmware 4610 to 4720: answers from
// abuf, the SOA serial, the CHAOS class, a resultset with a timeout, a
// response of a bare header.
func TestSampleDNS(t *testing.T) {
	recs := readSample(t, "dns.jsonl")
	if len(recs) < lines(t, "dns.jsonl") {
		t.Errorf("%d records from %d DNS results", len(recs), lines(t, "dns.jsonl"))
	}
	// one is the record of vantage at ts: the servers of the recorded
	// queries are the sample's, never named here.
	one := func(vantage string, ts int64) results.Record {
		t.Helper()
		rs := find(recs, vantage, ts)
		if len(rs) != 1 {
			t.Fatalf("%d records of %s at %d, want one", len(rs), vantage, ts)
		}
		return rs[0]
	}
	r := one("atlas-714", 1395856407)
	want := []results.RR{{Name: "as250.net.", Type: "A", TTL: 3600, Data: "194.150.168.160"}}
	if r.Outcome != "reply" || r.RTTms != 81.718 || r.Rcode != "NOERROR" || !*r.AA || *r.Answers != 1 ||
		r.Qname != "as250.net." || r.Qtype != "A" || r.Port != 53 || r.Proto != "" || !reflect.DeepEqual(r.Answer, want) {
		t.Errorf("as250.net A: %+v", r)
	}
	r = one("atlas-14184", 1398939936)
	if r.Qtype != "SOA" || r.Serial == nil || *r.Serial != 2014050100 || r.RTTms != 219.205 || r.Answer[0].TTL != 86400 {
		t.Errorf("root SOA: %+v", r)
	}
	r = one("atlas-6036", 1442845198)
	want = []results.RR{{Name: "hostname.bind.", Type: "TXT", Class: "CH", TTL: 0, Data: `"ns1.fi-hel.k.ripe.net"`}}
	if r.RTTms != 1.347 || !reflect.DeepEqual(r.Answer, want) {
		t.Errorf("hostname.bind CH TXT: %+v", r)
	}
	r = one("atlas-2793", 1403098939)
	if r.Outcome != "timeout" || r.Error != "" || r.Seq%1000 != 3 || r.Source != "2607:fcc0:3:2:220:4aff:fee0:219e" {
		t.Errorf("third query of a resultset: %+v", r)
	}
	r = one("atlas-15112", 1400665523)
	if r.Proto != "tcp" || r.Qname != "15112.1400665523.www.twitter.com." || r.Rcode != "" || *r.Answers != 0 {
		t.Errorf("resultset without abuf, question from qbuf: %+v", r)
	}
	r = one("atlas-11180", 1443691516)
	if r.Rcode != "NOTIMP" || r.Qname != "" || *r.Answers != 0 || r.Answer != nil {
		t.Errorf("bare header: %+v", r)
	}
}

// TestParseErrors: bad input is refused whole, naming the line and the
// member.
func TestParseErrors(t *testing.T) {
	good := `{"type":"ping","prb_id":1,"timestamp":1700000000,"dst_addr":"192.0.2.1","result":[{"rtt":1.5}]}`
	for _, tc := range []struct {
		name, data string
		line       int
		want       string
	}{
		{"not JSON", good + "\n{\n", 2, "not an Atlas result"},
		{"no type", `{"prb_id":1,"timestamp":1}`, 1, "type: missing"},
		{"http", `{"type":"http","prb_id":1,"timestamp":1}`, 1, `type: "http": darkwatch imports`},
		{"no prb_id", `{"type":"ping","timestamp":1}`, 1, "prb_id: missing"},
		{"no timestamp", "\n\n" + `{"type":"ping","prb_id":1}`, 3, "timestamp: missing"},
		{"rtt a string", good + "\n" + `{"type":"ping","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"rtt":"1"}]}`, 2, "result.rtt: a JSON string where Atlas writes a number"},
		{"empty packet", `{"type":"ping","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"rtt":1},{}]}`, 1, `result[1]: neither "rtt", "x" nor "error"`},
		{"no target", `{"type":"ping","prb_id":1,"timestamp":1,"result":[{"rtt":1}]}`, 1, "no target"},
		{"traceroute without result", `{"type":"traceroute","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1"}`, 1, "result: missing"},
		{"bad err", `{"type":"traceroute","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"hop":1,"result":[{"from":"192.0.2.9","err":"Q"}]}]}`, 1, `result[0].result[0].err: "Q"`},
		{"bad abuf", `{"type":"dns","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":{"abuf":"!!"}}`, 1, "result.abuf: not base64"},
		{"bad resultset", `{"type":"dns","prb_id":1,"timestamp":1,"resultset":[{"dst_addr":"192.0.2.1"}]}`, 1, `resultset[0].result: missing (and no "error")`},
		{"array, bad second", "[\n" + good + ",\n" + `{"type":"ping"}` + "\n]", 3, "prb_id: missing"},
		{"array, trailing", "[" + good + "] x", 1, "data after the array"},
		{"array, unterminated", "[" + good, 1, "not a JSON array"},
		{"patch count", `{"type":"ping","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"rtt":1}],"darkwatch":{"records":[]}}`, 1, "darkwatch: records: 0 patches for the 1 records"},
		{"patch unknown member", `{"type":"ping","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"rtt":1}],"darkwatch":{"records":[{"colour":"red"}]}}`, 1, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, line, err := Parse([]byte(tc.data), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || line != tc.line || recs != nil {
				t.Errorf("Parse = %d records, line %d, %v; want none, line %d, %q", len(recs), line, err, tc.line, tc.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(path, []byte(good+"\n"+`{"type":"ping"}`+"\n"), 0o600)
	if _, err := ReadFile(path, Options{}); err == nil || !strings.Contains(err.Error(), path+":2: prb_id: missing; nothing of "+path+" imported") {
		t.Errorf("ReadFile: %v", err)
	}
}

// TestParseArray: a JSON array, as the Atlas API gives results, reads as
// the same records as JSON Lines.
func TestParseArray(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samples, "ping.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	fromLines, _, err := Parse(data, Options{Round: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	array := "[\n" + strings.Join(strings.Split(strings.TrimSpace(string(data)), "\n"), ",\n") + "\n]\n"
	fromArray, _, err := Parse([]byte(array), Options{Round: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromLines, fromArray) || len(fromArray) != 12 {
		t.Errorf("array gives %d records, lines %d, or different ones", len(fromArray), len(fromLines))
	}
	if fromArray[0].Round != 1392321470/60 {
		t.Errorf("round %d with one-minute rounds", fromArray[0].Round)
	}
}

// FuzzParse feeds Parse arbitrary input: it never panics, and what it
// accepts are records fit to be kept.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"ping.jsonl", "traceroute.jsonl", "traceroute-fw5020.jsonl", "dns.jsonl"} {
		data, err := os.ReadFile(filepath.Join(samples, name))
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte{'\n'}) {
			f.Add(l)
		}
	}
	f.Add([]byte(`[{"type":"ping","prb_id":1,"timestamp":1,"dst_addr":"192.0.2.1","result":[{"rtt":1}],"darkwatch":{"records":[{"seq":3,"hops":[]}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := Parse(data, Options{})
		if err != nil {
			return
		}
		for i := range recs {
			if err := recs[i].Validate(); err != nil || recs[i].Outcome == "" {
				t.Fatalf("record %d: %v: %+v", i, err, recs[i])
			}
			if _, err := json.Marshal(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// BenchmarkParse reads every sample result: ping, traceroute and DNS.
func BenchmarkParse(b *testing.B) {
	var data []byte
	for _, name := range []string{"ping.jsonl", "traceroute.jsonl", "traceroute-fw5020.jsonl", "dns.jsonl"} {
		d, err := os.ReadFile(filepath.Join(samples, name))
		if err != nil {
			b.Fatal(err)
		}
		data = append(append(data, bytes.TrimSpace(d)...), '\n')
	}
	b.SetBytes(int64(len(data)))
	var n int
	for b.Loop() {
		recs, _, err := Parse(data, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(recs)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestSampleTracerouteOutcomes: every traceroute of the samples, with the
// outcome and RTT the file states (the destination's fastest reply).
func TestSampleTracerouteOutcomes(t *testing.T) {
	recs := append(readSample(t, "traceroute.jsonl"), readSample(t, "traceroute-fw5020.jsonl")...)
	const fw5020 = "atlas-53023"
	want := []struct {
		vantage string
		ts      int64
		outcome string
		rtt     float64
	}{
		{"atlas-319", 1392240124, "timeout", 0}, {"atlas-319", 1395833036, "timeout", 0},
		{"atlas-394", 1398334547, "reply", 216.443}, {"atlas-82", 1399388940, "unreachable", 0},
		{"atlas-82", 1398180530, "error", 0}, {"atlas-2463", 1400582538, "unreachable", 0},
		{"atlas-14748", 1400087690, "timeout", 0}, {"atlas-6021", 1400589951, "reply", 85.785},
		{"atlas-319", 1406561027, "timeout", 0}, {"atlas-4978", 1414685926, "timeout", 0},
		{"atlas-10834", 1447330668, "timeout", 0},
		{fw5020, 1619118621, "timeout", 0}, {fw5020, 1619118928, "timeout", 0}, {fw5020, 1619119222, "timeout", 0},
		{fw5020, 1619119529, "timeout", 0}, {fw5020, 1619119823, "timeout", 0}, {fw5020, 1619120128, "timeout", 0},
		{fw5020, 1619120418, "timeout", 0}, {fw5020, 1619120726, "timeout", 0}, {fw5020, 1619121019, "timeout", 0},
		{fw5020, 1619121332, "timeout", 0}, {fw5020, 1619121626, "reply", 48.442}, {fw5020, 1619121927, "reply", 49.026},
		{fw5020, 1619122229, "reply", 48.268}, {fw5020, 1619122532, "reply", 48.568},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.Vantage != w.vantage || r.Time.Unix() != w.ts || r.Outcome != w.outcome || r.RTTms != w.rtt {
			t.Errorf("traceroute %d: %s at %d %s %v, want %+v", i+1, r.Vantage, r.Time.Unix(), r.Outcome, r.RTTms, w)
		}
	}
}

// TestSampleDNSOutcomes: every query of the DNS samples, in order, with the
// outcome, "rt", rcode (from abuf's header) and ANCOUNT the file states (-1:
// none).
func TestSampleDNSOutcomes(t *testing.T) {
	recs := readSample(t, "dns.jsonl")
	want := []struct {
		vantage string
		ts      int64
		outcome string
		rtt     float64
		rcode   string
		answers int
	}{
		{"atlas-714", 1395856407, "reply", 81.718, "NOERROR", 1},
		{"atlas-13337", 1395792203, "reply", 2.9939999999999998, "NOERROR", 1},
		{"atlas-13337", 1395792204, "reply", 76.292, "NOERROR", 2},
		{"atlas-13337", 1395792205, "reply", 79.971, "NOERROR", 2},
		{"atlas-14184", 1398939936, "reply", 219.205, "NOERROR", 1},
		{"atlas-18279", 1447251248, "reply", 21.768, "NOERROR", 2},
		{"atlas-15112", 1400665523, "reply", 57.764, "", 0},
		{"atlas-15112", 1400665524, "reply", 57.263, "", 0},
		{"atlas-6012", 1403091608, "reply", 8.656, "NOERROR", 1},
		{"atlas-13330", 1403101065, "reply", 84.262, "NOERROR", 2},
		{"atlas-15060", 1402768690, "reply", 62.748, "NOERROR", 7},
		{"atlas-17460", 1403100350, "reply", 99.33, "NOERROR", 1},
		{"atlas-12534", 1444999225, "reply", 38.079, "NOERROR", 4},
		{"atlas-2793", 1403098937, "reply", 198.454, "NOERROR", 2},
		{"atlas-2793", 1403098938, "reply", 127.644, "NOERROR", 2},
		{"atlas-2793", 1403098939, "timeout", 0, "", -1},
		{"atlas-17868", 1403103973, "reply", 1688.621, "NOERROR", 2},
		{"atlas-17868", 1403103976, "reply", 932.26, "NOERROR", 2},
		{"atlas-11939", 1445001458, "reply", 18.193, "NXDOMAIN", 0},
		{"atlas-11602", 1445006271, "reply", 37.356, "NXDOMAIN", 0},
		{"atlas-12534", 1445010704, "reply", 39.686, "NOERROR", 24},
		{"atlas-12750", 1445246958, "reply", 34.676, "NOERROR", 1},
		{"atlas-10221", 1423566533, "reply", 15.705, "NOERROR", 2},
		{"atlas-3498", 1403087945, "reply", 21.566, "NOERROR", 1},
		{"atlas-11712", 1445257644, "reply", 39.476, "NOERROR", 1},
		{"atlas-12750", 1445260363, "reply", 17.846, "NOERROR", 5},
		{"atlas-12750", 1445263153, "reply", 17.932, "NOERROR", 4},
		{"atlas-12750", 1445266555, "reply", 34.265, "NOERROR", 1},
		{"atlas-778", 1406560725, "reply", 36.661, "NOERROR", 1},
		{"atlas-4232", 1413417973, "reply", 298.828, "NOERROR", 1},
		{"atlas-4232", 1413417973, "reply", 298.828, "NOERROR", 1},
		{"atlas-96", 1422535611, "reply", 33.973, "NOERROR", 1},
		{"atlas-96", 1422535611, "reply", 33.973, "NOERROR", 1},
		{"atlas-21567", 1425632241, "reply", 22.34, "NOERROR", 1},
		{"atlas-18394", 1442848754, "reply", 3.408, "NOERROR", 1},
		{"atlas-18394", 1442848755, "reply", 3.155, "NOERROR", 1},
		{"atlas-18394", 1442848756, "timeout", 0, "", -1},
		{"atlas-6012", 1400801282, "reply", 0.275, "NOERROR", 2},
		{"atlas-6012", 1400801283, "reply", 90.513, "NOERROR", 2},
		{"atlas-19895", 1441539311, "reply", 180.324, "NOERROR", 3},
		{"atlas-6036", 1442845198, "reply", 1.347, "NOERROR", 1},
		{"atlas-6123", 1440751763, "reply", 775.563, "NOERROR", 1},
		{"atlas-6123", 1440751765, "reply", 67.873, "NOERROR", 0},
		{"atlas-6123", 1440751766, "reply", 129.617, "NOERROR", 0},
		{"atlas-11180", 1443691516, "reply", 1.282, "NOTIMP", 0},
	}
	// The servers asked are the sample's own, read from the file as plain
	// JSON: a result's dst_addr, or each of its resultset's.
	targets := rawDNSTargets(t, "dns.jsonl")
	if len(recs) != len(want) || len(targets) != len(want) {
		t.Fatalf("%d records and %d servers in the file, want %d", len(recs), len(targets), len(want))
	}
	for i, w := range want {
		r := recs[i]
		answers := -1
		if r.Answers != nil {
			answers = *r.Answers
		}
		if r.Vantage != w.vantage || r.Time.Unix() != w.ts || r.Target != targets[i] || r.Outcome != w.outcome ||
			r.RTTms != w.rtt || r.Rcode != w.rcode || answers != w.answers {
			t.Errorf("query %d: %s at %d to %s: %s %v %s %d, want %+v", i+1, r.Vantage, r.Time.Unix(), r.Target,
				r.Outcome, r.RTTms, r.Rcode, answers, w)
		}
		if r.Answer != nil && len(r.Answer) != answers {
			t.Errorf("query %d: %d answer records, ANCOUNT %d", i+1, len(r.Answer), answers)
		}
	}
}
