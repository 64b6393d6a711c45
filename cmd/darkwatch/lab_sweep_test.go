package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/internal/cli"
	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
)

// The lab tests of sweep and run: real sweeps from a vantage namespace of a
// target namespace that answers a whole /16.

// labCmd starts darkwatch in node with the lab ranges allowed.
func labCmd(t *testing.T, l *lab.Lab, node string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	args = append([]string{"--allow", "198.18.0.0/15", "--allow", "2001:db8::/32"}, args...)
	cmd := l.Command(t.Context(), node, lab.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exitCode runs cmd and returns its exit status.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return 0
}

// readRecords parses a JSON Lines file or output; a bad line fails the test.
func readRecords(t *testing.T, b []byte) []results.Record {
	t.Helper()
	var recs []results.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r results.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

var summaryRE = regexp.MustCompile(`sweep \S+: (\d+) targets, sent (\d+), replies (\d+), hits (\d+) \(([\d.]+)%\), duplicates (\d+)`)

// summary parses the sweep's summary line: targets, sent, hits, duplicates.
func summary(t *testing.T, stderr string) (targets, sent, hits, dups int) {
	t.Helper()
	m := summaryRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in %q", stderr)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return n(m[1]), n(m[2]), n(m[4]), n(m[6])
}

func TestLabSweepWholeBlock(t *testing.T) {
	l := lab.Start(t)
	for _, method := range []string{"icmp", "tcp:80"} {
		t.Run(method, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sweep.jsonl")
			cmd, _, stderr := labCmd(t, l, "vp1", "sweep", "--targets", lab.Target4, "--method", method,
				"--rate", lab.FullRate, "--per-block-rate", "0", "--cooldown", "2s", "--out", out, "--lock", filepath.Join(t.TempDir(), "lock"))
			code := exitCode(t, cmd)
			t.Log(stderr.String())
			targets, sent, hits, _ := summary(t, stderr.String())
			if targets != 65536 || sent != 65536 {
				t.Fatalf("targets %d sent %d, want 65536 each", targets, sent)
			}
			if hits*1000 < 65536*999 {
				t.Fatalf("hits %d: below 99.9%% of 65536", hits)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			recs := readRecords(t, b)
			want := results.OutcomeReply
			if method != "icmp" {
				want = results.OutcomeOpen
			}
			seen := map[string]bool{}
			pfx := netip.MustParsePrefix(lab.Target4)
			for _, r := range recs {
				if r.Outcome != want || seen[r.Target] || !pfx.Contains(netip.MustParseAddr(r.Target)) || r.Vantage == "" {
					t.Fatalf("bad or repeated record %+v", r)
				}
				seen[r.Target] = true
			}
			if len(recs) != hits {
				t.Fatalf("%d records for %d hits", len(recs), hits)
			}
			if (code == 0) != (hits == 65536) {
				t.Fatalf("exit %d with %d of 65536 hits", code, hits)
			}
		})
	}
}

// TestLabConcurrentSweeps runs two sweeps of the same targets at once from one
// vantage: each must take all of its own replies and none of the other's.
func TestLabConcurrentSweeps(t *testing.T) {
	l := lab.Start(t)
	const block = "198.18.16.0/20"
	type run struct {
		cmd    *exec.Cmd
		stderr *bytes.Buffer
		out    string
	}
	var runs []run
	for i := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("s%d.jsonl", i))
		cmd, _, stderr := labCmd(t, l, "vp1", "sweep", "--targets", block, "--method", "icmp",
			"--rate", "5000", "--per-block-rate", "0", "--cooldown", "1s", "--out", out, "--lock", filepath.Join(t.TempDir(), "lock"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{cmd, stderr, out})
	}
	for i, r := range runs {
		if err := r.cmd.Wait(); err != nil {
			t.Fatalf("sweep %d: %v\n%s", i, err, r.stderr)
		}
		_, sent, hits, dups := summary(t, r.stderr.String())
		b, _ := os.ReadFile(r.out)
		if sent != 4096 || hits != 4096 || dups != 0 || len(readRecords(t, b)) != 4096 {
			t.Fatalf("sweep %d: sent %d hits %d duplicates %d; want 4096 4096 0\n%s", i, sent, hits, dups, r.stderr)
		}
	}
}

// TestLabOverlappingSweepRefused: a second sweep on the same lock exits at once.
func TestLabOverlappingSweepRefused(t *testing.T) {
	l := lab.Start(t)
	lock := filepath.Join(t.TempDir(), "sweep.lock")
	first, _, firstErr := labCmd(t, l, "vp1", "sweep", "--targets", "198.18.0.0/22", "--rate", "500", "--per-block-rate", "0",
		"--cooldown", "1s", "--out", os.DevNull, "--lock", lock)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first holds the lock (it writes its PID there).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b, _ := os.ReadFile(lock); len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first sweep never took the lock: %s", firstErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	second, stdout, stderr := labCmd(t, l, "vp1", "sweep", "--targets", "198.18.0.0/22", "--out", os.DevNull, "--lock", lock)
	began := time.Now()
	code := exitCode(t, second)
	if code != cli.Failure || !strings.Contains(stderr.String(), "another darkwatch sweep") || time.Since(began) > 5*time.Second {
		t.Fatalf("overlapping sweep: exit %d after %v, stderr %q stdout %q", code, time.Since(began), stderr, stdout)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first sweep: %v\n%s", err, firstErr)
	}
}

// capture runs tcpdump in node and returns a stop function that yields the
// captured lines (-tt -n: epoch timestamps, numeric addresses).
func capture(t *testing.T, l *lab.Lab, node, iface string, filter ...string) func() []string {
	t.Helper()
	return tcpdump(t, l, node, append([]string{"-i", iface, "-n", "-tt", "-l", "-B", "16384", "-Q", "in"}, filter...)...)
}

// tcpdump starts tcpdump with args in node, waits until it listens, and
// returns a stop function that yields the lines it printed (none: nil).
func tcpdump(t *testing.T, l *lab.Lab, node string, args ...string) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cmd := l.Command(ctx, node, "tcpdump", args...)
	var out, errb testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	if err := cmd.Start(); err != nil {
		lab.Missing(t, "tcpdump: %v (apt-get install tcpdump)", err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(errb.String(), "listening on"); {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() []string {
		time.Sleep(300 * time.Millisecond)
		cancel()
		_ = cmd.Wait()
		s := strings.TrimSpace(out.String())
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
}

// TestLabPerBlockCap counts, in a capture on the target's link, the echo
// requests each /24 receives in any one-second window.
func TestLabPerBlockCap(t *testing.T) {
	l := lab.Start(t)
	const perBlock = 40
	stop := capture(t, l, "target", "up0", "icmp[icmptype] == icmp-echo")
	cmd, _, stderr := labCmd(t, l, "vp1", "sweep", "--targets", "198.18.40.0/23", "--method", "icmp",
		"--rate", "0", "--per-block-rate", strconv.Itoa(perBlock), "--cooldown", "500ms", "--out", os.DevNull,
		"--lock", filepath.Join(t.TempDir(), "lock"))
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("sweep exit %d: %s", code, stderr)
	}
	lines := stop()
	times := map[string][]float64{}
	re := regexp.MustCompile(`^(\d+\.\d+) IP 192\.0\.2\.10 > (198\.18\.\d+)\.\d+: ICMP echo request`)
	for _, ln := range lines {
		if m := re.FindStringSubmatch(ln); m != nil {
			ts, _ := strconv.ParseFloat(m[1], 64)
			times[m[2]] = append(times[m[2]], ts)
		}
	}
	total := 0
	for block, ts := range times {
		sort.Float64s(ts)
		total += len(ts)
		for i := range ts {
			n := sort.SearchFloat64s(ts, ts[i]+1) - i
			if n > perBlock+1 {
				t.Fatalf("block %s.0/24 got %d probes within one second of %.6f; cap %d", block, n, ts[i], perBlock)
			}
		}
	}
	if len(times) != 2 || total != 512 {
		t.Fatalf("captured %d probes in %d blocks, want 512 in 2: %v", total, len(times), stderr)
	}
}

// TestLabBlocklistInSweep: only the allowed half of a target block is probed.
func TestLabBlocklistInSweep(t *testing.T) {
	l := lab.Start(t)
	stop := capture(t, l, "target", "up0", "icmp[icmptype] == icmp-echo")
	cmd := l.Command(t.Context(), "vp1", lab.Binary(t), "--allow", "198.18.50.0/24", "sweep",
		"--targets", "198.18.50.0/23", "--rate", "0", "--per-block-rate", "0", "--cooldown", "500ms", "--out", os.DevNull,
		"--lock", filepath.Join(t.TempDir(), "lock"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := stop()
	allowed, blocked := 0, 0
	for _, ln := range lines {
		switch {
		case strings.Contains(ln, "> 198.18.50."):
			allowed++
		case strings.Contains(ln, "> 198.18.51."):
			blocked++
		}
	}
	if allowed != 256 || blocked != 0 {
		t.Fatalf("probes seen: %d to the allowed /24, %d to the blocked one; want 256 and 0\n%s", allowed, blocked, out)
	}
	// Nothing allowed at all: refused with exit 2, nothing sent.
	cmd = l.Command(t.Context(), "vp1", lab.Binary(t), "sweep", "--targets", "198.18.50.0/24", "--lock", filepath.Join(t.TempDir(), "lock2"))
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != cli.Usage || !strings.Contains(string(out), "blocklisted") {
		t.Fatalf("sweep of a blocked range: exit %d, %s", cmd.ProcessState.ExitCode(), out)
	}
}

// writeRunConfig writes a lab config for run: one /16 target set (so a round's
// sweep takes a few seconds at the given rate) and a canary.
func writeRunConfig(t *testing.T, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.yaml")
	cfg := `vantage: vp1
allow: [198.18.0.0/15]
metrics: "off"
rate: {pps: 20000, per_block_pps: 0}
probe: {timeout: 1s}
canaries: [{addr: 198.19.255.1, methods: [icmp]}]
targets:
  - name: lab
    prefixes: [198.18.0.0/16]
    methods: [icmp]
` + extra
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLabRunSIGTERMLosesNothing stops run in the middle of a round's sweep and
// checks that every echo reply the vantage received is in a record.
func TestLabRunSIGTERMLosesNothing(t *testing.T) {
	l := lab.Start(t)
	cfg := writeRunConfig(t, "")
	out := filepath.Join(t.TempDir(), "run.jsonl")
	stop := capture(t, l, "vp1", "up0", "icmp[icmptype] == icmp-echoreply")
	cmd := l.Command(t.Context(), "vp1", lab.Binary(t), "--config", cfg, "run", "--round", "30s", "--no-align", "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // mid-sweep: the /16 takes over 3 s at 20k pps
	// ip netns exec passes the signal on to darkwatch.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, stderr.String())
	}
	lines := stop()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, b)
	got := map[string]bool{}
	for _, r := range recs {
		if r.Outcome == results.OutcomeReply {
			got[r.Target] = true
		}
	}
	re := regexp.MustCompile(` IP (198\.18\.\d+\.\d+) > 192\.0\.2\.10: ICMP echo reply`)
	seen := map[string]bool{}
	for _, ln := range lines {
		if m := re.FindStringSubmatch(ln); m != nil {
			seen[m[1]] = true
		}
	}
	if len(seen) == 0 || len(seen) >= 65536 {
		t.Fatalf("captured %d distinct replies: SIGTERM did not land mid-sweep", len(seen))
	}
	missing := 0
	for a := range seen {
		if !got[a] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d replies received are in no record (records: %d)\n%s", missing, len(seen), len(recs), stderr.String())
	}
	if !strings.Contains(stderr.String(), "every record taken is written") {
		t.Errorf("no closing message: %s", stderr.String())
	}
}

// TestLabRunSIGHUP: a bad new configuration is refused and the old one kept,
// as is one that changes the store, which a running node cannot switch; a
// good one takes effect.
func TestLabRunSIGHUP(t *testing.T) {
	l := lab.Start(t)
	cfg := writeRunConfig(t, "")
	out := filepath.Join(t.TempDir(), "run.jsonl")
	cmd := l.Command(t.Context(), "vp1", lab.Binary(t), "--config", cfg, "run", "--round", "2s", "--out", out)
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor := func(what string) {
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), what); {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("msg=round")
	if err := os.WriteFile(cfg, []byte("vantage: vp1\nround: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("new configuration refused")
	good := strings.Replace(mustRead(t, cfg+".good", writeRunConfig(t, "")), "vantage: vp1", "vantage: vp1b", 1)
	moved := good + "store: sqlite://" + filepath.Join(t.TempDir(), "other.db") + "\n"
	if err := os.WriteFile(cfg, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("store: changed")
	if err := os.WriteFile(cfg, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("configuration reloaded")
	// The next round carries the new vantage name.
	for deadline := time.Now().Add(20 * time.Second); ; {
		b, _ := os.ReadFile(out)
		if bytes.Contains(b, []byte(`"vantage":"vp1b"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record from the reloaded configuration:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
}

func mustRead(t *testing.T, _ string, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLabBlocklistInRun: a target set reaching into a blocked range probes only
// the allowed part, round after round.
func TestLabBlocklistInRun(t *testing.T) {
	l := lab.Start(t)
	path := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(path, []byte(`vantage: vp1
allow: [198.18.60.0/24]
metrics: "off"
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 500ms}
targets:
  - name: lab
    prefixes: [198.18.60.0/23]
    methods: [icmp, "tcp:80", trace]
    hosts: [{addr: 198.18.61.53, methods: [icmp, "dns:dw.example./SOA"]}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := capture(t, l, "target", "up0", "net 198.18.60.0/23")
	out := filepath.Join(t.TempDir(), "run.jsonl")
	cmd := l.Command(t.Context(), "vp1", lab.Binary(t), "--config", path, "run", "--round", "2s", "--rounds", "2", "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, b)
	}
	lines := stop()
	allowed, blocked := 0, 0
	for _, ln := range lines {
		switch {
		case strings.Contains(ln, "> 198.18.60."):
			allowed++
		case strings.Contains(ln, "> 198.18.61."):
			blocked++
		}
	}
	b, _ := os.ReadFile(out)
	recs := readRecords(t, b)
	for _, r := range recs {
		if strings.HasPrefix(r.Target, "198.18.61.") && r.Outcome != results.OutcomeError {
			t.Fatalf("a record of a probe to a blocked address: %+v", r)
		}
	}
	if allowed < 2*256 || blocked != 0 || len(recs) < 2*2*256 {
		t.Fatalf("packets to the allowed /24: %d, to the blocked one: %d, records %d; want >= 512, 0, >= 1024", allowed, blocked, len(recs))
	}
}
