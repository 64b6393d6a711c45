// Package results holds what darkwatch saw and what it means: the probe record and
// its JSON and text forms, the census of blocks, Trinocular belief, vantage health,
// the merge of vantage points into verdicts, roll-ups and outage events, the join
// of the control plane (results/bgp) with them, and the one analysis update
// (Analysis.Update: window, analysis, saving) that every command uses. Stores and
// reports live in its sub-packages; it reaches a store only through the small
// interfaces it defines (Source, RouteSource, Saver, AnalysisStore). It knows
// nothing of sockets, schedules or configuration files.
package results

import (
	"net/netip"
	"strconv"
	"time"
)

// Method names as they appear in records.
const (
	MethodICMP  = "icmp"
	MethodTCP   = "tcp"
	MethodTrace = "trace"
	MethodDNS   = "dns"
)

// Outcomes of a probe. A probe failure is an outcome, never a Go error.
const (
	OutcomeReply       = "reply"
	OutcomeTimeout     = "timeout"
	OutcomeUnreachable = "unreachable"
	OutcomeOpen        = "open"
	OutcomeClosed      = "closed"
	OutcomeError       = "error"
)

// Record is one probe's fact: what was sent where, from which vantage point, and
// what came back. Fields that do not apply to a method are left zero and omitted
// from the JSON.
type Record struct {
	Time     time.Time `json:"time"`
	Vantage  string    `json:"vantage"`
	Round    int64     `json:"round"`
	Method   string    `json:"method"`
	Target   string    `json:"target"`
	Port     int       `json:"port,omitempty"`
	Seq      int       `json:"seq,omitempty"`
	Outcome  string    `json:"outcome"`
	RTTms    float64   `json:"rtt_ms,omitempty"`
	ReplyTTL int       `json:"reply_ttl,omitempty"`
	// ICMP names the ICMP type of an unreachable outcome ("dest-unreachable/host").
	ICMP  string `json:"icmp,omitempty"`
	Error string `json:"error,omitempty"`
	// Source is the local address the probe was sent from, where the prober
	// knows it (a DNS query's socket); empty when unknown.
	Source string `json:"source,omitempty"`

	// Trace only.
	Proto   string `json:"proto,omitempty"`
	Hops    []Hop  `json:"hops,omitempty"`
	Reached *bool  `json:"reached,omitempty"`

	// DNS only.
	Qname   string `json:"qname,omitempty"`
	Qtype   string `json:"qtype,omitempty"`
	Rcode   string `json:"rcode,omitempty"`
	AA      *bool  `json:"aa,omitempty"`
	Answers *int   `json:"answers,omitempty"`
	// Answer is the reply's answer section, record by record (Answers is
	// how many it held); nil when the reply was not read that far.
	Answer []RR `json:"answer,omitempty"`
	// Serial is the serial of the answer section's first SOA record.
	Serial *uint32 `json:"soa_serial,omitempty"`
	// NSID is the server's name server identifier (RFC 5001), in hex as dig
	// prints it, when the query asked for it and the reply carried one.
	NSID string `json:"nsid,omitempty"`
}

// RR is one resource record of a DNS answer section, in the presentation
// format of RFC 1035 section 5.1 (as dig prints it).
type RR struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Class is empty for IN, the class of nearly every answer.
	Class string `json:"class,omitempty"`
	TTL   uint32 `json:"ttl"`
	// Data is the record's data, as it follows the type in a zone file.
	Data string `json:"data"`
}

// Hop is one TTL step of a trace. Addr is empty when nothing answered at that TTL.
type Hop struct {
	TTL   int     `json:"ttl"`
	Addr  string  `json:"addr"`
	RTTms float64 `json:"rtt_ms,omitempty"`
	ICMP  string  `json:"icmp,omitempty"`
}

// ID is the record's stable identity: vantage, round, method, target, port and
// sequence. Delivering the same record twice yields the same ID.
func (r *Record) ID() string {
	return string(r.appendID(make([]byte, 0, len(r.Vantage)+len(r.Method)+len(r.Target)+32), netip.Addr{}))
}

// appendID appends r's ID to b, with target's text for an empty Target
// when target is valid (ProbeReader's records).
func (r *Record) appendID(b []byte, target netip.Addr) []byte {
	b = append(append(b, r.Vantage...), '/')
	b = append(strconv.AppendInt(b, r.Round, 10), '/')
	b = append(append(b, r.Method...), '/')
	if r.Target == "" && target.IsValid() {
		b = target.AppendTo(b)
	} else {
		b = append(b, r.Target...)
	}
	b = append(b, '/')
	b = append(strconv.AppendInt(b, int64(r.Port), 10), '/')
	return strconv.AppendInt(b, int64(r.Seq), 10)
}

// Answered reports whether the target itself answered: an echo reply, an open or
// closed port, a DNS reply, or a trace that reached it.
func (r *Record) Answered() bool {
	switch r.Outcome {
	case OutcomeReply, OutcomeOpen, OutcomeClosed:
		return r.Method != MethodTrace || (r.Reached != nil && *r.Reached)
	}
	return false
}

// Bool returns a pointer to b, for the optional boolean fields.
func Bool(b bool) *bool { return &b }

// Int returns a pointer to n, for the optional integer fields.
func Int(n int) *int { return &n }

// Uint32 returns a pointer to n, for the optional serial.
func Uint32(n uint32) *uint32 { return &n }
