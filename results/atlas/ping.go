package atlas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"darkwatch/results"
)

// pingPacket is one entry of a ping result's "result": a reply ("rtt", with
// "ttl" from firmware 4610 on, else the result's "ttl"), a timeout ("x":
// "*"), or an error; "dup" marks a duplicate reply.
type pingPacket struct {
	RTT   *float64 `json:"rtt"`
	TTL   *int     `json:"ttl"`
	X     string   `json:"x"`
	Error string   `json:"error"`
	Dup   int      `json:"dup"`
}

// pingRecords makes an icmp record per packet of a ping result: a reply
// with its RTT and TTL, a timeout, an "unreachable" for an error darkwatch
// wrote as an ICMP message name ("dest-unreachable/host"), any other error
// as an error. A result without packets (a probe that could not send)
// gives one error record.
func pingRecords(r *result, opts Options) ([]results.Record, error) {
	var packets []pingPacket
	if len(r.Result) > 0 && !bytes.Equal(r.Result, []byte("null")) {
		if err := decodeMember(r.Result, "result", &packets); err != nil {
			return nil, err
		}
	}
	t := *r.Timestamp
	var recs []results.Record
	for i, p := range packets {
		if p.Dup != 0 {
			continue
		}
		rec := base(r, results.MethodICMP, t, opts)
		rec.Seq = seq(t, len(recs)+1, opts)
		switch {
		case p.RTT != nil:
			rec.Outcome, rec.RTTms = results.OutcomeReply, *p.RTT
			if p.TTL != nil {
				rec.ReplyTTL = *p.TTL
			} else if r.TTL != nil {
				rec.ReplyTTL = *r.TTL
			}
		case p.X == "*":
			rec.Outcome = results.OutcomeTimeout
		case strings.HasPrefix(p.Error, "dest-unreachable"):
			rec.Outcome, rec.ICMP = results.OutcomeUnreachable, p.Error
		case p.Error != "":
			rec.Outcome, rec.Error = results.OutcomeError, p.Error
		default:
			return nil, fmt.Errorf(`result[%d]: neither "rtt", "x" nor "error"`, i)
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		rec := base(r, results.MethodICMP, t, opts)
		rec.Seq = seq(t, 1, opts)
		rec.Outcome, rec.Error = results.OutcomeError, errorText(r.Error, "no packets")
		recs = append(recs, rec)
	}
	return recs, nil
}

// errorText is the text of an "error" member: a string as it is, an object
// as "key: value" pairs; def when there is none.
func errorText(raw []byte, def string) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return def
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err == nil && len(m) > 0 {
		var parts []string
		for _, k := range sortedKeys(m) {
			parts = append(parts, fmt.Sprintf("%s: %v", k, m[k]))
		}
		return strings.Join(parts, "; ")
	}
	return string(raw)
}
