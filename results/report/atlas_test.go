package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"darkwatch/results"
	"darkwatch/results/atlas"
)

// atlasSamples is where the real Atlas results live (testdata/README.md at
// the top of the repository says where each comes from).
var atlasSamples = filepath.Join("..", "..", "testdata", "atlas")

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// fieldSet maps a place in a result ("top", "hop", "reply"...) to its keys
// and their JSON types.
type fieldSet map[string]map[string]map[string]bool

func (s fieldSet) see(place string, obj map[string]any) {
	if s[place] == nil {
		s[place] = map[string]map[string]bool{}
	}
	for k, v := range obj {
		if s[place][k] == nil {
			s[place][k] = map[string]bool{}
		}
		s[place][k][jsonType(v)] = true
	}
}

// fields collects the field set of one Atlas result: its top level, and by
// type the entries of "result" (ping packets, traceroute hops and their
// replies, the DNS response) and the DNS "error" object, also inside a
// "resultset".
func (s fieldSet) fields(m map[string]any) {
	s.see("top", m)
	switch m["type"] {
	case "ping":
		for _, e := range asSlice(m["result"]) {
			s.see("packet", e.(map[string]any))
		}
	case "traceroute":
		for _, h := range asSlice(m["result"]) {
			hop := h.(map[string]any)
			s.see("hop", hop)
			for _, r := range asSlice(hop["result"]) {
				s.see("reply", r.(map[string]any))
			}
		}
	case "dns":
		sets := []map[string]any{m}
		for _, rs := range asSlice(m["resultset"]) {
			sets = append(sets, rs.(map[string]any))
		}
		for _, set := range sets {
			if r, ok := set["result"].(map[string]any); ok {
				s.see("response", r)
			}
			if e, ok := set["error"].(map[string]any); ok {
				s.see("error", e)
			}
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func readLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%v in %.200s", err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// atlasOmitted lists, per result type and place, the sample fields the atlas
// format does not write, and why.
var atlasOmitted = map[string]map[string]string{
	"ping top": {},
	"ping packet": {
		"srcaddr": "the source address of one packet, written by Atlas when it differs; records keep none",
		"dup":     "a duplicate reply's marker; darkwatch matches replies to probes and keeps no duplicates",
	},
	"traceroute top": {
		"mver":             "the version of Atlas's measurement code; darkwatch has none, and fw alone selects the format",
		"stored_timestamp": "set by Atlas's servers when they store a result",
	},
	"traceroute hop": {},
	"traceroute reply": {
		"size":       "the reply's size is not recorded",
		"icmpext":    "ICMP extensions (MPLS labels) are not recorded",
		"ittl":       "the TTL of the quoted probe is not recorded",
		"mtu":        "no packet-too-big MTU is recorded",
		"dstoptsize": "IPv6 option headers are not recorded",
		"hbhoptsize": "IPv6 option headers are not recorded",
		"late":       "late replies are dropped, not recorded",
	},
	"dns top": {
		"resultset":     "one query per result; a resultset holds several, for a probe's local resolvers",
		"qbuf":          "the query is not recorded (abuf carries its question)",
		"result-rt":     "not in the documented format: a copy of result.rt that Atlas's old API added",
		"result-rdata":  "not in the documented format: decoded answer data that Atlas's old API added",
		"result-rname":  "not in the documented format: decoded answer data that Atlas's old API added",
		"result-serial": "not in the documented format: decoded answer data that Atlas's old API added",
	},
	"dns response": {
		"NSCOUNT": "the authority count is not recorded",
		"ARCOUNT": "the additional count is not recorded",
		"size":    "the response's size is not recorded",
		"answers": "decoded answer records of old firmware; records keep the number of answers, not the records",
	},
	"dns error": {},
}

// TestAtlasSampleFieldSet checks that the atlas format writes every field of
// the real Atlas results, with the same JSON type, but those atlasOmitted
// lists: top-level keys, ping packets, traceroute hops and replies, DNS
// responses and errors.
func TestAtlasSampleFieldSet(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(atlasSamples, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", atlasSamples, err)
	}
	samples := map[string]fieldSet{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range readLines(t, data) {
			typ, _ := m["type"].(string)
			if samples[typ] == nil {
				samples[typ] = fieldSet{}
			}
			samples[typ].fields(m)
		}
	}

	var b bytes.Buffer
	if err := Write(&b, "atlas", fixture()); err != nil {
		t.Fatal(err)
	}
	ours := map[string]fieldSet{}
	for _, m := range readLines(t, b.Bytes()) {
		typ, _ := m["type"].(string)
		if ours[typ] == nil {
			ours[typ] = fieldSet{}
		}
		ours[typ].fields(m)
	}

	for _, typ := range []string{"ping", "traceroute", "dns"} {
		if samples[typ] == nil {
			t.Errorf("no %s sample", typ)
			continue
		}
		for place, keys := range samples[typ] {
			omitted, ok := atlasOmitted[typ+" "+place]
			if !ok {
				t.Errorf("%s %s: not covered by the test", typ, place)
			}
			for key, types := range keys {
				if reason, skip := omitted[key]; skip {
					if _, written := ours[typ][place][key]; written {
						t.Errorf("%s %s %q is listed as omitted (%s) but written", typ, place, key, reason)
					}
					continue
				}
				got, written := ours[typ][place][key]
				if !written {
					t.Errorf("%s %s: %q (%s in the samples) is not written", typ, place, key, setString(types))
					continue
				}
				for ty := range got {
					if !types[ty] {
						t.Errorf("%s %s %q: written as %s, the samples have %s", typ, place, key, ty, setString(types))
					}
				}
			}
		}
		for place, keys := range ours[typ] {
			var extra []string
			for key := range keys {
				if _, ok := samples[typ][place][key]; !ok {
					extra = append(extra, key)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Logf("%s %s: also written (documented, not in the samples): %v", typ, place, extra)
			}
		}
	}
}

func setString(s map[string]bool) string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, "|")
}

// TestAtlasRoundTrip reads the atlas output back as a generic Atlas reader
// would and finds the records in it: addresses, RTTs, hops, DNS headers.
func TestAtlasRoundTrip(t *testing.T) {
	in := fixture()
	var b bytes.Buffer
	if err := Write(&b, "atlas", in); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, b.Bytes())
	type key struct {
		typ       string
		prb       int
		timestamp int64
		dst       string
	}
	byKey := map[key]map[string]any{}
	for _, m := range lines {
		k := key{m["type"].(string), int(m["prb_id"].(float64)), int64(m["timestamp"].(float64)), m["dst_addr"].(string)}
		if byKey[k] != nil {
			t.Fatalf("two results for %v", k)
		}
		byKey[k] = m
		// What typed readers (pantrace's traceroute, DNS-OARC/ripeatlas)
		// need on every result.
		for _, f := range []string{"af", "from", "src_addr", "msm_id", "msm_name", "prb_id", "proto", "timestamp", "fw", "lts"} {
			if _, ok := m[f]; !ok {
				t.Errorf("%v lacks %q", k, f)
			}
		}
		if m["fw"] != float64(AtlasFirmware) || m["lts"] != float64(-1) {
			t.Errorf("%v: fw %v lts %v", k, m["fw"], m["lts"])
		}
	}
	lookup := func(typ string, r results.Record) map[string]any {
		t.Helper()
		m := byKey[key{typ, AtlasProbeID(r.Vantage), r.Time.Unix(), r.Target}]
		if m == nil {
			t.Fatalf("no %s result for %s %s at %v", typ, r.Vantage, r.Target, r.Time)
		}
		if want := in.Atlas.Addrs[r.Vantage]; m["from"] != want || m["src_addr"] != want {
			t.Errorf("%s %s: from %v src_addr %v, want %q", typ, r.Vantage, m["from"], m["src_addr"], want)
		}
		af := 4.0
		if strings.Contains(r.Target, ":") {
			af = 6
		}
		if m["af"] != af {
			t.Errorf("%s %s: af %v, want %v", typ, r.Target, m["af"], af)
		}
		return m
	}

	// Pings: one per vantage, round and target; the first probe's time.
	type group struct {
		vantage string
		round   int64
		target  string
	}
	pings := map[group][]results.Record{}
	var traces, queries int
	for _, r := range in.Records {
		if r.Method == results.MethodICMP {
			g := group{r.Vantage, r.Round, r.Target}
			pings[g] = append(pings[g], r)
		}
	}
	for g, recs := range pings {
		m := lookup("ping", recs[0])
		var want []any
		rcvd := 0
		for _, r := range recs {
			switch r.Outcome {
			case results.OutcomeReply:
				want = append(want, r.RTTms)
				rcvd++
			case results.OutcomeTimeout:
				want = append(want, "*")
			default:
				want = append(want, "error")
			}
		}
		var got []any
		for _, e := range asSlice(m["result"]) {
			e := e.(map[string]any)
			switch {
			case e["rtt"] != nil:
				got = append(got, e["rtt"])
			case e["x"] == "*":
				got = append(got, "*")
			case e["error"] != nil:
				got = append(got, "error")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ping %v: result %v, want %v", g, got, want)
		}
		if m["sent"] != float64(len(recs)) || m["rcvd"] != float64(rcvd) || m["dst_name"] != g.target {
			t.Errorf("ping %v: sent %v rcvd %v dst_name %v", g, m["sent"], m["rcvd"], m["dst_name"])
		}
		if rcvd == 0 && (m["min"] != -1.0 || m["avg"] != -1.0 || m["max"] != -1.0) {
			t.Errorf("ping %v without replies: min/avg/max %v/%v/%v, want -1", g, m["min"], m["avg"], m["max"])
		}
		if m["step"] != float64(roundLen/time.Second) {
			t.Errorf("ping %v: step %v, want %v", g, m["step"], roundLen/time.Second)
		}
	}

	for _, r := range in.Records {
		switch r.Method {
		case results.MethodTrace:
			traces++
			m := lookup("traceroute", r)
			if want := strings.ToUpper(r.Proto); m["proto"] != want {
				t.Errorf("trace %s: proto %v, want %s", r.Target, m["proto"], want)
			}
			if len(r.Hops) == 0 && r.Outcome == results.OutcomeError {
				hops := asSlice(m["result"])
				if len(hops) != 1 || hops[0].(map[string]any)["error"] != r.Error {
					t.Errorf("trace %s without hops: result %v, want the error %q", r.Target, hops, r.Error)
				}
				continue
			}
			var got, want []string
			for _, h := range asSlice(m["result"]) {
				h := h.(map[string]any)
				for _, rep := range asSlice(h["result"]) {
					rep := rep.(map[string]any)
					if rep["x"] == "*" {
						got = append(got, fmt.Sprintf("%v *", h["hop"]))
					} else {
						got = append(got, fmt.Sprintf("%v %v %v", h["hop"], rep["from"], rep["rtt"]))
					}
				}
			}
			for _, h := range r.Hops {
				if h.Addr == "" {
					want = append(want, fmt.Sprintf("%d *", h.TTL))
				} else {
					want = append(want, fmt.Sprintf("%d %s %v", h.TTL, h.Addr, h.RTTms))
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("trace %s from %s: hops %q, want %q", r.Target, r.Vantage, got, want)
			}
		case results.MethodDNS:
			queries++
			m := lookup("dns", r)
			wantProto := "UDP"
			if r.Proto == "tcp" {
				wantProto = "TCP"
			}
			if m["proto"] != wantProto {
				t.Errorf("dns %s: proto %v, want %s", r.Vantage, m["proto"], wantProto)
			}
			if r.Outcome != results.OutcomeReply {
				if e, _ := m["error"].(map[string]any); e["timeout"] != 2000.0 {
					t.Errorf("dns timeout: error %v, want {timeout: 2000}", m["error"])
				}
				continue
			}
			res := m["result"].(map[string]any)
			if res["rt"] != r.RTTms || res["ANCOUNT"] != float64(*r.Answers) {
				t.Errorf("dns %s: rt %v ANCOUNT %v, want %v %d", r.Vantage, res["rt"], res["ANCOUNT"], r.RTTms, *r.Answers)
			}
			abuf, err := base64.StdEncoding.DecodeString(res["abuf"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var p dnsmessage.Parser
			h, err := p.Start(abuf)
			if err != nil {
				t.Fatalf("abuf: %v", err)
			}
			q, err := p.Question()
			if err != nil {
				t.Fatalf("abuf question: %v", err)
			}
			if !h.Response || h.Authoritative != *r.AA || h.RCode != dnsmessage.RCodeSuccess ||
				q.Name.String() != r.Qname || q.Type != dnsmessage.TypeSOA || q.Class != dnsmessage.ClassINET {
				t.Errorf("abuf header %+v question %+v, want a response of %s %s", h, q, r.Qname, r.Qtype)
			}
			if _, err := p.Question(); err != dnsmessage.ErrSectionDone {
				t.Errorf("abuf has more than one question: %v", err)
			}
		}
	}
	if len(lines) != len(pings)+traces+queries {
		t.Errorf("%d results, want %d pings, %d traceroutes, %d DNS results", len(lines), len(pings), traces, queries)
	}
}

func TestAtlasHopError(t *testing.T) {
	tests := []struct {
		icmp       string
		fromTarget bool
		err, flags string
	}{
		{"time-exceeded", false, "", ""},
		{"echo-reply", true, "", ""},
		{"dest-unreachable/port", true, "", ""},
		{"dest-unreachable/port", false, "p", ""},
		{"dest-unreachable/net", false, "N", ""},
		{"dest-unreachable/host", false, "H", ""},
		{"dest-unreachable/protocol", true, "P", ""},
		{"dest-unreachable/host-prohibited", false, "A", ""},
		{"dest-unreachable/admin", false, "A", ""},
		{"dest-unreachable/beyond-scope", false, "h", ""},
		{"dest-unreachable/frag-needed", false, "", ""},
		{"syn-ack", true, "", "SA"},
		{"rst", true, "", "RA"},
	}
	for _, tc := range tests {
		err, flags := atlasHopError(tc.icmp, tc.fromTarget)
		if err != tc.err || flags != tc.flags {
			t.Errorf("atlasHopError(%q, %v) = %q, %q; want %q, %q", tc.icmp, tc.fromTarget, err, flags, tc.err, tc.flags)
		}
	}
}

func TestAtlasProbeID(t *testing.T) {
	// FNV-1a 32 of "vp-fra1", top bit cleared: stable across runs and releases.
	if got, want := AtlasProbeID("vp-fra1"), 0x7fffffff&fnv1a("vp-fra1"); got != want {
		t.Errorf("AtlasProbeID(vp-fra1) = %d, want %d", got, want)
	}
	seen := map[int]string{}
	for _, v := range vantages {
		id := AtlasProbeID(v)
		if id <= 0 || seen[id] != "" {
			t.Errorf("AtlasProbeID(%s) = %d (also %q)", v, id, seen[id])
		}
		seen[id] = v
	}
}

// fnv1a is FNV-1a 32 written out, to pin AtlasProbeID to the published hash.
func fnv1a(s string) int {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h)
}

// roundTripRecords are records of every method the atlas format writes and
// every outcome of each: the fixture's (but tcp, which Atlas has no result
// for) and more, with the fields DNS replies keep.
func roundTripRecords() []results.Record {
	var recs []results.Record
	for _, r := range fixtureRecords() {
		if r.Method != results.MethodTCP {
			recs = append(recs, r)
		}
	}
	at := func(ms int) time.Time {
		return t0.Add(7*roundLen + time.Duration(ms)*time.Millisecond + 123456*time.Nanosecond)
	}
	soa := "ns1.dw.example. admin.dw.example. 2026120601 3600 600 86400 300"
	recs = append(recs,
		results.Record{Time: at(1), Vantage: "vp-fra1", Round: 107, Method: results.MethodICMP, Target: hostB, Seq: 1,
			Outcome: results.OutcomeError, Error: "sendto: no buffer space available"},
		results.Record{Time: at(2), Vantage: "vp-fra1", Round: 107, Method: results.MethodICMP, Target: hostB, Seq: 2,
			Outcome: results.OutcomeReply, RTTms: 0.001, Source: "192.0.2.10"},
		results.Record{Time: at(3), Vantage: "vp-fra1", Round: 107, Method: results.MethodICMP, Target: hostB, Seq: 3,
			Outcome: results.OutcomeUnreachable, ICMP: "dest-unreachable/admin"},
		results.Record{Time: at(4), Vantage: "vp-fra1", Round: 107, Method: results.MethodDNS, Target: dnsA, Port: 53,
			Source: "192.0.2.11", Outcome: results.OutcomeReply, RTTms: 1.5, Qname: "dw.example.", Qtype: "SOA",
			Rcode: "NOERROR", AA: results.Bool(true), Answers: results.Int(1), Serial: results.Uint32(2026120601),
			NSID: "64772d6e7331", Answer: []results.RR{{Name: "dw.example.", Type: "SOA", TTL: 3600, Data: soa}}},
		results.Record{Time: at(5), Vantage: "vp-fra1", Round: 107, Method: results.MethodDNS, Target: hostV6, Port: 53,
			Source: "2001:db8::10", Proto: "tcp", Outcome: results.OutcomeReply, RTTms: 3.25, Qname: "big.dw.example.",
			Qtype: "TXT", Rcode: "NOERROR", AA: results.Bool(false), Answers: results.Int(2),
			Error: "truncated over udp; tcp: i/o timeout", Answer: []results.RR{
				{Name: "big.dw.example.", Type: "TXT", TTL: 300, Data: `"a\255b" "c d"`},
				{Name: "hostname.bind.", Type: "TXT", Class: "CH", Data: `"ns1"`},
			}},
		results.Record{Time: at(6), Vantage: "vp-nyc1", Round: 107, Method: results.MethodDNS, Target: dnsA, Port: 5353,
			Outcome: results.OutcomeReply, Qname: "nope.dw.example.", Qtype: "TYPE65280", Rcode: "NXDOMAIN",
			AA: results.Bool(true), Answers: results.Int(0)},
		results.Record{Time: at(7), Vantage: "vp-nyc1", Round: 107, Method: results.MethodDNS, Target: dnsA, Port: 53,
			Outcome: results.OutcomeError, Error: "not sent: 198.18.1.53 is blocklisted", Qname: "kp.", Qtype: "SOA"},
		results.Record{Time: at(8), Vantage: "vp-nyc1", Round: 107, Method: results.MethodDNS, Target: dnsA, Port: 53,
			Outcome: results.OutcomeReply, Qname: "kp.", Qtype: "SOA", Rcode: "BADVERS", Answers: results.Int(0)},
		results.Record{Time: at(9), Vantage: "vp-sin1", Round: 107, Method: results.MethodTrace, Target: hostV6,
			Proto: "udp", Port: 33434, Outcome: results.OutcomeUnreachable, ICMP: "dest-unreachable/admin",
			Reached: results.Bool(false), Hops: []results.Hop{
				{TTL: 1, Addr: "2001:db8::1", RTTms: 0.25, ICMP: "time-exceeded"},
				{TTL: 2, Addr: "2001:db8::2", RTTms: 0.5, ICMP: "dest-unreachable/admin"},
			}},
		results.Record{Time: at(10), Vantage: "vp-sin1", Round: 107, Method: results.MethodTrace, Target: hostB,
			Proto: "icmp", Outcome: results.OutcomeTimeout, Reached: results.Bool(false), Hops: []results.Hop{}},
	)
	return recs
}

// TestAtlasImportRoundTrip: reading the atlas format back (results/atlas,
// as `import --format atlas` does) gives exactly the records it was written
// from, and without the "darkwatch" member still what Atlas results say:
// targets, outcomes, RTTs, hops, DNS answers.
func TestAtlasImportRoundTrip(t *testing.T) {
	recs := roundTripRecords()
	in := fixture()
	in.Records, in.Until = recs, t0.Add(8*roundLen)
	var b bytes.Buffer
	if err := Write(&b, "atlas", in); err != nil {
		t.Fatal(err)
	}
	got, line, err := atlas.Parse(b.Bytes(), atlas.Options{Round: time.Minute})
	if err != nil {
		t.Fatalf("line %d: %v", line, err)
	}
	sameRecordSet(t, got, recs)

	// Without the extension: what the Atlas fields alone say.
	var plain bytes.Buffer
	var patchKeys int
	for _, m := range readLines(t, b.Bytes()) {
		ext := m["darkwatch"].(map[string]any)
		for _, p := range ext["records"].([]any) {
			patchKeys += len(p.(map[string]any)) - 4
		}
		delete(m, "darkwatch")
		line, _ := json.Marshal(m)
		plain.Write(append(line, '\n'))
	}
	bare, _, err := atlas.Parse(plain.Bytes(), atlas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bare) != len(recs) {
		t.Fatalf("%d records without the extension, want %d", len(bare), len(recs))
	}
	key := func(r results.Record) string {
		return fmt.Sprintf("%s %s %s %v %g %d", r.Method, r.Target, r.Outcome, r.Answer, r.RTTms, len(r.Hops))
	}
	want := map[string]int{}
	for _, r := range recs {
		want[key(r)]++
	}
	for _, r := range bare {
		if want[key(r)] == 0 {
			t.Errorf("without the extension: %s is none of the records written", key(r))
		}
		want[key(r)]--
		if !strings.HasPrefix(r.Vantage, atlas.VantagePrefix) {
			t.Errorf("vantage %q", r.Vantage)
		}
	}
	t.Logf("%d records, %d results, %d patch members beyond time, vantage, round and seq", len(recs), len(readLines(t, b.Bytes())), patchKeys)
}

// sameRecordSet fails t unless got and want hold the same records, in any
// order, compared as JSON.
func sameRecordSet(t *testing.T, got, want []results.Record) {
	t.Helper()
	enc := func(recs []results.Record) []string {
		var out []string
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	g, w := enc(got), enc(want)
	if len(g) != len(w) {
		t.Errorf("%d records, want %d", len(g), len(w))
	}
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, g[i], w[i])
			return
		}
	}
}

// TestAtlasSourceAddrs: "src_addr" and "from" are the address a record was
// sent from, else the one the vantage's records of that address family
// show, else AtlasOptions.Addrs.
func TestAtlasSourceAddrs(t *testing.T) {
	recs := []results.Record{
		{Time: t0, Vantage: "vp-x", Method: results.MethodDNS, Target: "192.0.2.53", Port: 53, Source: "198.51.100.20",
			Outcome: results.OutcomeTimeout, Qname: "dw.example.", Qtype: "A"},
		{Time: t0, Vantage: "vp-x", Method: results.MethodICMP, Target: "192.0.2.1", Outcome: results.OutcomeTimeout},
		{Time: t0, Vantage: "vp-x", Method: results.MethodICMP, Target: "2001:db8::1", Outcome: results.OutcomeTimeout},
		{Time: t0, Vantage: "vp-y", Method: results.MethodICMP, Target: "2001:db8::1", Outcome: results.OutcomeTimeout},
	}
	in := Input{Records: recs, Since: t0, Until: t0.Add(time.Hour),
		Atlas: AtlasOptions{Addrs: map[string]string{"vp-y": "2001:db8::99"}}}
	var b bytes.Buffer
	if err := Write(&b, "atlas", in); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range readLines(t, b.Bytes()) {
		if m["from"] != m["src_addr"] {
			t.Errorf("from %v, src_addr %v", m["from"], m["src_addr"])
		}
		got[fmt.Sprintf("%d %v %v", int(m["prb_id"].(float64)), m["type"], m["dst_addr"])] = m["src_addr"].(string)
	}
	x, y := AtlasProbeID("vp-x"), AtlasProbeID("vp-y")
	want := map[string]string{
		fmt.Sprintf("%d dns 192.0.2.53", x):   "198.51.100.20",
		fmt.Sprintf("%d ping 192.0.2.1", x):   "198.51.100.20",
		fmt.Sprintf("%d ping 2001:db8::1", x): "",
		fmt.Sprintf("%d ping 2001:db8::1", y): "2001:db8::99",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("source addresses %v, want %v", got, want)
	}
}
