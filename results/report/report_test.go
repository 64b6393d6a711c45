package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/results"
)

// golden compares got with testdata/name (testenv.Golden).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, name, got)
}

func TestWrite(t *testing.T) {
	tests := []struct {
		format string
		golden string
		check  func(t *testing.T, out []byte)
	}{
		{"text", "report.txt", checkText},
		{"csv", "report.csv", checkCSV},
		{"json", "report.json", checkJSON},
		{"html", "", checkHTML},
		{"atlas", "report.atlas.jsonl", checkAtlasLines},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.format, fixture()); err != nil {
				t.Fatal(err)
			}
			if tc.golden != "" {
				golden(t, tc.golden, b.Bytes())
			}
			tc.check(t, b.Bytes())
			// The same input gives the same bytes.
			var again bytes.Buffer
			if err := Write(&again, tc.format, fixture()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), again.Bytes()) {
				t.Error("two writes of the same input differ")
			}
		})
	}
	if len(tests) != len(Formats) {
		t.Errorf("tested %d formats, Formats has %d", len(tests), len(Formats))
	}
}

func TestWriteEmpty(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, format, Input{}); err != nil {
				t.Fatal(err)
			}
			if format != "atlas" && b.Len() == 0 {
				t.Error("empty output")
			}
		})
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "xml", fixture())
	if err == nil {
		t.Fatal("no error for format xml")
	}
	for _, f := range append([]string{`"xml"`}, Formats...) {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
}

func checkText(t *testing.T, out []byte) {
	s := string(out)
	for _, want := range []string{
		"darkwatch lab: border cut",
		"198.18.1.10  icmp    -      all      36      22        61.1%   12.500/66.500/162.125",
		"198.18.0.0/22    prefix  ###DC#",
		"  198.18.1.0/24  block   ###DC#",
		"vp-sin1  37      23        62.2%  ##v###",
		"prefix  198.18.0.0/22  data-plane-outage  2026-11-21T22:33:00Z  2026-11-21T22:55:00Z  22.0     22.0      203.0.113.9",
		"ongoing",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	for i, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d has trailing blanks: %q", i+1, line)
		}
	}
}

