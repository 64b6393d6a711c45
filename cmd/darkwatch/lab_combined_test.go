package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
)

// TestLabCombinedVerdicts runs three vantage points into one store, and
// `darkwatch serve` in the collector namespace as the passive BGP collector of
// BIRD's announcements into the same store, and walks both planes through
// DESIGN.md's table: a /24 withdrawn under its announced /16 while its hosts
// answer is reachable-unrouted; the border cut with the routes kept is a
// data-plane outage; the four /24s withdrawn and the border cut is a
// control-plane outage. The withdrawal must reach the store within seconds.
func TestLabCombinedVerdicts(t *testing.T) {
	l := lab.Start(t)
	bin := lab.Binary(t)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "darkwatch.db")
	const round = 2 * time.Second
	cfg := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`allow: [198.18.0.0/15]
store: %s
metrics: "off"
round: 2s
quorum: 2
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 500ms}
canaries: [{addr: 198.19.255.1, methods: [icmp]}]
targets:
  - name: lab
    prefixes: [198.18.0.0/22]
    asn: 64500
    country: ZZ
    methods: [icmp]
serve: {listen: "%s:8080", nats: {listen: "%s:4222", insecure_plaintext: true, store_dir: %s}}
bgp: {local_asn: %d, listen: "%s:179", peers: [{addr: %s, asn: %d}], full_feed: {ipv4: 0, ipv6: 0}}
`, db, lab.Collector4, lab.Collector4, filepath.Join(dir, "nats"), lab.CollectorASN, lab.Collector4, lab.BorderBGP4, lab.BorderASN)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(node string, args ...string) func() {
		cmd := l.Command(t.Context(), node, bin, append([]string{"--config", cfg}, args...)...)
		var stderr testenv.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("%s %s: %v\n%s", node, args, err, stderr.String())
			}
		}
	}
	stopServe := start("col", "--vantage", "collector", "serve")
	// The collector first: BIRD's routes are in the store before the rounds.
	waitState(t, cfg, "198.18.1.0/24", "announced", 15*time.Second)
	var stops []func()
	for i := 1; i <= 3; i++ {
		stops = append(stops, start(fmt.Sprintf("vp%d", i), "--vantage", fmt.Sprintf("vp%d", i), "run", "--cooldown", "500ms"))
	}

	type phase struct {
		name       string
		withdraw   []string
		cut        bool
		start, end time.Time
	}
	all := []string{"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24"}
	phases := []*phase{
		{name: "baseline"},
		{name: "one /24 withdrawn", withdraw: []string{"198.18.1.0/24"}},
		{name: "border cut, routes kept", cut: true},
		{name: "withdrawn and cut", withdraw: all, cut: true},
		{name: "healed"},
	}
	for _, p := range phases {
		for _, w := range p.withdraw {
			l.Fault(t, "withdraw", w)
		}
		if len(p.withdraw) > 0 {
			began := time.Now()
			waitState(t, cfg, p.withdraw[0], "withdrawn", 5*time.Second)
			t.Logf("%s: control plane withdrawn in the store %v after the withdrawal", p.name, time.Since(began).Round(time.Millisecond))
		}
		if p.cut {
			l.Fault(t, "border-cut")
		}
		p.start = time.Now()
		time.Sleep(8 * round)
		p.end = time.Now()
		l.Restore(t)
	}
	for _, stop := range stops {
		stop()
	}
	stopServe()

	out, err := exec.Command(bin, "--config", cfg, "verdict", "--level", "block", "--since", "10m", "--json").Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("verdict: %v", err)
	}
	var vs []results.Verdict
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var v results.Verdict
		if err := json.Unmarshal([]byte(ln), &v); err != nil {
			t.Fatalf("verdict line %q: %v", ln, err)
		}
		vs = append(vs, v)
	}
	for _, c := range []struct {
		phase  *phase
		entity string
		want   string
	}{
		{phases[0], "198.18.1.0/24", results.VerdictReachable},
		{phases[1], "198.18.1.0/24", results.VerdictReachableUnrouted},
		{phases[1], "198.18.2.0/24", results.VerdictReachable},
		{phases[2], "198.18.1.0/24", results.VerdictDataPlaneOutage},
		{phases[2], "198.18.3.0/24", results.VerdictDataPlaneOutage},
		{phases[3], "198.18.0.0/24", results.VerdictControlPlaneOutage},
		{phases[3], "198.18.3.0/24", results.VerdictControlPlaneOutage},
		{phases[4], "198.18.1.0/24", results.VerdictReachable},
	} {
		// The phase's verdicts, less its first two rounds (a change takes
		// up to two to show) and its last. A round that a loaded machine
		// left some vantage without records has an uncertain data plane
		// (too few vantages for the quorum): that much is allowed, in a
		// minority of rounds, and nothing else.
		var got []string
		matched, other := 0, false
		for _, v := range vs {
			if v.Entity == c.entity && v.Time.After(c.phase.start.Add(2*round)) && v.Time.Before(c.phase.end.Add(-round)) {
				got = append(got, v.Verdict+"/"+v.DataPlane)
				switch {
				case v.Verdict == c.want:
					matched++
				case v.DataPlane != results.PlaneUncertain:
					other = true
				}
			}
		}
		if other || 2*matched <= len(got) {
			t.Errorf("%s: %s is %v, want %s (a round uncertain at most now and then)", c.phase.name, c.entity, got, c.want)
		}
	}
}

// waitState waits until `bgp show PREFIX` says the prefix's latest state is
// state, for at most d.
func waitState(t *testing.T, cfg, prefix, state string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last []byte
	for time.Now().Before(deadline) {
		out, _ := exec.Command(lab.Binary(t), "--config", cfg, "bgp", "show", prefix, "--json").Output()
		last = out
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var v struct {
			State string `json:"control_plane"`
		}
		if json.Unmarshal([]byte(lines[len(lines)-1]), &v) == nil && v.State == state {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not %s in the store after %v; bgp show says:\n%s", prefix, state, d, last)
}
