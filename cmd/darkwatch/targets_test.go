package main

import (
	"darkwatch/internal/cli"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// geoTestData holds real RIR statistics files (testdata/README.md at the
// top of the repository).
const geoTestData = "../../testdata/geo"

// TestGeoImport: files are imported one by one; a bad line refuses its
// file, naming it and the line, and the others still go in.
func TestGeoImport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	bad := filepath.Join(dir, "delegated-bad")
	os.WriteFile(bad, []byte("2|apnic|20141221|1|19830613|20141219|+1000\napnic|KP|ipv4|175.45.176.0|1024|20100122|stolen\n"), 0o644)
	good := filepath.Join(geoTestData, "delegated-apnic-20110113.txt")
	code, _, stderr := runCLI(t, "--store", db, "geo", "import", bad, good)
	if code != cli.Some || !strings.Contains(stderr, bad+":2: status: \"stolen\"") ||
		!strings.Contains(stderr, good+": 11 delegations of apnic (serial 20110113)") {
		t.Fatalf("exit %d, stderr %q: want 1, the bad file's line and field, the good file imported", code, stderr)
	}
}

// TestTargets resolves configs/kp-2014.yaml and a set named by a real AS
// from a store holding a real RIS update file and APNIC's 2011 statistics.
func TestTargets(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	if code, _, stderr := runCLI(t, "--store", db, "bgp", "import", filepath.Join(mrtTestData, "ris.rrc06.updates.1427846400.gz")); code != 0 {
		t.Fatalf("bgp import: %s", stderr)
	}
	if code, _, stderr := runCLI(t, "--store", db, "geo", "import", filepath.Join(geoTestData, "delegated-apnic-20110113.txt")); code != 0 {
		t.Fatalf("geo import: %s", stderr)
	}
	// The update file of 2015 has no route of AS131279: that set is empty
	// (exit 1), KP's delegation is there.
	code, out, stderr := runCLI(t, "--config", "../../configs/kp-2014.yaml", "--store", db, "targets")
	if code != cli.Some || !strings.Contains(stderr, "target set kp-as resolves to no prefix") {
		t.Errorf("kp-2014: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"kp-as bgp - no route in the store ends in AS131279", "kp geo 175.45.176.0/22 geo: apnic delegated 2010-01-22 (assigned)"} {
		if !hasRow(out, want) {
			t.Errorf("kp-2014: no row %q in\n%s", want, out)
		}
	}
	cfg := filepath.Join(dir, "vnpt.yaml")
	os.WriteFile(cfg, []byte("vantage: vp1\ntargets:\n  - {name: vnpt, asn: 45899, methods: [icmp]}\n  - {name: lab, prefixes: [198.18.0.0/24]}\n"), 0o644)
	code, out, stderr = runCLI(t, "--config", cfg, "--store", db, "targets")
	if code != 0 || strings.Count(out, "bgp: AS45899 via 1 peer\n") != 70 || !hasRow(out, "vnpt bgp 123.24.0.0/18 bgp: AS45899 via 1 peer") ||
		!hasRow(out, "lab config 198.18.0.0/24 config") {
		t.Errorf("vnpt: exit %d, stderr %q, out\n%s", code, stderr, out)
	}
	code, out, stderr = runCLI(t, "--config", cfg, "--store", db, "targets", "--json")
	var sets []jsonSet
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var one jsonSet
		if err := json.Unmarshal([]byte(line), &one); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		sets = append(sets, one)
	}
	if code != 0 || len(sets) != 2 || sets[0].Name != "vnpt" || sets[0].By != "bgp" || len(sets[0].Prefixes) != 70 ||
		sets[0].Prefixes[0].From.ASN != 45899 || !sets[0].Prefixes[0].Probed || sets[1].By != "config" {
		t.Errorf("--json: exit %d, stderr %q, %+v", code, stderr, sets)
	}
}

// jsonSet is a target set as targets --json prints it.
type jsonSet struct {
	Name     string
	By       string
	Prefixes []struct {
		Prefix string
		Probed bool
		From   struct {
			By    string
			ASN   uint32
			Peers int
		}
	}
}

// hasRow reports whether a line of a table, its columns joined by one
// space, starts with row.
func hasRow(table, row string) bool {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " "), row) {
			return true
		}
	}
	return false
}

// TestVerdictOfNamedSets: verdict rolls the blocks of a set named by its
// country, labelled with an AS, up into that AS and country, from the
// delegations in the store.
func TestVerdictOfNamedSets(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	if code, _, stderr := runCLI(t, "--store", db, "geo", "import", filepath.Join(geoTestData, "delegated-apnic-20110113.txt")); code != 0 {
		t.Fatalf("geo import: %s", stderr)
	}
	var recs strings.Builder
	start := time.Date(2014, 12, 22, 7, 0, 0, 0, time.UTC)
	for round := range 3 {
		at := start.Add(time.Duration(round) * time.Minute)
		for host := 1; host <= 20; host++ {
			fmt.Fprintf(&recs, `{"time":"%s","vantage":"vp1","round":%d,"method":"icmp","target":"175.45.176.%d","seq":1,"outcome":"reply","rtt_ms":1}`+"\n",
				at.Add(time.Duration(host)*time.Second).Format(time.RFC3339Nano), at.Unix()/60, host)
		}
	}
	in := filepath.Join(dir, "kp.jsonl")
	os.WriteFile(in, []byte(recs.String()), 0o644)
	if code, _, stderr := runCLI(t, "--store", db, "import", in); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	cfg := filepath.Join(dir, "kp.yaml")
	os.WriteFile(cfg, []byte("vantage: vp1\nround: 1m\nquorum: 1\ntargets:\n  - {name: kp, country: KP, asn: 131279, from: geo, methods: [icmp]}\n"), 0o644)
	for _, level := range []string{"asn", "country", "prefix"} {
		code, out, stderr := runCLI(t, "--config", cfg, "--store", db, "verdict", "--level", level,
			"--since", start.Format(time.RFC3339), "--until", start.Add(3*time.Minute).Format(time.RFC3339), "--json")
		want := map[string]string{"asn": `"entity":"AS131279"`, "country": `"entity":"KP"`, "prefix": `"entity":"175.45.176.0/22"`}[level]
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, `"verdict":"reachable"`) {
			t.Errorf("verdict --level %s: exit %d, stderr %q, out %q; want %s reachable", level, code, stderr, out, want)
		}
	}
}
