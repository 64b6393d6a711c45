package dnsmsg

import (
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/net/dns/dnsmessage"

	"darkwatch/results"
)

// TestMessage: the message a record describes reads back, with an
// independent parser, as that record's header, question and answers, and
// through ReplyOf as the same record fields.
func TestMessage(t *testing.T) {
	soa := results.RR{Name: "dw.example.", Type: "SOA", TTL: 3600,
		Data: "ns.dw.example. admin.dw.example. 2026120601 3600 600 86400 300"}
	for _, tc := range []struct {
		name                string
		rcode, qname, qtype string
		aa                  bool
		answer              []results.RR
		nsid                string
		wantRcode           dnsmessage.RCode
		wantType            dnsmessage.Type
		err                 string
	}{
		{"soa", "NOERROR", "dw.example.", "SOA", true, []results.RR{soa}, "", dnsmessage.RCodeSuccess, dnsmessage.TypeSOA, ""},
		{"nxdomain", "NXDOMAIN", "www.example.", "A", false, nil, "", dnsmessage.RCodeNameError, dnsmessage.TypeA, ""},
		{"root ns, nsid", "SERVFAIL", ".", "NS", false, nil, "6e7331", dnsmessage.RCodeServerFailure, dnsmessage.TypeNS, ""},
		{"lower case", "REFUSED", "example", "aaaa", false, nil, "", dnsmessage.RCodeRefused, dnsmessage.TypeAAAA, ""},
		{"numbered", "RCODE12", "example.", "TYPE65280", false, []results.RR{
			{Name: "example.", Type: "TYPE65280", TTL: 1, Data: `\# 2 abcd`},
			{Name: "hostname.bind.", Type: "TXT", Class: "CH", Data: `"ns1" "a\255b"`},
		}, "", 12, 65280, ""},
		{"extended rcode", "BADSIG", "example.", "A", false, nil, "", 16, dnsmessage.TypeA, ""},
		{"bad rcode", "NOPE", "example.", "A", false, nil, "", 0, 0, `rcode "NOPE"`},
		{"bad qtype", "NOERROR", "example.", "BOGUS", false, nil, "", 0, 0, `qtype "BOGUS"`},
		{"bad qname", "NOERROR", "a..b.", "A", false, nil, "", 0, 0, `qname "a..b."`},
		{"bad answer", "NOERROR", "example.", "A", false, []results.RR{{Name: "example.", Type: "A", Data: "not an address"}}, "", 0, 0, "answer"},
		{"bad nsid", "NOERROR", "example.", "A", false, nil, "xyz", 0, 0, "not hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := results.Record{Rcode: tc.rcode, Qname: tc.qname, Qtype: tc.qtype, AA: results.Bool(tc.aa),
				Answer: tc.answer, NSID: tc.nsid}
			msg, err := Message(&rec, 0x1234)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var p dnsmessage.Parser
			h, err := p.Start(msg)
			if err != nil {
				t.Fatal(err)
			}
			q, err := p.Question()
			if err != nil {
				t.Fatal(err)
			}
			if h.ID != 0x1234 || !h.Response || h.Authoritative != tc.aa || h.RecursionDesired ||
				q.Name.String() != dns.Fqdn(tc.qname) || q.Type != tc.wantType || q.Class != dnsmessage.ClassINET {
				t.Errorf("header %+v question %+v", h, q)
			}
			var m dns.Msg
			if err := m.Unpack(msg); err != nil {
				t.Fatal(err)
			}
			r := ReplyOf(&m)
			if m.Rcode != int(tc.wantRcode) || r.Rcode != strings.ToUpper(tc.rcode) || r.Answers != len(tc.answer) ||
				!reflect.DeepEqual(r.Answer, tc.answer) || r.NSID != tc.nsid {
				t.Errorf("read back %+v (rcode %d)", r, m.Rcode)
			}
		})
	}
	if _, err := Message(&results.Record{}, 0); err != ErrNoReply {
		t.Errorf("a record without a reply: %v", err)
	}
}

// TestReplyOfSerial: the serial is the first SOA answer's, and only an
// answer's.
func TestReplyOfSerial(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m := new(dns.Msg)
	m.Ns = []dns.RR{rr("dw.example. 300 IN SOA ns. admin. 7 1 1 1 1")}
	if r := ReplyOf(m); r.Serial != nil || r.Answer != nil {
		t.Errorf("serial %v answer %v from an authority SOA", r.Serial, r.Answer)
	}
	m.Answer = []dns.RR{rr("dw.example. 300 IN A 198.18.0.1"), rr("dw.example. 300 IN SOA ns. admin. 4294967295 1 1 1 1"),
		rr("dw.example. 300 IN SOA ns. admin. 8 1 1 1 1")}
	if r := ReplyOf(m); r.Serial == nil || *r.Serial != 4294967295 || len(r.Answer) != 3 || r.Answer[0].Data != "198.18.0.1" {
		t.Errorf("got %+v", r)
	}
}
