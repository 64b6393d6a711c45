package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

// labAllow exempts the lab's ranges from the default blocklist.
var labAllow = []string{"--allow", "198.18.0.0/15", "--allow", "2001:db8::/32"}

// labDarkwatch runs the darkwatch binary in vp1 with --json and returns its
// records and exit status.
func labDarkwatch(t *testing.T, l *lab.Lab, bin string, args ...string) ([]results.Record, int) {
	t.Helper()
	return labDarkwatchIn(t, l, "vp1", bin, args...)
}

// labDarkwatchIn runs the darkwatch binary in node with the lab ranges allowed
// and --json, and returns its records and exit status.
func labDarkwatchIn(t *testing.T, l *lab.Lab, node, bin string, args ...string) ([]results.Record, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args = append(append(slices.Clone(labAllow), "--json"), args...)
	cmd := l.Command(ctx, node, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("darkwatch %s: %v", strings.Join(args, " "), err)
	}
	var recs []results.Record
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r results.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("darkwatch %s: line %q: %v\nstderr: %s", strings.Join(args, " "), sc.Text(), err, stderr.String())
		}
		recs = append(recs, r)
	}
	t.Logf("darkwatch %s: exit %d, %d records\n%s%s", strings.Join(args, " "), code, len(recs), stdout.String(), stderr.String())
	return recs, code
}

// nmapStates runs nmap -sS in vp1 and returns port → state.
func nmapStates(t *testing.T, l *lab.Lab, args ...string) map[string]string {
	t.Helper()
	out := l.Run(t, "vp1", "nmap", append([]string{"-sS", "-n", "-Pn"}, args...)...)
	states := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasSuffix(f[0], "/tcp") {
			states[strings.TrimSuffix(f[0], "/tcp")] = f[1]
		}
	}
	if len(states) == 0 {
		t.Fatalf("nmap printed no port lines:\n%s", out)
	}
	return states
}

// tracerouteHops runs traceroute -n -q 1 in vp1 and returns the address of each
// hop, "" where it printed *.
func tracerouteHops(t *testing.T, l *lab.Lab, args ...string) []string {
	t.Helper()
	out := l.Run(t, "vp1", "traceroute", append([]string{"-n", "-q", "1", "-w", "2"}, args...)...)
	var hops []string
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		addr := f[1]
		if addr == "*" {
			addr = ""
		}
		hops = append(hops, addr)
	}
	t.Logf("traceroute %s:\n%s", strings.Join(args, " "), out)
	return hops
}

// traceHops is the address of each hop of one trace record.
func traceHops(t *testing.T, recs []results.Record) []string {
	t.Helper()
	if len(recs) != 1 {
		t.Fatalf("got %d trace records, want 1", len(recs))
	}
	var hops []string
	for i, h := range recs[0].Hops {
		if h.TTL != i+1 {
			t.Errorf("hop %d has ttl %d", i+1, h.TTL)
		}
		hops = append(hops, h.Addr)
	}
	return hops
}

