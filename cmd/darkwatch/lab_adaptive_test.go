package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/store"
)

// TestLabAdaptiveRounds: after a census, run probes each census block with one
// periodic probe a round while it is certainly up, more (at most the budget)
// when it goes silent, finds it down, and keeps its beliefs in the store so
// that a restarted run continues from them.
func TestLabAdaptiveRounds(t *testing.T) {
	l := lab.Start(t)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "darkwatch.db")
	cfg := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(cfg, []byte(`vantage: vp1
allow: [198.18.0.0/15]
store: sqlite://`+dbPath+`
metrics: "off"
round: 2s
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 300ms}
targets:
  - name: lab
    prefixes: [198.18.0.0/22]
    methods: [icmp]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		out, err := l.Command(t.Context(), "vp1", lab.Binary(t), append([]string{"--config", cfg}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("census", "--passes", "2", "--cooldown", "500ms"); !strings.Contains(out, "198.18.3.0/24") {
		t.Fatalf("census: %s", out)
	}
	// A tcp:80 census is one of its own: it neither replaces the icmp census
	// nor adds blocks to the adaptive ICMP rounds (a block probed twice a
	// round while up would show below).
	if out := run("census", "--method", "tcp:80", "--passes", "1", "--cooldown", "500ms"); !strings.Contains(out, "METHOD") ||
		!strings.Contains(out, "tcp:80") {
		t.Fatalf("census --method tcp:80: %s", out)
	}
	run("run", "--rounds", "2")
	l.Fault(t, "border-cut")
	run("run", "--rounds", "2")
	l.Restore(t)

	st, err := store.Open(t.Context(), "sqlite://"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	census, err := st.Blocks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]int{}
	for _, b := range census {
		if !b.Prefix.IsSingleIP() {
			methods[b.Method]++
		}
	}
	if methods["icmp"] != 4 || methods["tcp:80"] != 4 || len(methods) != 2 {
		t.Errorf("census blocks by method %v, want 4 of icmp and 4 of tcp:80", methods)
	}
	bs, err := st.Beliefs(t.Context(), "vp1")
	if err != nil || len(bs) != 4 {
		t.Fatalf("beliefs %v, %v: want the 4 census blocks", bs, err)
	}
	for _, b := range bs {
		if b.State != results.PlaneDown {
			t.Errorf("block %s ended %s (B(U) %.3f) after the border cut, want down", b.Block, b.State, b.BU)
		}
	}
	recs, err := st.Records(t.Context(), store.Query{Since: time.Now().Add(-time.Hour), Method: results.MethodICMP})
	if err != nil {
		t.Fatal(err)
	}
	perRound := map[int64]map[string]int{}
	for _, r := range recs {
		if r.Seq == 0 || r.Outcome == results.OutcomeError {
			continue // census and sweep records
		}
		blk := results.CensusBlock(mustAddr(r.Target)).String()
		if perRound[r.Round] == nil {
			perRound[r.Round] = map[string]int{}
		}
		perRound[r.Round][blk]++
	}
	if len(perRound) != 4 {
		t.Fatalf("adaptive probes in %d rounds, want 4: %v", len(perRound), perRound)
	}
	for k, m := range perRound {
		for blk, n := range m {
			if n < 1 || n > results.ProbeBudget {
				t.Errorf("round %d block %s: %d probes, want 1..%d", k, blk, n, results.ProbeBudget)
			}
		}
	}
	// While up, a block costs one probe a round.
	up := 0
	for _, m := range perRound {
		for _, n := range m {
			if n == 1 {
				up++
			}
		}
	}
	if up < 8 {
		t.Errorf("only %d block-rounds with a single probe: %v", up, perRound)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
