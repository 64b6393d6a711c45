package bgp

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mrtDir holds real MRT files and what bgpdump prints for them
// (testdata/README.md at the top of the repository says where each comes
// from).
const mrtDir = "../../testdata/mrt"

// mrtFiles is how many MRT files mrtDir holds.
const mrtFiles = 11

// testFiles returns the MRT files of mrtDir and their expected outputs.
func testFiles(t testing.TB) map[string]string {
	t.Helper()
	files, err := Files([]string{mrtDir})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		exp, _ := filepath.Glob(filepath.Join(mrtDir, "expect", filepath.Base(f)+".*"))
		if len(exp) != 1 {
			t.Fatalf("%s: want one expected output, found %v", f, exp)
		}
		out[f] = exp[0]
	}
	if len(out) != mrtFiles {
		t.Fatalf("want the %d MRT files of %s, found %d", mrtFiles, mrtDir, len(out))
	}
	return out
}

func readLines(t testing.TB, gz string) []string {
	t.Helper()
	text := string(gunzipFile(t, gz))
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// dumpLines is what AppendDump makes of a file, line by line.
func dumpLines(t testing.TB, path string) []string {
	t.Helper()
	var buf []byte
	err := ReadFile(path, func(r Route) error {
		buf = AppendDump(buf, &r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
}

// tuple is the test data's criterion: (time, type, peer, prefix, AS path),
// fields 2 to 7 of a line (time, kind, peer, peer AS, prefix, path).
func tuple(line string) string {
	f := strings.Split(line, "|")
	if len(f) > 7 {
		f = f[:7]
	}
	if len(f) > 1 {
		f = f[1:]
	}
	return strings.Join(f, "|")
}

func TestDumpMatchesBgpdump(t *testing.T) {
	for file, expect := range testFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := readLines(t, expect)
			got := dumpLines(t, file)
			if len(got) != len(want) {
				t.Errorf("%d lines, bgpdump -m prints %d", len(got), len(want))
			}
			same, tuples := 0, 0
			shown := 0
			for i := range min(len(got), len(want)) {
				if got[i] == want[i] {
					same++
				}
				if tuple(got[i]) == tuple(want[i]) {
					tuples++
				} else if shown++; shown <= 3 {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
				}
			}
			if tuples != len(want) {
				t.Errorf("%d of %d lines match in (time, type, peer, prefix, AS path)", tuples, len(want))
			}
			if same != len(want) {
				shown := 0
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						if shown++; shown <= 3 {
							t.Errorf("line %d differs:\n got %s\nwant %s", i+1, got[i], want[i])
						}
					}
				}
				t.Errorf("%d of %d lines byte-identical", same, len(want))
			}
		})
	}
}

// TestAppendAddr: the wants are what bgpdump 1.6.2 prints for these
// addresses (as the peers of BGP4MP state changes).
func TestAppendAddr(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:200:0:fe00::6249:0", "2001:200:0:fe00::6249:0"},
		{"::", "::"},
		{"::1", "::1"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"::c000:201", "::192.0.2.1"}, // IPv4-compatible
		{"::5", "::0.0.0.5"},
		{"::ffff:0:0", "::ffff:0.0.0.0"},
		// One zero group is shortened too, the first of the longest runs.
		{"2001:7f8:30:0:2:1:0:8447", "2001:7f8:30::2:1:0:8447"},
		{"2001:db8:0:1:1:1:1:1", "2001:db8::1:1:1:1:1"},
		{"1:0:2:0:3:0:4:0", "1::2:0:3:0:4:0"},
		{"1:0:0:2:0:0:3:4", "1::2:0:0:3:4"},
		{"0:0:1::", "0:0:1::"},
		{"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7::"},
		{"0:1:2:3:4:5:6:7", "::1:2:3:4:5:6:7"},
		{"::1:0:0", "::1:0:0"},
		{"fe80::", "fe80::"},
		{"abcd:ef01:2345:6789:abcd:ef01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := mustAddr(t, tt.addr)
			if got := string(appendAddr(nil, a)); got != tt.want {
				t.Errorf("appendAddr(%s) = %s, want %s", tt.addr, got, tt.want)
			}
		})
	}
}

