package report

import (
	"time"

	"darkwatch/results"
)

// The fixture is a lab run of six 11-minute rounds from three vantages. The
// border is cut in rounds 3 and 4: 198.18.0.0/22 goes dark (its traces stop at
// the border router 203.0.113.9) and is withdrawn in round 4; 198.18.8.0/22
// stays up but for one vantage's unreachable in round 2, when vp-sin1's own
// uplink is cut (vantage-down).
var (
	t0       = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	roundLen = 11 * time.Minute
	vantages = []string{"vp-fra1", "vp-nyc1", "vp-sin1"}
	// base RTT per vantage, ms
	baseRTT = map[string]float64{"vp-fra1": 12.5, "vp-nyc1": 48.25, "vp-sin1": 161.0}
)

const (
	rounds     = 6
	borderHop  = "203.0.113.9"
	hostA      = "198.18.1.10" // in the prefix that is cut
	dnsA       = "198.18.1.53"
	hostB      = "198.18.8.7" // in the prefix that stays up
	hostV6     = "2001:db8::7"
	cutFrom    = 3 // first round of the border cut
	cutTo      = 4 // last round of the border cut
	sinDown    = 2 // the round vp-sin1 is vantage-down
	nycUnreach = 2 // the round vp-nyc1 gets an unreachable from hostB
)

func at(round int, v string, ms int) time.Time {
	vi := 0
	for i, name := range vantages {
		if name == v {
			vi = i
		}
	}
	return t0.Add(time.Duration(round)*roundLen + time.Duration(vi)*time.Second + time.Duration(ms)*time.Millisecond)
}

