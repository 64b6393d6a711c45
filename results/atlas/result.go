package atlas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// VantagePrefix starts the vantage name of an Atlas probe: "atlas-270" is
// probe 270.
const VantagePrefix = "atlas-"

// result is the part of an Atlas result every type shares, and the
// members whose shape depends on the type, kept raw until the type is known.
type result struct {
	Type      string          `json:"type"`
	Fw        int             `json:"fw"`
	PrbID     *int64          `json:"prb_id"`
	Timestamp *int64          `json:"timestamp"`
	DstAddr   string          `json:"dst_addr"`
	DstName   string          `json:"dst_name"`
	SrcAddr   string          `json:"src_addr"`
	Proto     string          `json:"proto"`
	TTL       *int            `json:"ttl"`
	Result    json.RawMessage `json:"result"`
	Resultset json.RawMessage `json:"resultset"`
	Error     json.RawMessage `json:"error"`
	Qbuf      string          `json:"qbuf"`
	Darkwatch *Extension      `json:"darkwatch"`
}

// Result reads one Atlas result into its records: a ping result gives a
// record per packet (duplicate replies are not records), a traceroute one
// record, a DNS result a record per query (one, or one per member of its
// "resultset"). Every record has
//
//   - vantage "atlas-" and the prb_id, time the result's "timestamp" (a
//     "resultset" member's "time"), round that time divided by the round
//     length (Options.Round), and sequence number the second of the round
//     at which the result started times 1000 plus the record's number in the
//     result from 1, so that two results of one probe in one round have
//     records of their own;
//   - target "dst_addr" ("dst_name" when there is no address), source
//     "src_addr".
//
// A result with a "darkwatch" member (Extension) then takes what it says:
// the records it was written from. An error names the member that is wrong
// ("result[2]: ...", "resultset[1].result.abuf: ...").
func Result(raw []byte, opts Options) ([]results.Record, error) {
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, jsonError(err)
	}
	switch {
	case r.Type == "":
		return nil, errors.New(`type: missing (an Atlas result has "type":"ping", "traceroute" or "dns")`)
	case r.PrbID == nil:
		return nil, errors.New("prb_id: missing")
	case *r.PrbID < 0:
		return nil, fmt.Errorf("prb_id: %d is negative", *r.PrbID)
	case r.Timestamp == nil:
		return nil, errors.New("timestamp: missing")
	}
	var recs []results.Record
	var err error
	switch r.Type {
	case "ping":
		recs, err = pingRecords(&r, opts)
	case "traceroute":
		recs, err = traceRecords(&r, opts)
	case "dns":
		recs, err = dnsRecords(&r, opts)
	default:
		return nil, fmt.Errorf("type: %q: darkwatch imports ping, traceroute and dns results", r.Type)
	}
	if err != nil {
		return nil, err
	}
	if r.Darkwatch != nil {
		if recs, err = r.Darkwatch.apply(recs); err != nil {
			return nil, fmt.Errorf("darkwatch: %w", err)
		}
	}
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return nil, fmt.Errorf("record %d of the result: %w", i+1, err)
		}
		if recs[i].Outcome == "" {
			return nil, fmt.Errorf("record %d of the result: no outcome", i+1)
		}
	}
	return recs, nil
}

// jsonError names the member a decoding error is about.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("%s: a JSON %s where Atlas writes %s", te.Field, te.Value, jsonKind(te.Type.String()))
	}
	return fmt.Errorf("not an Atlas result (%v)", err)
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// base is a record with what every record of r shares, at Unix time t.
func base(r *result, method string, t int64, opts Options) results.Record {
	target := r.DstAddr
	if target == "" {
		target = r.DstName
	}
	return results.Record{
		Time: time.Unix(t, 0).UTC(), Vantage: VantagePrefix + strconv.FormatInt(*r.PrbID, 10),
		Round: floorDiv(t, opts.roundSeconds()), Method: method, Target: target, Source: r.SrcAddr,
	}
}

// seq is the sequence number of the n-th record of a result started at
// Unix time t.
func seq(t int64, n int, opts Options) int {
	l := opts.roundSeconds()
	return int(t-floorDiv(t, l)*l)*1000 + n
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// decodeMember decodes a member of a result that must be there.
func decodeMember(raw json.RawMessage, name string, v any) error {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("%s: missing", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := name
			if te.Field != "" {
				field += "." + te.Field
			}
			return fmt.Errorf("%s: a JSON %s where Atlas writes %s", field, te.Value, jsonKind(te.Type.String()))
		}
		return fmt.Errorf("%s: %v", name, err)
	}
	return nil
}