func checkCSV(t *testing.T, out []byte) {
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("header %q, want %q", rows[0], csvHeader)
	}
	rep := Build(fixture())
	n := 0
	for _, tg := range rep.Targets {
		n += len(tg.Vantages)
	}
	if len(rows)-1 != n {
		t.Errorf("%d rows, want one per target and vantage: %d", len(rows)-1, n)
	}
	col := func(row []string, name string) string { return row[slices.Index(csvHeader, name)] }
	var found bool
	for _, row := range rows[1:] {
		if col(row, "target") == hostA && col(row, "method") == "icmp" && col(row, "vantage") == "vp-fra1" {
			found = true
			// 6 rounds of 2 echo requests, 4 of them in the cut.
			for name, want := range map[string]string{
				"port": "", "probes": "12", "answered": "8", "availability_pct": "66.67", "timeout": "4",
				"rtt_min_ms": "12.5", "rtt_max_ms": "13.625",
				"outages": "2026-11-21T22:33:00Z/2026-11-21T22:55:00Z",
			} {
				if got := col(row, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		}
		if col(row, "target") == "198.18.9.20" && col(row, "outages") != "2026-11-21T22:44:00Z/.." {
			t.Errorf("198.18.9.20 outages %q, want the ongoing withdrawal", col(row, "outages"))
		}
	}
	if !found {
		t.Error("no row for 198.18.1.10 icmp vp-fra1")
	}
}

func checkJSON(t *testing.T, out []byte) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"events", "prefixes", "since", "targets", "title", "until", "vantages"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	var events []map[string]any
	if err := json.Unmarshal(doc["events"], &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	// Events keep DESIGN.md's field names, "end" empty while ongoing.
	for _, e := range events {
		for _, k := range []string{"level", "entity", "kind", "start", "end", "minutes", "severity"} {
			if _, ok := e[k]; !ok {
				t.Errorf("event %v lacks %q", e, k)
			}
		}
	}
	if events[0]["last_hop"] != borderHop || events[0]["entity"] != "198.18.0.0/22" {
		t.Errorf("first event %v, want the border cut of 198.18.0.0/22 with last_hop %s", events[0], borderHop)
	}
	if events[2]["end"] != "" {
		t.Errorf("ongoing event end %v, want \"\"", events[2]["end"])
	}
	var rep Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Since.Equal(t0) || len(rep.Targets) != 10 || len(rep.Prefixes) != 6 || len(rep.Vantages) != 3 {
		t.Errorf("since %v, %d targets, %d prefix timelines, %d vantages; want %v, 10, 6, 3",
			rep.Since, len(rep.Targets), len(rep.Prefixes), len(rep.Vantages), t0)
	}
}

func checkAtlasLines(t *testing.T, out []byte) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	types := map[string]int{}
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types[m["type"].(string)]++
	}
	// 3 vantages x 6 rounds x 2 targets + the IPv6 one; 6 traces; 18 queries.
	if want := map[string]int{"ping": 37, "traceroute": 6, "dns": 18}; !mapsEqual(types, want) {
		t.Errorf("results by type %v, want %v", types, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBuild(t *testing.T) {
	rep := Build(fixture())
	find := func(target, method string, port int) *Target {
		for i := range rep.Targets {
			if tg := &rep.Targets[i]; tg.Target == target && tg.Method == method && tg.Port == port {
				return tg
			}
		}
		t.Fatalf("no target %s %s %d", target, method, port)
		return nil
	}

	a := find(hostA, results.MethodICMP, 0)
	// 3 vantages x 6 rounds x 2; the cut (2 rounds) and vp-sin1's dark round
	// time out: 36 - 12 - 2.
	if a.Probes != 36 || a.Answered != 22 || a.Outcomes.Timeout != 14 || a.Availability != 61.11 {
		t.Errorf("%s icmp: %+v", hostA, a.Stats)
	}
	if a.RTT == nil || a.RTT.Min != 12.5 || a.RTT.Max != 162.125 {
		t.Errorf("%s icmp RTT %+v, want min 12.5 max 162.125", hostA, a.RTT)
	}
	if len(a.Vantages) != 3 || a.Vantages[2].Vantage != "vp-sin1" || a.Vantages[2].Answered != 6 {
		t.Errorf("%s icmp vantages %+v", hostA, a.Vantages)
	}
	// The host's outages are its prefix's and its block's, not 198.18.9.0/24's.
	if len(a.Outages) != 2 || a.Outages[0].Entity != "198.18.0.0/22" || a.Outages[1].Entity != "198.18.1.0/24" {
		t.Errorf("%s outages %+v", hostA, a.Outages)
	}
	if b := find(hostB, results.MethodTCP, 443); b.Outcomes.Closed != 17 || b.Answered != 17 || len(b.Outages) != 0 {
		t.Errorf("%s tcp 443: %+v, outages %v", hostB, b.Stats, b.Outages)
	}
	if b := find(hostB, results.MethodICMP, 0); b.Outcomes.Unreachable != 1 {
		t.Errorf("%s icmp: %+v", hostB, b.Stats)
	}
	if tr := find(hostA, results.MethodTrace, 0); tr.Probes != 3 || tr.Answered != 1 || tr.Outcomes.Unreachable != 1 {
		t.Errorf("trace to %s: %+v", hostA, tr.Stats)
	}

	// Targets by address: IPv4 before IPv6; methods by name.
	var order []string
	for _, tg := range rep.Targets {
		order = append(order, tg.Target+" "+tg.Method)
	}
	want := []string{hostA + " icmp", hostA + " tcp", hostA + " trace", dnsA + " dns",
		hostB + " icmp", hostB + " tcp", hostB + " trace", hostB + " trace", "198.18.9.20 trace", hostV6 + " icmp"}
	if !slices.Equal(order, want) {
		t.Errorf("targets in order %q, want %q", order, want)
	}

	var lines []string
	for _, l := range rep.Prefixes {
		lines = append(lines, l.Level+" "+l.Entity)
	}
	if want := []string{"prefix 198.18.0.0/22", "block 198.18.0.0/24", "block 198.18.1.0/24",
		"prefix 198.18.8.0/22", "block 198.18.8.0/24", "block 198.18.9.0/24"}; !slices.Equal(lines, want) {
		t.Errorf("prefix timelines %q, want %q", lines, want)
	}
	if rep.Bin != roundLen {
		t.Errorf("bin %v, want %v", rep.Bin, roundLen)
	}
	if v := rep.Vantages[2]; v.Vantage != "vp-sin1" || v.Bins[sinDown].Verdict != results.VerdictVantageDown {
		t.Errorf("vantage %+v", v)
	}
}

func TestBuildBounds(t *testing.T) {
	in := fixture()
	in.Since, in.Until = time.Time{}, time.Time{}
	rep := Build(in)
	if !rep.Since.Equal(t0) || !rep.Until.Equal(t0.Add(rounds*roundLen)) {
		t.Errorf("derived range %v to %v, want %v to %v", rep.Since, rep.Until, t0, t0.Add(rounds*roundLen))
	}

	// A range of rounds 3 and 4 keeps their records and verdicts and the
	// events that overlap it.
	in = fixture()
	in.Since, in.Until = t0.Add(cutFrom*roundLen), t0.Add((cutTo+1)*roundLen)
	rep = Build(in)
	if rep.Records != 2*(3*6)+3 {
		t.Errorf("%d records in rounds 3-4, want %d", rep.Records, 2*(3*6)+3)
	}
	for _, l := range rep.Prefixes {
		if len(l.Bins) != 2 {
			t.Errorf("%s: %d bins, want 2", l.Entity, len(l.Bins))
		}
	}
	if len(rep.Events) != 3 {
		t.Errorf("%d events, want 3", len(rep.Events))
	}
	in.Since = t0.Add(5 * roundLen)
	in.Until = in.Since.Add(roundLen)
	if rep = Build(in); len(rep.Events) != 1 || rep.Events[0].End.IsZero() == false {
		t.Errorf("after the cut: events %+v, want the ongoing one only", rep.Events)
	}
}