func fixtureRecords() []results.Record {
	var recs []results.Record
	add := func(r results.Record) { recs = append(recs, r) }
	for round := range rounds {
		cut := round >= cutFrom && round <= cutTo
		for _, v := range vantages {
			dark := v == "vp-sin1" && round == sinDown
			rtt := func(extra float64) float64 { return baseRTT[v] + float64(round)*0.125 + extra }
			rec := func(ms int, method, target string, port, seq int) results.Record {
				return results.Record{Time: at(round, v, ms), Vantage: v, Round: int64(100 + round),
					Method: method, Target: target, Port: port, Seq: seq}
			}
			for seq := range 2 {
				r := rec(10+seq*1000, results.MethodICMP, hostA, 0, seq)
				if cut || dark {
					r.Outcome = results.OutcomeTimeout
				} else {
					r.Outcome, r.RTTms, r.ReplyTTL = results.OutcomeReply, rtt(float64(seq)*0.5), 61
				}
				add(r)
			}
			r := rec(20, results.MethodICMP, hostB, 0, 0)
			switch {
			case dark:
				r.Outcome = results.OutcomeTimeout
			case v == "vp-nyc1" && round == nycUnreach:
				r.Outcome, r.ICMP = results.OutcomeUnreachable, "dest-unreachable/host"
			default:
				r.Outcome, r.RTTms, r.ReplyTTL = results.OutcomeReply, rtt(1), 58
			}
			add(r)

			r = rec(30, results.MethodTCP, hostA, 80, 0)
			if cut || dark {
				r.Outcome = results.OutcomeTimeout
			} else {
				r.Outcome, r.RTTms, r.ReplyTTL = results.OutcomeOpen, rtt(0.25), 61
			}
			add(r)
			r = rec(40, results.MethodTCP, hostB, 443, 0)
			if dark {
				r.Outcome = results.OutcomeTimeout
			} else {
				r.Outcome, r.RTTms, r.ReplyTTL = results.OutcomeClosed, rtt(1.25), 58
			}
			add(r)

			r = rec(50, results.MethodDNS, dnsA, 53, 0)
			r.Qname, r.Qtype = "kp.", "SOA"
			if cut || dark {
				r.Outcome = results.OutcomeTimeout
			} else {
				r.Outcome, r.RTTms, r.Rcode, r.AA, r.Answers = results.OutcomeReply, rtt(2), "NOERROR", results.Bool(true), results.Int(1)
				if v == "vp-fra1" && round == 5 {
					r.Proto = "tcp" // truncated over UDP, retried over TCP
				}
			}
			add(r)
		}
	}

	// Traces: vp-fra1 to hostA before and during the cut, vp-nyc1 a UDP trace
	// through an ECMP pair to hostB, vp-sin1 a TCP trace to hostB.
	add(results.Record{Time: at(0, "vp-fra1", 500), Vantage: "vp-fra1", Round: 100, Method: results.MethodTrace,
		Proto: "icmp", Target: hostA, Outcome: results.OutcomeReply, RTTms: 12.75, ReplyTTL: 61, ICMP: "echo-reply",
		Reached: results.Bool(true), Hops: []results.Hop{
			{TTL: 1, Addr: "192.0.2.1", RTTms: 0.4, ICMP: "time-exceeded"},
			{TTL: 2, Addr: borderHop, RTTms: 6.125, ICMP: "time-exceeded"},
			{TTL: 3, Addr: hostA, RTTms: 12.75, ICMP: "echo-reply"},
		}})
	add(results.Record{Time: at(cutFrom, "vp-fra1", 500), Vantage: "vp-fra1", Round: 100 + cutFrom, Method: results.MethodTrace,
		Proto: "icmp", Target: hostA, Outcome: results.OutcomeTimeout, Reached: results.Bool(false), Hops: []results.Hop{
			{TTL: 1, Addr: "192.0.2.1", RTTms: 0.375, ICMP: "time-exceeded"},
			{TTL: 2, Addr: borderHop, RTTms: 6.25, ICMP: "time-exceeded"},
			{TTL: 3}, {TTL: 4},
		}})
	add(results.Record{Time: at(1, "vp-nyc1", 500), Vantage: "vp-nyc1", Round: 101, Method: results.MethodTrace,
		Proto: "udp", Target: hostB, Port: 33434, Outcome: results.OutcomeReply, RTTms: 49.5, ReplyTTL: 58,
		ICMP: "dest-unreachable/port", Reached: results.Bool(true), Hops: []results.Hop{
			{TTL: 1, Addr: "198.51.100.1", RTTms: 0.5, ICMP: "time-exceeded"},
			{TTL: 2, Addr: "203.0.113.5", RTTms: 20.25, ICMP: "time-exceeded"},
			{TTL: 2, Addr: "203.0.113.6", RTTms: 21.5, ICMP: "time-exceeded"},
			{TTL: 3, Addr: hostB, RTTms: 49.5, ICMP: "dest-unreachable/port"},
		}})
	add(results.Record{Time: at(cutTo, "vp-sin1", 500), Vantage: "vp-sin1", Round: 100 + cutTo, Method: results.MethodTrace,
		Proto: "tcp", Target: hostB, Port: 443, Outcome: results.OutcomeReply, RTTms: 162.5, ReplyTTL: 58, ICMP: "rst",
		Reached: results.Bool(true), Hops: []results.Hop{
			{TTL: 1, Addr: "192.0.2.129", RTTms: 0.625, ICMP: "time-exceeded"},
			{TTL: 2},
			{TTL: 3, Addr: hostB, RTTms: 162.5, ICMP: "rst"},
		}})
	// After the withdrawal the border router has no route any more.
	add(results.Record{Time: at(cutTo, "vp-nyc1", 500), Vantage: "vp-nyc1", Round: 100 + cutTo, Method: results.MethodTrace,
		Proto: "icmp", Target: hostA, Outcome: results.OutcomeUnreachable, ICMP: "dest-unreachable/net",
		Reached: results.Bool(false), Hops: []results.Hop{
			{TTL: 1, Addr: "198.51.100.1", RTTms: 0.5, ICMP: "time-exceeded"},
			{TTL: 2, Addr: borderHop, RTTms: 41.125, ICMP: "dest-unreachable/net"},
		}})
	// A trace the prober refused to send.
	add(results.Record{Time: at(2, "vp-nyc1", 500), Vantage: "vp-nyc1", Round: 102, Method: results.MethodTrace,
		Proto: "icmp", Target: "198.18.9.20", Outcome: results.OutcomeError, Error: "not sent: 198.18.9.20 is blocklisted"})
	// An IPv6 ping.
	add(results.Record{Time: at(0, "vp-fra1", 600), Vantage: "vp-fra1", Round: 100, Method: results.MethodICMP,
		Target: hostV6, Outcome: results.OutcomeReply, RTTms: 13.5, ReplyTTL: 57})
	return recs
}

