package main

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

// The lab comparison of darkwatch's icmp and dns methods with the tools every
// operator trusts: ping (iputils) and dig (BIND 9), run side by side from vp1.

// icmpDNSRun runs the darkwatch binary in node with the lab ranges allowed and
// --json, and returns its records and exit status.
func icmpDNSRun(t *testing.T, l *lab.Lab, node, bin string, args ...string) ([]results.Record, int) {
	t.Helper()
	return labDarkwatchIn(t, l, node, bin, args...)
}

// pingResult is what ping printed: replies received and their TTLs.
type pingResult struct {
	received    int
	ttls        []int
	unreachable bool
	out         string
}

var (
	pingTTL      = regexp.MustCompile(`icmp_seq=\d+ (?:ttl|hlim)=(\d+)`)
	pingReceived = regexp.MustCompile(`(\d+) (?:packets )?received`)
)

// runPing runs `ping -c 3 -W 2` in node. A ping that gets no reply exits 1;
// that is a result, not a failure of the test.
func runPing(t *testing.T, l *lab.Lab, node, target string) pingResult {
	t.Helper()
	out, err := l.Command(t.Context(), node, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", target).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("ping %s: %v\n%s", target, err, out)
	}
	r := pingResult{out: string(out), unreachable: bytes.Contains(bytes.ToLower(out), []byte("unreachable"))}
	for _, m := range pingTTL.FindAllSubmatch(out, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		r.ttls = append(r.ttls, n)
	}
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping %s: no summary line\n%s", target, out)
	}
	r.received, _ = strconv.Atoi(string(m[1]))
	t.Logf("ping %s:\n%s", target, out)
	return r
}

func TestLabICMPAgreesWithPing(t *testing.T) {
	l := lab.Start(t)
	bin := lab.Binary(t)
	targets := []string{"198.18.3.4", "2001:db8:1::1234"}

	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			recs, code := icmpDNSRun(t, l, "vp1", bin, "probe", "icmp", "--count", "3", "--interval", "200ms", "--timeout", "2s", target)
			ping := runPing(t, l, "vp1", target)
			if code != 0 || len(recs) != 3 {
				t.Fatalf("darkwatch: exit %d with %d records, want 0 with 3", code, len(recs))
			}
			if ping.received != 3 || len(ping.ttls) != 3 {
				t.Fatalf("ping received %d replies, want 3", ping.received)
			}
			for i, r := range recs {
				if r.Outcome != results.OutcomeReply || r.Target != target || r.Seq != i+1 || r.RTTms <= 0 {
					t.Errorf("record %d: %+v, want a reply", i, r)
				}
				if r.ReplyTTL != ping.ttls[0] {
					t.Errorf("record %d: reply_ttl %d, ping saw ttl %d", i, r.ReplyTTL, ping.ttls[0])
				}
			}
		})
	}

	t.Run("border-cut", func(t *testing.T) {
		l.Fault(t, "border-cut")
		defer l.Restore(t)
		for _, target := range targets {
			t.Run(target, func(t *testing.T) {
				recs, code := icmpDNSRun(t, l, "vp1", bin, "probe", "icmp", "--count", "3", "--interval", "200ms", "--timeout", "2s", target)
				ping := runPing(t, l, "vp1", target)
				if code != 1 || len(recs) != 3 {
					t.Errorf("darkwatch: exit %d with %d records, want 1 with 3", code, len(recs))
				}
				for i, r := range recs {
					if r.Outcome != results.OutcomeTimeout {
						t.Errorf("record %d: outcome %s, want timeout (%+v)", i, r.Outcome, r)
					}
				}
				if ping.received != 0 || ping.unreachable {
					t.Errorf("ping received %d replies (unreachable reported: %v), want silence", ping.received, ping.unreachable)
				}
			})
		}
	})

	t.Run("restored", func(t *testing.T) {
		recs, code := icmpDNSRun(t, l, "vp1", bin, "probe", "icmp", "--count", "1", "--timeout", "2s", targets[0])
		if code != 0 || len(recs) != 1 || recs[0].Outcome != results.OutcomeReply {
			t.Errorf("after Restore: exit %d, %+v", code, recs)
		}
	})
}