// TestLabTCPTrace compares darkwatch's tcp and trace probes with nmap and
// traceroute from the same vantage in the lab: vp1 → r1 → border → target.
func TestLabTCPTrace(t *testing.T) {
	l := lab.Start(t)
	for _, tool := range []string{"nmap", "traceroute"} {
		if _, err := exec.LookPath(tool); err != nil {
			lab.Missing(t, "%s not found: %v", tool, err)
		}
	}
	bin := lab.Binary(t)

	for _, tc := range []struct{ name, target string }{{"v4", "198.18.1.1"}, {"v6", "2001:db8:1::1"}} {
		t.Run("tcp-vs-nmap-"+tc.name, func(t *testing.T) {
			recs, code := labDarkwatch(t, l, bin, "probe", "tcp", "--port", "80,81,443", tc.target)
			nmapArgs := []string{"-p", "80,81,443", tc.target}
			if tc.name == "v6" {
				nmapArgs = append([]string{"-6"}, nmapArgs...)
			}
			want := nmapStates(t, l, nmapArgs...)
			if code != 0 || len(recs) != 3 {
				t.Fatalf("exit %d with %d records, want 0 and 3", code, len(recs))
			}
			for _, r := range recs {
				port := strconv.Itoa(r.Port)
				if r.Method != results.MethodTCP || r.Target != tc.target || r.Outcome != want[port] {
					t.Errorf("port %s: darkwatch %q (%+v), nmap %q", port, r.Outcome, r, want[port])
				}
			}
			if want["80"] != "open" || want["81"] != "closed" {
				t.Errorf("the lab is not as documented: nmap says %v", want)
			}
		})
	}

	for _, tc := range []struct {
		name, target string
		darkwatch    []string
		traceroute   []string
	}{
		{"icmp-v4", "198.18.7.7", []string{"--proto", "icmp"}, []string{"-I"}},
		{"udp-v4", "198.18.7.7", []string{"--proto", "udp"}, nil},
		{"tcp-v4", "198.18.7.7", []string{"--proto", "tcp", "--port", "80"}, []string{"-T", "-p", "80"}},
		{"icmp-v6", "2001:db8:1::7", []string{"--proto", "icmp"}, []string{"-6", "-I"}},
		{"udp-v6", "2001:db8:1::7", []string{"--proto", "udp"}, []string{"-6"}},
		{"tcp-v6", "2001:db8:1::7", []string{"--proto", "tcp", "--port", "80"}, []string{"-6", "-T", "-p", "80"}},
	} {
		t.Run("trace-vs-traceroute-"+tc.name, func(t *testing.T) {
			recs, code := labDarkwatch(t, l, bin, append(append([]string{"probe", "trace"}, tc.darkwatch...), tc.target)...)
			got := traceHops(t, recs)
			want := tracerouteHops(t, l, append(slices.Clone(tc.traceroute), tc.target)...)
			if !slices.Equal(got, want) {
				t.Errorf("hops differ:\ndarkwatch  %q\ntraceroute %q", got, want)
			}
			r := recs[0]
			if code != 0 || r.Outcome != results.OutcomeReply || r.Reached == nil || !*r.Reached || len(got) != 3 {
				t.Errorf("exit %d, record %+v: want exit 0, the target reached at hop 3", code, r)
			}
			if strings.HasPrefix(tc.name, "icmp") && got[len(got)-1] != tc.target {
				t.Errorf("last hop %s, want the target %s", got[len(got)-1], tc.target)
			}
		})
	}

	t.Run("border-cut", func(t *testing.T) {
		l.Fault(t, "border-cut")
		defer l.Restore(t)
		for _, tc := range []struct{ proto, target, border string }{
			{"icmp", "198.18.7.7", lab.BorderAddr4(1)},
			{"udp", "198.18.7.7", lab.BorderAddr4(1)},
			{"tcp", "198.18.7.7", lab.BorderAddr4(1)},
			{"icmp", "2001:db8:1::7", lab.BorderAddr6(1)},
		} {
			recs, code := labDarkwatch(t, l, bin, "probe", "trace", "--proto", tc.proto, "--timeout", "1s", tc.target)
			hops := traceHops(t, recs)
			last := -1
			for i, h := range hops {
				if h != "" {
					last = i
				}
			}
			r := recs[0]
			if last < 0 || hops[last] != tc.border || last != 1 {
				t.Errorf("%s %s: hops %q: the last answering hop should be the border %s at ttl 2", tc.proto, tc.target, hops, tc.border)
			}
			if code != 1 || r.Reached == nil || *r.Reached || r.Outcome == results.OutcomeReply {
				t.Errorf("%s %s: exit %d, record %+v: want exit 1, not reached", tc.proto, tc.target, code, r)
			}
		}
		// traceroute agrees on the last answering hop.
		want := tracerouteHops(t, l, "-I", "-m", "6", "198.18.7.7")
		if len(want) < 2 || want[1] != lab.BorderAddr4(1) || slices.ContainsFunc(want[2:], func(h string) bool { return h != "" }) {
			t.Errorf("traceroute under border-cut: %q", want)
		}
	})
}