func fixtureVerdicts() []results.Verdict {
	var vs []results.Verdict
	belief := func(b float64) *float64 { return &b }
	for round := range rounds {
		tm := t0.Add(time.Duration(round) * roundLen)
		gap := 0
		for _, v := range vantages {
			verdict := results.VerdictHealthy
			if v == "vp-sin1" && round == sinDown {
				verdict = results.VerdictVantageDown
				gap = 1
			}
			vs = append(vs, results.Verdict{Time: tm, Level: results.LevelVantage, Entity: v, Verdict: verdict})
		}
		add := func(level, entity, verdict, data, control string, up, down int) {
			vs = append(vs, results.Verdict{Time: tm, Level: level, Entity: entity, Verdict: verdict,
				DataPlane: data, ControlPlane: control, Belief: belief(0.97),
				Vantages: &results.VantageCount{Up: up, Down: down, Gap: gap}})
		}
		healthy := 3 - gap
		switch {
		case round == cutFrom:
			add(results.LevelPrefix, "198.18.0.0/22", results.VerdictDataPlaneOutage, results.PlaneDown, results.ControlAnnounced, 0, healthy)
			add(results.LevelBlock, "198.18.0.0/24", results.VerdictUncertain, results.PlaneUncertain, results.ControlAnnounced, 0, 1)
			add(results.LevelBlock, "198.18.1.0/24", results.VerdictDataPlaneOutage, results.PlaneDown, results.ControlAnnounced, 0, healthy)
		case round == cutTo:
			add(results.LevelPrefix, "198.18.0.0/22", results.VerdictControlPlaneOutage, results.PlaneDown, results.ControlWithdrawn, 0, healthy)
			add(results.LevelBlock, "198.18.0.0/24", results.VerdictWithdrawn, results.PlaneUncertain, results.ControlWithdrawn, 0, 1)
			add(results.LevelBlock, "198.18.1.0/24", results.VerdictControlPlaneOutage, results.PlaneDown, results.ControlWithdrawn, 0, healthy)
		default:
			add(results.LevelPrefix, "198.18.0.0/22", results.VerdictReachable, results.PlaneUp, results.ControlAnnounced, healthy, 0)
			add(results.LevelBlock, "198.18.0.0/24", results.VerdictReachable, results.PlaneUp, results.ControlAnnounced, 1, 0)
			add(results.LevelBlock, "198.18.1.0/24", results.VerdictReachable, results.PlaneUp, results.ControlAnnounced, healthy, 0)
		}
		if round == nycUnreach {
			add(results.LevelPrefix, "198.18.8.0/22", results.VerdictPartial, results.PlanePartial, results.ControlAnnounced, 1, 1)
			add(results.LevelBlock, "198.18.8.0/24", results.VerdictPartial, results.PlanePartial, results.ControlAnnounced, 1, 1)
		} else {
			add(results.LevelPrefix, "198.18.8.0/22", results.VerdictReachable, results.PlaneUp, results.ControlAnnounced, healthy, 0)
			add(results.LevelBlock, "198.18.8.0/24", results.VerdictReachable, results.PlaneUp, results.ControlAnnounced, healthy, 0)
		}
		// A sparse block whose announcement flaps.
		nine := []string{results.VerdictReachable, results.VerdictReachableUnrouted, results.VerdictReachable,
			results.VerdictReachable, results.VerdictWithdrawn, results.VerdictWithdrawn}[round]
		add(results.LevelBlock, "198.18.9.0/24", nine, results.PlaneUp, results.ControlAnnounced, 1, 0)
	}
	return vs
}

func fixtureEvents() []results.Event {
	cutStart := t0.Add(cutFrom * roundLen)
	cutEnd := t0.Add((cutTo + 1) * roundLen)
	return []results.Event{
		{Level: results.LevelBlock, Entity: "198.18.9.0/24", Kind: results.VerdictWithdrawn,
			Start: t0.Add(4 * roundLen), Minutes: 22, Severity: 5.5},
		{Level: results.LevelPrefix, Entity: "198.18.0.0/22", Kind: results.VerdictDataPlaneOutage,
			Start: cutStart, End: cutEnd, Minutes: 22, Severity: 22, LastHop: borderHop},
		{Level: results.LevelBlock, Entity: "198.18.1.0/24", Kind: results.VerdictDataPlaneOutage,
			Start: cutStart, End: cutEnd, Minutes: 22, Severity: 22, LastHop: borderHop},
	}
}

func fixture() Input {
	return Input{
		Records:  fixtureRecords(),
		Verdicts: fixtureVerdicts(),
		Events:   fixtureEvents(),
		Since:    t0,
		Until:    t0.Add(rounds * roundLen),
		Title:    "darkwatch lab: border cut",
		Atlas: AtlasOptions{
			Addrs: map[string]string{"vp-fra1": "192.0.2.10", "vp-nyc1": "198.51.100.10"},
			Size:  48,
		},
	}
}
