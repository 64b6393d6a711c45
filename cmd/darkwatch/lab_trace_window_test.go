package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

// icmpInCounts reads, from node's /proc/net/snmp, how many echo replies and
// time-exceeded messages the namespace has received.
func icmpInCounts(t *testing.T, l *lab.Lab, node string) (echoReplies, timeExceeded int) {
	t.Helper()
	var names, values []string
	for _, line := range strings.Split(l.Run(t, node, "cat", "/proc/net/snmp"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "Icmp:" {
			if names == nil {
				names = f
			} else {
				values = f
			}
		}
	}
	get := func(name string) int {
		i := slices.Index(names, name)
		if i < 0 || i >= len(values) {
			t.Fatalf("/proc/net/snmp of %s has no Icmp %s", node, name)
		}
		n, err := strconv.Atoi(values[i])
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return get("InEchoReps"), get("InTimeExcds")
}

// TestLabTraceFirstWindow sweeps Paris ICMP traces over four targets 3 hops
// away and counts the answers vp1 receives. Four in one /24: the first trace
// sends TTLs 1-4 (or 1-3, when the answer to TTL 3 is in before TTL 4 goes);
// it tells the other three that their destinations answer at TTL 3, so they
// send TTLs 1-3 only: 4 or 5 echo replies in all. Four in four /24s: each
// trace is the first of its prefix and may send TTL 4 (up to 8 echo replies).
// Every trace finds the same 3 hops either way.
func TestLabTraceFirstWindow(t *testing.T) {
	l := lab.StartN(t, 1)
	bin := lab.Binary(t)
	// Neighbours resolved first, so that no answer of the traces is lost to ARP.
	l.Run(t, "vp1", "ping", "-c", "1", "-W", "5", "198.18.9.1")
	for _, tc := range []struct {
		name    string
		targets []string
		echoes  int // at most
	}{
		{"one-prefix", []string{"198.18.9.4", "198.18.9.5", "198.18.9.6", "198.18.9.7"}, 5},
		{"four-prefixes", []string{"198.18.10.4", "198.18.11.4", "198.18.12.4", "198.18.13.4"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			echo0, te0 := icmpInCounts(t, l, "vp1")
			recs, code := labDarkwatch(t, l, bin, "sweep", "--method", "trace", "--rate", "0",
				"--per-block-rate", "0", "--targets", strings.Join(tc.targets, ","))
			echo1, te1 := icmpInCounts(t, l, "vp1")
			if code != 0 || len(recs) != len(tc.targets) {
				t.Fatalf("exit %d with %d records, want 0 and %d", code, len(recs), len(tc.targets))
			}
			for _, r := range recs {
				hops := traceHops(t, []results.Record{r})
				want := []string{lab.RouterAddr4(1), lab.BorderAddr4(1), r.Target}
				if !slices.Equal(hops, want) || r.Reached == nil || !*r.Reached {
					t.Errorf("%s: hops %q reached %v, want %q", r.Target, hops, r.Reached, want)
				}
			}
			if n := echo1 - echo0; n < len(tc.targets) || n > tc.echoes || te1-te0 != 2*len(tc.targets) {
				t.Errorf("vp1 received %d echo replies and %d time-exceeded, want %d to %d and %d",
					n, te1-te0, len(tc.targets), tc.echoes, 2*len(tc.targets))
			}
		})
	}
}
