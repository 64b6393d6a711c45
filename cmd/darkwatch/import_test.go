package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/recfile"
)

const goodRecords = `{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.3.4","seq":1,"outcome":"reply","rtt_ms":0.2}
{"time":"2026-11-21T22:00:00.2Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.3.5","seq":1,"outcome":"timeout"}
`

func TestImport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	good := filepath.Join(dir, "good.jsonl")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(good, []byte(goodRecords), 0o644)
	os.WriteFile(bad, []byte(goodRecords+"{\"time\":\"2026-11-21T22:00:01Z\",\"vantage\":\"vp1\",\n"), 0o644)

	code, _, stderr := runCLI(t, "--store", db, "import", good)
	if code != 0 || !strings.Contains(stderr, "2 records, 2 new") {
		t.Fatalf("import: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "import", good)
	if code != 0 || !strings.Contains(stderr, "2 records, 0 new") {
		t.Fatalf("second import is not idempotent: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "import", bad)
	if code != cli.Some || !strings.Contains(stderr, "bad.jsonl:3") || !strings.Contains(stderr, "nothing of") {
		t.Fatalf("malformed line: exit %d, %q; want exit 1 naming bad.jsonl:3", code, stderr)
	}
	// What was stored before is all still there.
	code, out, _ := runCLI(t, "--store", db, "--allow", "198.18.0.0/15", "verdict", "--level", "block", "--at", "2026-11-21T22:05:00Z", "--json")
	if code > 1 || !strings.Contains(out, `"entity":"198.18.3.0/24"`) {
		t.Fatalf("verdict after a refused import: exit %d, %q", code, out)
	}
}

func TestStoreBadInput(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "notes.db")
	content := []byte("these are my notes, not a database\n")
	os.WriteFile(foreign, content, 0o644)
	code, _, stderr := runCLI(t, "--store", "sqlite://"+foreign, "verdict")
	if code != cli.Failure || !strings.Contains(stderr, "not a darkwatch store") {
		t.Fatalf("foreign file: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(foreign); !bytes.Equal(b, content) {
		t.Fatal("the foreign file was changed")
	}
	code, _, stderr = runCLI(t, "--store", "sqlite://"+filepath.Join(dir, "x.db"), "verdict", "--level", "galaxy")
	if code != cli.Usage || !strings.Contains(stderr, "galaxy") {
		t.Fatalf("unknown level: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", "mysql://x", "verdict")
	if code != cli.Failure || !strings.Contains(stderr, "sqlite") {
		t.Fatalf("unknown store scheme: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "report", "--format", "pdf")
	if code != cli.Usage || !strings.Contains(stderr, "html") {
		t.Fatalf("unknown format: exit %d, %q", code, stderr)
	}
}

// TestExport writes back what import stored, whole or narrowed, and its file
// imports into another store as it was.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	in := filepath.Join(dir, "in.jsonl")
	more := `{"time":"2026-11-21T22:00:00.3Z","vantage":"vp2","round":1,"method":"trace","target":"198.18.3.4","port":33434,"outcome":"reply","proto":"udp","hops":[{"ttl":1,"addr":"203.0.113.1","rtt_ms":0.1,"icmp":"time-exceeded"},{"ttl":2,"addr":""}],"reached":true}
{"time":"2026-11-21T22:00:00.4Z","vantage":"vp2","round":1,"method":"dns","target":"192.0.2.53","port":53,"outcome":"reply","qname":"dw.example.","qtype":"SOA","rcode":"NOERROR","aa":true,"answers":1}
`
	os.WriteFile(in, []byte(goodRecords+more), 0o644)
	if code, _, stderr := runCLI(t, "--store", db, "import", in); code != 0 {
		t.Fatalf("import: exit %d, %q", code, stderr)
	}
	code, out, stderr := runCLI(t, "--store", db, "export")
	if code != 0 || !strings.Contains(stderr, "4 records") {
		t.Fatalf("export: exit %d, %q", code, stderr)
	}
	want, _ := recfile.ReadFile(in)
	got := parseRecords(t, out)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export gave\n%v\nwant\n%v", got, want)
	}
	for _, c := range []struct {
		args []string
		n    int
	}{
		{[]string{"--prefix", "198.18.3.4/32"}, 2},
		{[]string{"--target", "198.18.3.5"}, 1},
		{[]string{"--vantage", "vp2", "--method", "dns"}, 1},
		{[]string{"--since", "2026-11-21T22:00:00.2Z", "--until", "2026-11-21T22:00:00.4Z"}, 2},
	} {
		code, out, stderr := runCLI(t, append([]string{"--store", db, "export"}, c.args...)...)
		if n := len(parseRecords(t, out)); code != 0 || n != c.n {
			t.Errorf("export %v: exit %d, %d records (%q); want %d", c.args, code, n, stderr, c.n)
		}
	}
	file := filepath.Join(dir, "out.jsonl")
	if code, _, stderr := runCLI(t, "--store", db, "export", "--out", file); code != 0 {
		t.Fatalf("export --out: exit %d, %q", code, stderr)
	}
	other := "sqlite://" + filepath.Join(dir, "other.db")
	if code, _, stderr := runCLI(t, "--store", other, "import", file); code != 0 || !strings.Contains(stderr, "4 records, 4 new") {
		t.Errorf("import of the export: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "--store", db, "export", "--prefix", "198.18.3.4/99"); code != cli.Usage || !strings.Contains(stderr, "--prefix") {
		t.Errorf("bad --prefix: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "--store", db, "export", "--out", filepath.Join(dir, "no", "such", "dir.jsonl")); code != cli.Failure {
		t.Errorf("--out in a missing directory: exit %d, %q", code, stderr)
	}
}

// parseRecords reads JSON Lines records.
func parseRecords(t *testing.T, s string) []results.Record {
	t.Helper()
	var recs []results.Record
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var r results.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestImportAtlas imports the real Atlas results of testdata/atlas, refuses
// a bad file whole naming its line and field, and refuses an unknown format.
func TestImportAtlas(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	samples := filepath.Join("..", "..", "testdata", "atlas")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"type":"ping","prb_id":1,"timestamp":1700000000,"dst_addr":"192.0.2.1","result":[{"rtt":1}]},
{"type":"ping","prb_id":2,"timestamp":1700000000,"dst_addr":"192.0.2.1","result":[{"rtt":"fast"}]}]`), 0o644)
	var files []string
	for _, f := range []string{"ping.jsonl", "traceroute.jsonl", "traceroute-fw5020.jsonl", "dns.jsonl"} {
		files = append(files, filepath.Join(samples, f))
	}
	code, _, stderr := runCLI(t, append([]string{"--store", db, "import", "--format", "atlas", bad}, files...)...)
	for _, want := range []string{
		"ping.jsonl: imported: 12 records, 12 new",
		"traceroute.jsonl: imported: 11 records, 11 new",
		"traceroute-fw5020.jsonl: imported: 14 records, 14 new",
		// Two pairs of lines of dns.jsonl are variants of one result (one
		// probe, time and server: one record id), written for sagan's tests.
		"dns.jsonl: imported: 45 records, 43 new",
		bad + ": refused: " + bad + ":2: result.rtt: a JSON string where Atlas writes a number; nothing of " + bad + " imported",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if code != cli.Some {
		t.Errorf("exit %d with a refused file, want %d", code, cli.Some)
	}
	code, out, _ := runCLI(t, "--store", db, "export", "--vantage", "atlas-270", "--method", "icmp")
	if code != 0 || strings.Count(out, "\n") != 9 || !strings.Contains(out, `"rtt_ms":45.939,"reply_ttl":50`) {
		t.Errorf("export of probe 270: exit %d\n%s", code, out)
	}
	code, _, stderr = runCLI(t, "--store", db, "import", "--format", "csv", bad)
	if code != cli.Usage || !strings.Contains(stderr, `--format "csv"`) {
		t.Errorf("unknown format: exit %d, %q", code, stderr)
	}
}

// TestReportAtlasImport: report --format atlas, then import --format atlas
// into another store, gives back the same records, DNS answers included.
func TestReportAtlasImport(t *testing.T) {
	dir := t.TempDir()
	db1, db2 := "sqlite://"+filepath.Join(dir, "one.db"), "sqlite://"+filepath.Join(dir, "two.db")
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(goodRecords+
		`{"time":"2026-11-21T22:00:00.3Z","vantage":"vp2","round":1,"method":"trace","target":"198.18.3.4","port":33434,"outcome":"reply","rtt_ms":1.5,"reply_ttl":60,"proto":"udp","hops":[{"ttl":1,"addr":"203.0.113.1","rtt_ms":0.1,"icmp":"time-exceeded"},{"ttl":2,"addr":""},{"ttl":3,"addr":"198.18.3.4","rtt_ms":1.5,"icmp":"dest-unreachable/port"}],"reached":true}
{"time":"2026-11-21T22:00:00.4Z","vantage":"vp2","round":1,"method":"dns","target":"192.0.2.53","port":53,"outcome":"reply","rtt_ms":2.25,"source":"192.0.2.9","qname":"dw.example.","qtype":"SOA","rcode":"NOERROR","aa":true,"answers":1,"answer":[{"name":"dw.example.","type":"SOA","ttl":3600,"data":"ns.dw.example. admin.dw.example. 2026120601 3600 600 86400 300"}],"soa_serial":2026120601,"nsid":"64772d6e7331"}
{"time":"2026-11-21T22:00:00.5Z","vantage":"vp2","round":1,"method":"dns","target":"192.0.2.54","port":53,"outcome":"timeout","qname":"dw.example.","qtype":"A"}
`), 0o644)
	if code, _, stderr := runCLI(t, "--store", db1, "import", in); code != 0 {
		t.Fatalf("import: exit %d, %s", code, stderr)
	}
	atlasFile := filepath.Join(dir, "atlas.jsonl")
	span := []string{"--since", "2026-11-21T21:00:00Z", "--until", "2026-11-21T23:00:00Z"}
	if code, _, stderr := runCLI(t, append([]string{"--store", db1, "report", "--format", "atlas", "--out", atlasFile}, span...)...); code > 1 {
		t.Fatalf("report: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "--store", db2, "import", "--format", "atlas", atlasFile); code != 0 || !strings.Contains(stderr, "5 records, 5 new") {
		t.Fatalf("import --format atlas: exit %d, %s", code, stderr)
	}
	_, want, _ := runCLI(t, append([]string{"--store", db1, "export"}, span...)...)
	_, got, _ := runCLI(t, append([]string{"--store", db2, "export"}, span...)...)
	if got != want || strings.Count(got, "\n") != 5 {
		t.Errorf("records after report and import:\n%s\nwant\n%s", got, want)
	}
}

// TestAtlasVantagesJoinVerdicts: Atlas probes are vantage points like
// darkwatch's own nodes. With canaries configured, a probe is healthy in a
// round when its results of a measurement of a canary answered (as Atlas's
// built-in pings of k.root-servers.net would, with that address a canary);
// then its results of the targets count toward the verdicts, and two
// probes that see a host dark make a quorum.
func TestAtlasVantagesJoinVerdicts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "atlas.yaml")
	os.WriteFile(cfg, []byte(`vantage: vp1
allow: [198.18.0.0/15, 192.0.2.0/24]
round: 10m
quorum: 2
canaries: [{addr: 192.0.2.1, methods: [icmp]}]
targets:
  - name: lab
    prefixes: [198.18.0.0/24]
    hosts: [{addr: 198.18.0.7, methods: [icmp]}, {addr: 198.18.0.8, methods: [icmp]}]
`), 0o600)
	// Round 2,833,000 of 10 minutes starts at 1699800000 (2023-11-12T14:40Z).
	ping := func(prb, ts int, dst string, rtts ...string) string {
		var res []string
		for _, r := range rtts {
			if r == "*" {
				res = append(res, `{"x":"*"}`)
			} else {
				res = append(res, `{"rtt":`+r+`,"ttl":60}`)
			}
		}
		return fmt.Sprintf(`{"type":"ping","fw":5080,"prb_id":%d,"timestamp":%d,"dst_addr":%q,"src_addr":"203.0.113.%d","proto":"ICMP","result":[%s]}`,
			prb, ts, dst, prb, strings.Join(res, ","))
	}
	canary := filepath.Join(dir, "canary.jsonl")
	targets := filepath.Join(dir, "targets.jsonl")
	os.WriteFile(canary, []byte(ping(1, 1699800010, "192.0.2.1", "5.1", "5.2")+"\n"+ping(2, 1699800020, "192.0.2.1", "7.5", "7.25")+"\n"), 0o600)
	os.WriteFile(targets, []byte(ping(1, 1699800100, "198.18.0.7", "20.5", "21")+"\n"+ping(2, 1699800110, "198.18.0.7", "*", "30")+"\n"+
		ping(1, 1699800120, "198.18.0.8", "*", "*")+"\n"+ping(2, 1699800130, "198.18.0.8", "*", "*")+"\n"), 0o600)
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	if code, _, stderr := runCLI(t, "--config", cfg, "--store", db, "import", "--format", "atlas", canary, targets); code != 0 {
		t.Fatalf("import: exit %d, %s", code, stderr)
	}
	at := "2023-11-12T14:49:00Z"
	code, out, stderr := runCLI(t, "--config", cfg, "--store", db, "verdict", "--level", "vantage", "--at", at, "--json")
	if code > 1 || !strings.Contains(out, `"entity":"atlas-1","verdict":"healthy"`) || !strings.Contains(out, `"entity":"atlas-2","verdict":"healthy"`) {
		t.Fatalf("vantage verdicts: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "--config", cfg, "--store", db, "verdict", "--level", "host", "--at", at, "--json")
	if code > 1 {
		t.Fatalf("host verdicts: exit %d, %s", code, stderr)
	}
	verdicts := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct{ Entity, Verdict string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%v in %q", err, l)
		}
		verdicts[v.Entity] = v.Verdict
	}
	if verdicts["198.18.0.7"] != "reachable" || !strings.Contains(out, `"entity":"198.18.0.7","verdict":"reachable","data_plane":"up","control_plane":"unknown","belief":0.99,"vantages":{"up":2,"down":0,"gap":0}`) {
		t.Errorf("198.18.0.7, answering both probes: %q\n%s", verdicts["198.18.0.7"], out)
	}
	// Without the canary measurement the probes are gaps, never evidence.
	db2 := "sqlite://" + filepath.Join(dir, "targets-only.db")
	if code, _, stderr := runCLI(t, "--config", cfg, "--store", db2, "import", "--format", "atlas", targets); code != 0 {
		t.Fatalf("import: exit %d, %s", code, stderr)
	}
	_, out, _ = runCLI(t, "--config", cfg, "--store", db2, "verdict", "--level", "host", "--at", at, "--json")
	if !strings.Contains(out, `"entity":"198.18.0.7","verdict":"uncertain"`) || !strings.Contains(out, `"gap":2`) {
		t.Errorf("without canary results:\n%s", out)
	}
}
