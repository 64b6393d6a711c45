package atlas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"darkwatch/results"
	"darkwatch/results/dnsmsg"
)

// dnsQuery is one query of a DNS result: the result itself, or a member of
// its "resultset" (a probe asking each of its local resolvers), with a
// "result" (the response) or an "error".
type dnsQuery struct {
	DstAddr string          `json:"dst_addr"`
	DstName string          `json:"dst_name"`
	SrcAddr string          `json:"src_addr"`
	Proto   string          `json:"proto"`
	Time    *int64          `json:"time"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
	Qbuf    string          `json:"qbuf"`
}

// dnsResponse is a query's "result": the response in wire format ("abuf",
// base64), its answer count and response time; firmware before 4660 also
// wrote some answers decoded ("answers").
type dnsResponse struct {
	ANCOUNT *int             `json:"ANCOUNT"`
	Abuf    string           `json:"abuf"`
	RT      *float64         `json:"rt"`
	Answers []map[string]any `json:"answers"`
}

// dnsRecords makes a dns record per query of a DNS result: a reply with
// what the response in "abuf" says (rcode, AA, question, answer section,
// SOA serial, NSID), "ANCOUNT" answers and "rt" as its RTT; a timeout for
// an "error" with "timeout"; an error for any other "error". Port is 53,
// proto "tcp" for a query over TCP. A response that is not a whole DNS
// message keeps what its header says, and the reason in the record's error.
func dnsRecords(r *result, opts Options) ([]results.Record, error) {
	var queries []dnsQuery
	prefix := make([]string, 0, 1)
	if len(r.Resultset) > 0 && !bytes.Equal(r.Resultset, []byte("null")) {
		if err := decodeMember(r.Resultset, "resultset", &queries); err != nil {
			return nil, err
		}
		for i := range queries {
			prefix = append(prefix, fmt.Sprintf("resultset[%d].", i))
		}
	} else {
		queries = []dnsQuery{{DstAddr: r.DstAddr, DstName: r.DstName, SrcAddr: r.SrcAddr, Proto: r.Proto,
			Result: r.Result, Error: r.Error, Qbuf: r.Qbuf}}
		prefix = append(prefix, "")
	}
	recs := make([]results.Record, 0, len(queries))
	for i, q := range queries {
		rec, err := dnsRecord(r, &q, i+1, opts)
		if err != nil {
			return nil, fmt.Errorf("%s%w", prefix[i], err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// dnsRecord makes the record of the n-th query of r.
func dnsRecord(r *result, q *dnsQuery, n int, opts Options) (results.Record, error) {
	t := *r.Timestamp
	if q.Time != nil {
		t = *q.Time
	}
	qr := *r
	qr.DstAddr, qr.DstName, qr.SrcAddr = q.DstAddr, q.DstName, q.SrcAddr
	rec := base(&qr, results.MethodDNS, t, opts)
	rec.Seq, rec.Port = seq(t, n, opts), 53
	if strings.EqualFold(q.Proto, "tcp") {
		rec.Proto = "tcp"
	}
	if q.Qbuf != "" {
		if m, err := unpackBase64(q.Qbuf); err != nil && m == nil {
			return rec, fmt.Errorf("qbuf: %w", err)
		} else if len(m.Question) > 0 {
			rec.Qname, rec.Qtype = m.Question[0].Name, dnsmsg.TypeName(m.Question[0].Qtype)
		}
	}
	hasResult := len(q.Result) > 0 && !bytes.Equal(q.Result, []byte("null"))
	switch {
	case hasResult:
		var resp dnsResponse
		if err := decodeMember(q.Result, "result", &resp); err != nil {
			return rec, err
		}
		if err := fillResponse(&rec, &resp); err != nil {
			return rec, fmt.Errorf("result.%w", err)
		}
	case len(q.Error) > 0 && !bytes.Equal(q.Error, []byte("null")):
		var e map[string]any
		if err := decodeMember(q.Error, "error", &e); err != nil {
			return rec, err
		}
		rec.Outcome = results.OutcomeError
		if _, ok := e["timeout"]; ok {
			rec.Outcome = results.OutcomeTimeout
			delete(e, "timeout")
		}
		if len(e) > 0 {
			rec.Error = errorText(q.Error, "")
		}
	default:
		return rec, fmt.Errorf(`result: missing (and no "error")`)
	}
	return rec, nil
}

// fillResponse sets the reply fields of rec from a query's response.
func fillResponse(rec *results.Record, resp *dnsResponse) error {
	rec.Outcome = results.OutcomeReply
	if resp.RT != nil {
		rec.RTTms = *resp.RT
	}
	if resp.Abuf != "" {
		m, err := unpackBase64(resp.Abuf)
		if m == nil {
			return fmt.Errorf("abuf: %w", err)
		}
		if err != nil {
			rec.Error = fmt.Sprintf("abuf: %v", err)
		}
		reply := dnsmsg.ReplyOf(m)
		reply.Fill(rec)
		if len(m.Question) > 0 {
			rec.Qname, rec.Qtype = m.Question[0].Name, dnsmsg.TypeName(m.Question[0].Qtype)
		}
	}
	if resp.ANCOUNT != nil {
		rec.Answers = results.Int(*resp.ANCOUNT)
	}
	if rec.Serial == nil {
		for _, a := range resp.Answers {
			if serial, ok := a["SERIAL"].(float64); ok && a["TYPE"] == "SOA" && serial >= 0 && serial <= 1<<32-1 {
				rec.Serial = results.Uint32(uint32(serial))
				break
			}
		}
	}
	return nil
}

// unpackBase64 decodes a DNS message in base64. A message whose header
// reads but whose body does not is returned with the error; one that is
// not base64 or shorter than a header gives no message.
func unpackBase64(s string) (*dns.Msg, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64 (%v)", err)
	}
	if len(b) < 12 {
		return nil, fmt.Errorf("%d bytes, shorter than a DNS header", len(b))
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return m, fmt.Errorf("not a whole DNS message (%v)", err)
	}
	return m, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
