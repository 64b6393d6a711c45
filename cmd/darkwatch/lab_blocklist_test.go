package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/internal/cli"
	"darkwatch/probe/lab"
)

// blockedForms are spellings of addresses the default blocklist holds, each
// of which a careless check would let through: zones, and IPv4 carried in IPv6
// (mapped, NAT64, 6to4, IPv4-compatible). They name only loopback and
// TEST-NET-1 (192.0.2.0/24, blocked unless allowed), so that even a broken
// check would send nowhere else; the IPv6 ranges set aside (3fff::/20,
// 5f00::/16, fec0::/10, 100::/64) are checked without a packet by
// schedule's TestBlocklistSpellings.
var blockedForms = []string{
	"::1%lo", "::1%x", "::ffff:127.0.0.1", "::ffff:192.0.2.1", "64:ff9b::192.0.2.1",
	"2002:c000:201::1", "::192.0.2.1",
}

// captureSent runs tcpdump on every interface of node and returns a stop
// function yielding the probe packets node sent: echo requests, TCP and UDP.
func captureSent(t *testing.T, l *lab.Lab, node string) func() []string {
	t.Helper()
	return tcpdump(t, l, node, "-i", "any", "-n", "-l", "-B", "16384",
		"(icmp and icmp[0] == 8) or (icmp6 and ip6[40] == 128) or tcp or udp")
}

// TestLabBlocklistForms tries every blocked spelling with probe, sweep, run
// and config hosts, and shows by a capture on all of the vantage's interfaces
// that nothing was sent and that each command says why.
func TestLabBlocklistForms(t *testing.T) {
	// says reports whether a message gives the reason: the range and that
	// darkwatch does not probe it.
	says := func(out string) bool {
		return strings.Contains(out, "never probes") || strings.Contains(out, "blocklist")
	}
	l := lab.Start(t)
	dir := t.TempDir()
	dw := func(args ...string) (int, string) {
		args = append([]string{"--allow", "198.18.0.0/15"}, args...)
		cmd := l.Command(t.Context(), "vp1", lab.Binary(t), args...)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	for _, method := range []string{"icmp", "tcp --port 80", "trace --max-ttl 3", "dns --qname dw.example."} {
		t.Run("probe "+method, func(t *testing.T) {
			stop := captureSent(t, l, "vp1")
			for _, form := range blockedForms {
				code, out := dw(append(append([]string{"probe"}, strings.Fields(method)...), "--timeout", "300ms", form)...)
				if code == 0 || !says(out) {
					t.Errorf("probe %s %s: exit %d, no word of the blocklist:\n%s", method, form, code, out)
				}
			}
			if sent := stop(); len(sent) > 0 {
				t.Errorf("packets sent to blocked forms:\n%s", strings.Join(sent, "\n"))
			}
		})
	}
	t.Run("sweep", func(t *testing.T) {
		stop := captureSent(t, l, "vp1")
		for _, form := range append(blockedForms, "127.0.0.0/30", "192.0.2.0/28") {
			code, out := dw("sweep", "--targets", form, "--rate", "0", "--cooldown", "200ms", "--out", os.DevNull,
				"--lock", filepath.Join(dir, "lock"))
			if code != cli.Usage || !says(out) {
				t.Errorf("sweep --targets %s: exit %d, no word of the blocklist:\n%s", form, code, out)
			}
		}
		if sent := stop(); len(sent) > 0 {
			t.Errorf("packets sent to blocked forms:\n%s", strings.Join(sent, "\n"))
		}
	})
	t.Run("sweep overlapping a blocked range", func(t *testing.T) {
		cfg := filepath.Join(dir, "overlap.yaml")
		os.WriteFile(cfg, []byte("blocklist: [198.18.71.0/24]\n"), 0o600)
		stop := captureSent(t, l, "vp1")
		code, out := dw("--config", cfg, "sweep", "--targets", "198.18.70.0/23", "--rate", "0", "--per-block-rate", "0",
			"--cooldown", "300ms", "--out", os.DevNull, "--lock", filepath.Join(dir, "lock"))
		sent := stop()
		if code > 1 {
			t.Fatalf("sweep: exit %d\n%s", code, out)
		}
		allowed, blocked := 0, 0
		for _, ln := range sent {
			switch {
			case strings.Contains(ln, "> 198.18.70."):
				allowed++
			case strings.Contains(ln, "> 198.18.71."):
				blocked++
			}
		}
		if allowed != 256 || blocked != 0 || !strings.Contains(out, "256 of the 512 addresses given are on the blocklist") {
			t.Errorf("sent %d to the allowed /24 and %d to the blocked one; want 256 and 0, and the count said:\n%s", allowed, blocked, out)
		}
	})
	t.Run("run and config hosts", func(t *testing.T) {
		stop := captureSent(t, l, "vp1")
		for i, form := range blockedForms {
			cfg := filepath.Join(dir, "run.yaml")
			os.WriteFile(cfg, []byte(`vantage: vp1
metrics: "off"
probe: {timeout: 300ms}
targets:
  - name: lab
    prefixes: [198.18.80.0/30]
    methods: [icmp]
    hosts: [{addr: "`+form+`", methods: [icmp, "tcp:80"]}]
`), 0o600)
			recs := filepath.Join(dir, "run.jsonl")
			os.Remove(recs)
			code, out := dw("--config", cfg, "run", "--round", "1s", "--rounds", "1", "--no-align", "--out", recs)
			if code == cli.Usage && says(out) {
				continue // the configuration itself refused, saying why
			}
			b, _ := os.ReadFile(recs)
			said := 0
			for _, r := range readRecords(t, b) {
				if !strings.HasPrefix(r.Target, "198.18.80.") && r.Outcome == "error" && says(r.Error) {
					said++
				}
			}
			if code > 1 || said != 2 {
				t.Errorf("run with host %d %s: exit %d, %d records saying why, want 2 (icmp, tcp:80):\n%s\n%s", i, form, code, said, out, b)
			}
		}
		sent := stop()
		for _, ln := range sent {
			if !strings.Contains(ln, "> 198.18.80.") {
				t.Errorf("packet sent to a blocked form: %s", ln)
			}
		}
	})
}
