package atlas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"darkwatch/results"
)

// traceHop is one entry of a traceroute's "result": the hop's TTL and its
// replies, or an "error" (a traceroute that could not start has a single
// entry with an error and no hop).
type traceHop struct {
	Hop    int          `json:"hop"`
	Error  string       `json:"error"`
	Result []traceReply `json:"result"`
}

// traceReply is one reply of a hop: a timeout ("x": "*") or who answered,
// with "err" for an ICMP destination unreachable (a letter, or from some
// firmware the ICMP code as a number), "flags" for a TCP answer, and
// "late" for a reply that came after the next probe was sent.
type traceReply struct {
	X     string          `json:"x"`
	From  string          `json:"from"`
	RTT   *float64        `json:"rtt"`
	TTL   int             `json:"ttl"`
	Err   json.RawMessage `json:"err"`
	Flags string          `json:"flags"`
	Late  *int            `json:"late"`
	Error string          `json:"error"`
}

// traceRecords makes the trace record of a traceroute: a hop per reply
// (late replies are left out, as darkwatch's own traces drop them), each
// named by what it was (see hopICMP); reached when the destination
// answered, and then outcome reply with the destination's fastest RTT and
// its reply TTL; else unreachable when a hop said the destination is
// unreachable, else timeout; error for a traceroute that could not start
// (an "error" and no reply).
func traceRecords(r *result, opts Options) ([]results.Record, error) {
	var hops []traceHop
	if err := decodeMember(r.Result, "result", &hops); err != nil {
		return nil, err
	}
	t := *r.Timestamp
	rec := base(r, results.MethodTrace, t, opts)
	rec.Seq = seq(t, 1, opts)
	rec.Proto = strings.ToLower(r.Proto)
	target, _ := netip.ParseAddr(r.DstAddr)
	if len(hops) == 1 && hops[0].Hop == 0 && hops[0].Error != "" {
		rec.Outcome, rec.Error = results.OutcomeError, hops[0].Error
		return []results.Record{rec}, nil
	}
	rec.Hops = []results.Hop{}
	var reached, unreachable *results.Hop
	var replyTTL int
	for i, h := range hops {
		if h.Error != "" && rec.Error == "" {
			rec.Error = fmt.Sprintf("hop %d: %s", h.Hop, h.Error)
		}
		for j, rep := range h.Result {
			if rep.Late != nil {
				continue
			}
			hop := results.Hop{TTL: h.Hop}
			if rep.X != "*" && rep.From != "" {
				icmp, err := hopICMP(&rep, rec.Proto, target, r.DstAddr)
				if err != nil {
					return nil, fmt.Errorf("result[%d].result[%d].err: %w", i, j, err)
				}
				hop.Addr, hop.ICMP = rep.From, icmp
				if rep.RTT != nil {
					hop.RTTms = *rep.RTT
				}
			}
			rec.Hops = append(rec.Hops, hop)
			switch {
			case hop.Addr == "":
			case isReached(&hop, rec.Proto, target, r.DstAddr):
				if reached == nil || hop.RTTms < reached.RTTms {
					reached, replyTTL = &hop, rep.TTL
				}
			case strings.HasPrefix(hop.ICMP, "dest-unreachable/"):
				unreachable = &hop
			}
		}
	}
	if len(rec.Hops) == 0 && rec.Error != "" {
		// Nothing went out: the hop's error says why.
		rec.Outcome, rec.Hops = results.OutcomeError, nil
		return []results.Record{rec}, nil
	}
	rec.Reached = results.Bool(reached != nil)
	switch {
	case reached != nil:
		rec.Outcome, rec.RTTms, rec.ReplyTTL = results.OutcomeReply, reached.RTTms, replyTTL
	case unreachable != nil:
		rec.Outcome, rec.ICMP = results.OutcomeUnreachable, unreachable.ICMP
	default:
		rec.Outcome = results.OutcomeTimeout
	}
	return []results.Record{rec}, nil
}

// isReached says whether a hop is the destination's answer: anything from
// the destination's address, or a UDP probe's port unreachable.
func isReached(h *results.Hop, proto string, target netip.Addr, dst string) bool {
	return sameAddr(h.Addr, target, dst) || proto == "udp" && h.ICMP == "dest-unreachable/port"
}

func sameAddr(addr string, target netip.Addr, dst string) bool {
	if addr == dst {
		return true
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && target.IsValid() && a.Unmap() == target.Unmap()
}

// atlasErrs names Atlas's "err" letters as a record names the ICMP message.
var atlasErrs = map[string]string{
	"N": "dest-unreachable/net", "H": "dest-unreachable/host", "A": "dest-unreachable/admin",
	"P": "dest-unreachable/protocol", "p": "dest-unreachable/port", "h": "dest-unreachable/beyond-scope",
}

// Destination unreachable codes by number, as probe names them.
var (
	unreach4 = []string{"net", "host", "protocol", "port", "frag-needed", "source-route",
		"net-unknown", "host-unknown", "isolated", "net-prohibited", "host-prohibited",
		"net-tos", "host-tos", "admin", "precedence", "precedence-cutoff"}
	unreach6 = []string{"net", "admin", "beyond-scope", "host", "port", "policy", "reject-route"}
)

// hopICMP names what a reply was: the destination unreachable of its "err",
// the TCP answer of its "flags" ("syn-ack", "rst"), else from the
// destination an "echo-reply" (ICMP probes) or "dest-unreachable/port" (UDP
// probes), else "time-exceeded".
func hopICMP(rep *traceReply, proto string, target netip.Addr, dst string) (string, error) {
	if len(rep.Err) > 0 && !bytes.Equal(rep.Err, []byte("null")) {
		var letter string
		if err := json.Unmarshal(rep.Err, &letter); err == nil {
			if name, ok := atlasErrs[letter]; ok {
				return name, nil
			}
			return "", fmt.Errorf("%q is none of N, H, A, P, p, h", letter)
		}
		code, err := strconv.ParseUint(string(rep.Err), 10, 8)
		if err != nil {
			return "", fmt.Errorf("%s is neither a letter nor an ICMP code", rep.Err)
		}
		names, typ := unreach4, "icmp-3"
		if target.Is6() && !target.Is4In6() {
			names, typ = unreach6, "icmp6-1"
		}
		if int(code) < len(names) {
			return "dest-unreachable/" + names[code], nil
		}
		return fmt.Sprintf("%s/%d", typ, code), nil
	}
	switch {
	case rep.Flags == "SA":
		return "syn-ack", nil
	case strings.Contains(rep.Flags, "R"):
		return "rst", nil
	case !sameAddr(rep.From, target, dst):
		return "time-exceeded", nil
	case proto == "udp":
		return "dest-unreachable/port", nil
	case proto == "icmp":
		return "echo-reply", nil
	}
	return "", nil
}