// digHeader is what dig prints of a reply's header.
type digHeader struct {
	rcode   string
	aa      bool
	answers int
	tcp     bool // dig retried over TCP after a truncated UDP answer
}

var (
	digStatus = regexp.MustCompile(`->>HEADER<<- opcode: \w+, status: (\w+),`)
	digFlags  = regexp.MustCompile(`;; flags:([a-z ]*);.*ANSWER: (\d+),`)
)

// runDig runs `dig +norec +noedns` in node and reads the header of the last
// reply it printed (after a TCP retry, the TCP one).
func runDig(t *testing.T, l *lab.Lab, node, server, qname, qtype string) digHeader {
	t.Helper()
	out := l.Run(t, node, "dig", "@"+server, "+norec", "+noedns", "+tries=1", "+time=2", qname, qtype)
	t.Logf("dig @%s +norec +noedns %s %s:\n%s", server, qname, qtype, out)
	st := digStatus.FindAllStringSubmatch(out, -1)
	fl := digFlags.FindAllStringSubmatch(out, -1)
	if len(st) == 0 || len(fl) == 0 {
		t.Fatalf("dig printed no header")
	}
	h := digHeader{rcode: st[len(st)-1][1], tcp: strings.Contains(out, "retrying in TCP mode")}
	last := fl[len(fl)-1]
	h.aa = strings.Contains(" "+last[1]+" ", " aa ")
	h.answers, _ = strconv.Atoi(last[2])
	return h
}

func TestLabDNSAgreesWithDig(t *testing.T) {
	l := lab.Start(t)
	bin := lab.Binary(t)
	for _, server := range []string{lab.DNS4, lab.DNS6} {
		for _, q := range []struct {
			qname, qtype string
			rcode        string
			tcp          bool
		}{
			{"www.dw.example", "A", "NOERROR", false},
			{"nope.dw.example", "A", "NXDOMAIN", false},
			{"big.dw.example", "TXT", "NOERROR", true},
		} {
			t.Run(server+"/"+q.qname+"/"+q.qtype, func(t *testing.T) {
				recs, code := icmpDNSRun(t, l, "vp1", bin, "probe", "dns", "--qname", q.qname, "--qtype", q.qtype, "--timeout", "2s", server)
				dig := runDig(t, l, "vp1", server, q.qname, q.qtype)
				if code != 0 || len(recs) != 1 {
					t.Fatalf("darkwatch: exit %d with %d records, want 0 with 1", code, len(recs))
				}
				r := recs[0]
				if r.Outcome != results.OutcomeReply || r.AA == nil || r.Answers == nil {
					t.Fatalf("record %+v, want a reply", r)
				}
				if r.Rcode != dig.rcode || *r.AA != dig.aa || *r.Answers != dig.answers {
					t.Errorf("darkwatch rcode %s aa %v answers %d; dig status %s aa %v answers %d",
						r.Rcode, *r.AA, *r.Answers, dig.rcode, dig.aa, dig.answers)
				}
				if r.Rcode != q.rcode || !*r.AA {
					t.Errorf("rcode %s aa %v, want %s and aa", r.Rcode, *r.AA, q.rcode)
				}
				if (r.Proto == "tcp") != q.tcp || dig.tcp != q.tcp {
					t.Errorf("TCP fallback: darkwatch proto %q, dig retried over TCP %v, want %v", r.Proto, dig.tcp, q.tcp)
				}
				if r.Target != server || r.Port != 53 || r.Qname != q.qname+"." || r.Qtype != q.qtype {
					t.Errorf("record fields: %+v", r)
				}
			})
		}
	}

	t.Run("border-cut", func(t *testing.T) {
		l.Fault(t, "border-cut")
		defer l.Restore(t)
		recs, code := icmpDNSRun(t, l, "vp1", bin, "probe", "dns", "--qname", "www.dw.example", "--timeout", "1s", lab.DNS4)
		if code != 1 || len(recs) != 1 || recs[0].Outcome != results.OutcomeTimeout {
			t.Errorf("exit %d, %+v; want 1 and a timeout", code, recs)
		}
	})
}