func TestFormatASPath(t *testing.T) {
	const seq, set, cseq, cset = 2, 1, 3, 4
	tests := []struct {
		name string
		path []segment
		want string
	}{
		{"sequence", []segment{{seq, []uint32{3356, 174, 131279}}}, "3356 174 131279"},
		{"set at the end", []segment{{seq, []uint32{1, 2}}, {set, []uint32{3, 4}}}, "1 2 {3,4}"},
		{"set in the middle", []segment{{seq, []uint32{1}}, {set, []uint32{3, 4}}, {seq, []uint32{5}}}, "1 {3,4} 5"},
		{"confederations", []segment{{cseq, []uint32{65001, 65002}}, {cset, []uint32{65003, 65004}}, {seq, []uint32{7}}}, "(65001 65002) [65003,65004] 7"},
		{"4-byte", []segment{{seq, []uint32{4200000000}}}, "4200000000"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatASPath(tt.path); got != tt.want {
				t.Errorf("formatASPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMergeAS4(t *testing.T) {
	const seq, set = 2, 1
	tests := []struct {
		name           string
		path, as4      []segment
		agg, as4Agg    bool
		aggAS          uint32
		want           string
		wantAggregator uint32
	}{
		{name: "AS_TRANS replaced", path: []segment{{seq, []uint32{3356, 23456, 23456}}},
			as4: []segment{{seq, []uint32{196608, 4200000000}}}, want: "3356 196608 4200000000"},
		{name: "AS4_PATH longer than AS_PATH is ignored", path: []segment{{seq, []uint32{3356}}},
			as4: []segment{{seq, []uint32{1, 2}}}, want: "3356"},
		{name: "set counts one", path: []segment{{seq, []uint32{1, 2}}, {set, []uint32{23456, 3}}},
			as4: []segment{{set, []uint32{200000, 3}}}, want: "1 2 {200000,3}"},
		{name: "aggregator not AS_TRANS keeps the path", path: []segment{{seq, []uint32{1, 23456}}},
			as4: []segment{{seq, []uint32{200000}}}, agg: true, as4Agg: true, aggAS: 65000, want: "1 23456", wantAggregator: 65000},
		{name: "AS_TRANS aggregator replaced", path: []segment{{seq, []uint32{1, 23456}}},
			as4: []segment{{seq, []uint32{200000}}}, agg: true, as4Agg: true, aggAS: 23456, want: "1 200000", wantAggregator: 200001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Attrs{HasASPath: true, AggregatorAS: tt.aggAS}
			got := formatASPath(mergeAS4(tt.path, tt.as4, a, true, tt.agg, tt.as4Agg, 200001, mustAddr(t, "192.0.2.1")))
			if got != tt.want {
				t.Errorf("merged path %q, want %q", got, tt.want)
			}
			if a.AggregatorAS != tt.wantAggregator {
				t.Errorf("aggregator AS %d, want %d", a.AggregatorAS, tt.wantAggregator)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for _, k := range []Kind{Announce, Withdraw, RIB, StateChange} {
		got, ok := ParseKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if _, ok := ParseKind("X"); ok {
		t.Error("ParseKind(X) succeeded")
	}
}

// BenchmarkDump reads the largest test file and formats every route as
// bgpdump -m does: the work of darkwatch bgp dump, less the output.
func BenchmarkDump(b *testing.B) {
	path := mrtDir + "/updates.20160811.1600.gz"
	var line []byte
	routes := 0
	for b.Loop() {
		err := ReadFile(path, func(r Route) error {
			line = AppendDump(line[:0], &r)
			routes++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(routes)/b.Elapsed().Seconds(), "routes/s")
}

// BenchmarkControlPlane replays the largest test file's routes into
// 5-minute visibility of 100 of its prefixes.
func BenchmarkControlPlane(b *testing.B) {
	var routes []Route
	if err := ReadFile(mrtDir+"/updates.20160811.1600.gz", func(r Route) error {
		routes = append(routes, r)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var prefixes []netip.Prefix
	for i := 0; i < len(routes) && len(prefixes) < 100; i += len(routes) / 100 {
		prefixes = append(prefixes, routes[i].Prefix)
	}
	bins := Bins(routes[0].Time, routes[len(routes)-1].Time, time.Minute)
	for b.Loop() {
		ControlPlane(routes, bins, prefixes, Config{})
	}
}
