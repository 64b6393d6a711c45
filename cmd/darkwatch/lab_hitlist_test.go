package main

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/store"
)

// labHitlist writes a hitlist of n addresses spread over the lab's IPv6 /48
// (in the form public hitlists use, some with /128) and one private address
// the blocklist keeps out, and returns its path and the n addresses.
func labHitlist(t *testing.T, dir string, n int) (string, map[string]bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# lab hitlist: addresses in " + lab.Target6 + "\n")
	b.WriteString("fd00::1 # unique local: on the default blocklist, never probed\n")
	want := map[string]bool{}
	for i := range n {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::%x", i*0x100, i+1))
		want[a.String()] = true
		suffix := ""
		if i%2 == 1 {
			suffix = "/128"
		}
		fmt.Fprintf(&b, "%s%s\n", a, suffix)
	}
	return writeFile(t, filepath.Join(dir, "hitlist.txt"), b.String()), want
}

// TestLabHitlist: sweep, census, run and verdict over an IPv6 hitlist in
// the lab, with real ICMPv6 echoes and TCP SYNs: every address answers, the
// census finds E(b) of the /48, run probes it the Trinocular way, the
// verdicts show the /48 block reachable and rolled up to the set's prefix
// and AS, and down after a border cut.
func TestLabHitlist(t *testing.T) {
	l := lab.Start(t)
	dir := t.TempDir()
	hl, want := labHitlist(t, dir, 20)
	t.Run("sweep --targets @hitlist", func(t *testing.T) {
		for _, tc := range []struct{ method, outcome string }{{"icmp", results.OutcomeReply}, {"tcp:80", results.OutcomeOpen}} {
			cmd, stdout, stderr := labCmd(t, l, "vp1", "sweep", "--targets", "@"+hl, "--method", tc.method, "--json",
				"--rate", "0", "--cooldown", "1s", "--lock", filepath.Join(t.TempDir(), "lock"))
			code := exitCode(t, cmd)
			targets, sent, hits, _ := summary(t, stderr.String())
			if code != 0 || targets != 20 || sent != 20 || hits != 20 {
				t.Fatalf("%s: exit %d, targets %d sent %d hits %d; want 0, 20 each\n%s", tc.method, code, targets, sent, hits, stderr)
			}
			if !strings.Contains(stderr.String(), "1 of the 21 addresses given are on the blocklist") {
				t.Fatalf("%s: the blocklisted hitlist address is not reported:\n%s", tc.method, stderr)
			}
			checkHitlistRecords(t, readRecords(t, stdout.Bytes()), want, tc.outcome)
		}
	})
	dbPath := filepath.Join(dir, "darkwatch.db")
	cfg := writeFile(t, filepath.Join(dir, "lab6.yaml"), `vantage: vp1
allow: ["2001:db8::/32"]
store: sqlite://`+dbPath+`
metrics: "off"
quorum: 1
round: 2s
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 300ms}
targets:
  - name: lab6
    prefixes: ["2001:db8::/32"]
    asn: 64511
    hitlist: `+hl+`
    methods: [icmp]
`)
	run := func(args ...string) string {
		out, err := l.Command(t.Context(), "vp1", lab.Binary(t), append([]string{"--config", cfg}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("sweep", "--json", "--rate", "0", "--cooldown", "1s", "--lock", filepath.Join(dir, "lock"))
	checkHitlistRecords(t, readRecords(t, []byte(jsonLines(out))), want, results.OutcomeReply)
	if out := run("census", "--passes", "2", "--cooldown", "500ms"); !hasRow(out, lab.Target6+" vp1 icmp 20 1.00") {
		t.Fatalf("census does not find the 20 addresses of %s:\n%s", lab.Target6, out)
	}
	run("run", "--rounds", "2")
	// The rounds run judged, not the live verdict of rounds no one probed.
	verdicts := func(level string) map[string]results.Verdict {
		return lastVerdicts(accVerdicts(t, lab.Binary(t), cfg, "--level", level, "--since", "10m"))
	}
	blocks := verdicts("block")
	if v, ok := blocks[lab.Target6]; !ok || v.DataPlane != results.PlaneUp {
		t.Fatalf("block %s: %+v (found %v), want up: %v", lab.Target6, v, ok, blocks)
	}
	for level, entity := range map[string]string{"prefix": "2001:db8::/32", "asn": results.ASEntity(64511)} {
		if v, ok := verdicts(level)[entity]; !ok || v.DataPlane != results.PlaneUp {
			t.Errorf("%s %s: %+v (found %v), want up", level, entity, v, ok)
		}
	}
	l.Fault(t, "border-cut")
	run("run", "--rounds", "2")
	l.Restore(t)
	if v := verdicts("block")[lab.Target6]; v.DataPlane != results.PlaneDown {
		t.Errorf("block %s after the border cut: %+v, want down", lab.Target6, v)
	}
	// run probed the census block the Trinocular way and kept its belief.
	st, err := store.Open(t.Context(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bs, err := st.Beliefs(t.Context(), "vp1")
	if err != nil || len(bs) != 1 || bs[0].Block.String() != lab.Target6 || bs[0].State != results.PlaneDown {
		t.Errorf("beliefs %+v, %v: want %s, down", bs, err, lab.Target6)
	}
}

// checkHitlistRecords checks that recs hold one record of outcome for
// every address of want, with the hop limit of a reply two routers away.
func checkHitlistRecords(t *testing.T, recs []results.Record, want map[string]bool, outcome string) {
	t.Helper()
	got := map[string]bool{}
	for _, r := range recs {
		if !want[r.Target] || got[r.Target] || r.Outcome != outcome || r.ReplyTTL != 62 || r.Vantage == "" {
			t.Fatalf("bad or repeated record %+v", r)
		}
		got[r.Target] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d of the %d hitlist addresses have a record", len(got), len(want))
	}
}

// jsonLines keeps the lines of out that are JSON objects (stderr's lines
// come mixed in with CombinedOutput).
func jsonLines(out string) string {
	var b strings.Builder
	for _, ln := range strings.Split(out, "\n") {
		if strings.HasPrefix(ln, "{") {
			b.WriteString(ln + "\n")
		}
	}
	return b.String()
}

// lastVerdicts is the last verdict of each entity (the verdicts of a
// --since window come oldest first).
func lastVerdicts(vs []results.Verdict) map[string]results.Verdict {
	m := map[string]results.Verdict{}
	for _, v := range vs {
		m[v.Entity] = v
	}
	return m
}
