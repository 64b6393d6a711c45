// Package dnsmsg turns DNS messages (miekg/dns) into the DNS fields of a
// record and back: what the dns prober keeps of a reply, what the atlas
// report writes as a result's "abuf" and what the atlas import reads from
// one. It knows nothing of sockets, stores or files.
package dnsmsg

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"darkwatch/results"
)

// UDPSize is the EDNS buffer size a query that asks for the NSID advertises
// (the size the DNS flag day of 2020 settled on).
const UDPSize = 1232

// Reply is what a record keeps of a DNS reply.
type Reply struct {
	Rcode   string
	AA      bool
	Answers int
	Answer  []results.RR
	Serial  *uint32
	NSID    string
}

// ReplyOf reads m's rcode, AA flag, answer section, the serial of its first
// SOA answer and the NSID of its OPT record.
func ReplyOf(m *dns.Msg) Reply {
	r := Reply{Rcode: RcodeName(m.Rcode), AA: m.Authoritative, Answers: len(m.Answer), Answer: RRsOf(m.Answer)}
	for _, rr := range m.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			r.Serial = results.Uint32(soa.Serial)
			break
		}
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				r.NSID = n.Nsid
			}
		}
	}
	return r
}

// Fill sets the reply fields of rec from r.
func (r *Reply) Fill(rec *results.Record) {
	rec.Rcode, rec.AA, rec.Answers = r.Rcode, results.Bool(r.AA), results.Int(r.Answers)
	rec.Answer, rec.Serial, rec.NSID = r.Answer, r.Serial, r.NSID
}

// RRsOf converts resource records to the record's form; nil for none (as a
// record's JSON gives it back).
func RRsOf(rrs []dns.RR) []results.RR {
	if len(rrs) == 0 {
		return nil
	}
	out := make([]results.RR, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, RROf(rr))
	}
	return out
}

// RROf converts one resource record: its owner name, type and class as dig
// names them (TYPEn, CLASSn for those without a name; class IN as ""), TTL,
// and its data in presentation format.
func RROf(rr dns.RR) results.RR {
	h := rr.Header()
	out := results.RR{Name: h.Name, Type: TypeName(h.Rrtype), TTL: h.Ttl}
	if h.Class != dns.ClassINET {
		out.Class = className(h.Class)
	}
	// String is name, TTL, class and type, each ended by a tab (a name
	// escapes its tabs), then the data.
	if f := strings.SplitN(rr.String(), "\t", 5); len(f) == 5 {
		out.Data = f[4]
	}
	return out
}

// RRFrom is the resource record rr holds, or an error saying why it holds
// none.
func RRFrom(rr results.RR) (dns.RR, error) {
	class := rr.Class
	if class == "" {
		class = "IN"
	}
	name := rr.Name
	if name == "" {
		name = "."
	}
	text := fmt.Sprintf("%s %d %s %s %s", name, rr.TTL, class, rr.Type, rr.Data)
	parsed, err := dns.NewRR(text)
	if err != nil {
		return nil, fmt.Errorf("answer %q: %w", text, err)
	}
	if parsed == nil {
		return nil, fmt.Errorf("answer %q: no record", text)
	}
	return parsed, nil
}

// TypeName is the name of a record type as dig prints it ("A", "TYPE65280").
func TypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func className(c uint16) string {
	if s, ok := dns.ClassToString[c]; ok {
		return s
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// RcodeName is the name of rcode as dig prints it ("NOERROR", "NXDOMAIN").
func RcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// rcodeNumber is the rcode a name of RcodeName stands for.
func rcodeNumber(name string) (int, bool) {
	name = strings.ToUpper(name)
	if n, ok := dns.StringToRcode[name]; ok {
		return n, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(name, "RCODE"))
	return n, err == nil && n >= 0 && n <= 0xfff && strings.HasPrefix(name, "RCODE")
}

// typeNumber is the record type a name stands for ("A", "TYPE65280").
func typeNumber(name string) (uint16, bool) {
	name = strings.ToUpper(name)
	if t, ok := dns.StringToType[name]; ok {
		return t, true
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(name, "TYPE"), 10, 16)
	return uint16(n), err == nil && strings.HasPrefix(name, "TYPE")
}

// ErrNoReply is what Message returns for a record that holds no reply.
var ErrNoReply = errors.New("dnsmsg: the record holds no DNS reply")

// Message builds the reply a DNS record describes, in wire format: id,
// QR set, AA as recorded, RD clear (darkwatch's queries clear it), the
// rcode, the question (class IN) when the record has a qname, the answer
// section, and an OPT record carrying the NSID when there is one. The
// header's answer count is the answer section's, which a record read from
// an older store may not hold (then only Answers says how many there were).
func Message(rec *results.Record, id uint16) ([]byte, error) {
	if rec.Rcode == "" {
		return nil, ErrNoReply
	}
	rcode, ok := rcodeNumber(rec.Rcode)
	if !ok {
		return nil, fmt.Errorf("dnsmsg: rcode %q", rec.Rcode)
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Response: true, Authoritative: rec.AA != nil && *rec.AA}}
	if rec.Qname != "" {
		qtype, ok := typeNumber(rec.Qtype)
		if !ok {
			return nil, fmt.Errorf("dnsmsg: qtype %q", rec.Qtype)
		}
		if _, ok := dns.IsDomainName(rec.Qname); !ok {
			return nil, fmt.Errorf("dnsmsg: qname %q", rec.Qname)
		}
		m.Question = []dns.Question{{Name: dns.Fqdn(rec.Qname), Qtype: qtype, Qclass: dns.ClassINET}}
	}
	for _, a := range rec.Answer {
		rr, err := RRFrom(a)
		if err != nil {
			return nil, fmt.Errorf("dnsmsg: %w", err)
		}
		m.Answer = append(m.Answer, rr)
	}
	if rec.NSID != "" || rcode > 15 {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(UDPSize)
		if rec.NSID != "" {
			if _, err := hex.DecodeString(rec.NSID); err != nil {
				return nil, fmt.Errorf("dnsmsg: nsid %q is not hex", rec.NSID)
			}
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: rec.NSID})
		}
		m.Extra = append(m.Extra, opt)
	}
	m.Rcode = rcode
	m.Compress = true
	return m.Pack()
}
