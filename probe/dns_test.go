package probe

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/dnsmsg"
)

func TestDNSQueryGolden(t *testing.T) {
	q, err := dnsQuery("www.dw.example", "a", 0xbeef, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "dns_query_www_a.golden", b)
	// The header, spelled out: id, flags all clear (QR 0, opcode QUERY, RD 0),
	// one question, no answer, authority or additional records (no EDNS OPT).
	want := []byte{0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	if string(b[:12]) != string(want) {
		t.Errorf("header %x, want %x", b[:12], want)
	}

	q, err = dnsQuery("big.dw.example.", "TXT", 0x0102, false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = q.Pack()
	compareGolden(t, "dns_query_big_txt.golden", b)
}

func TestDNSQueryInvalid(t *testing.T) {
	for _, tc := range []struct{ qname, qtype, err string }{
		{"", "A", "no qname"},
		{"www.dw.example", "BOGUS", "unknown qtype"},
		{"a..b", "A", "not a domain name"},
		{strings.Repeat("a", 64) + ".example", "A", "not a domain name"},
	} {
		if _, err := dnsQuery(tc.qname, tc.qtype, 1, false); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("dnsQuery(%q, %q) = %v, want error with %q", tc.qname, tc.qtype, err, tc.err)
		}
	}
	for _, qt := range []string{"", "A", "aaaa", "SOA", "TXT", "NS", "CAA", "HTTPS"} {
		if _, err := dnsQuery("dw.example", qt, 1, false); err != nil {
			t.Errorf("qtype %q: %v", qt, err)
		}
	}
}

// dnsLog records the queries a test server saw.
type dnsLog struct {
	mu      sync.Mutex
	nets    []string
	rd      []bool
	edns    []bool
	remotes []netip.Addr
}

func (l *dnsLog) add(w dns.ResponseWriter, r *dns.Msg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	transport := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		transport = "tcp"
	}
	l.nets = append(l.nets, transport)
	l.rd = append(l.rd, r.RecursionDesired)
	l.edns = append(l.edns, r.IsEdns0() != nil)
	ap, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	l.remotes = append(l.remotes, ap.Addr())
}

func (l *dnsLog) transports() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.nets, ",")
}

// dwExample answers for zone dw.example. like the lab's nsd: www A 198.18.0.80,
// big TXT of more than 512 bytes, the zone's SOA (serial 2026120601, TTL
// 3600), anything else NXDOMAIN; a query with an NSID option gets the NSID
// "dw-ns1".
func dwExample(log *dnsLog) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		log.add(w, r)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		switch {
		case strings.EqualFold(q.Name, "www.dw.example.") && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("www.dw.example. 300 IN A 198.18.0.80")
			m.Answer = append(m.Answer, rr)
		case strings.EqualFold(q.Name, "dw.example.") && q.Qtype == dns.TypeSOA:
			rr, _ := dns.NewRR("dw.example. 3600 IN SOA ns.dw.example. admin.dw.example. 2026120601 3600 600 86400 300")
			m.Answer = append(m.Answer, rr)
		case strings.EqualFold(q.Name, "big.dw.example.") && q.Qtype == dns.TypeTXT:
			for i := range 10 {
				m.Answer = append(m.Answer, &dns.TXT{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
					Txt: []string{strings.Repeat(string(rune('a'+i)), 100)},
				})
			}
		default:
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR("dw.example. 300 IN SOA ns.dw.example. admin.dw.example. 1 3600 600 86400 300")
			m.Ns = append(m.Ns, soa)
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
			for _, o := range opt.Option {
				if o.Option() == dns.EDNS0NSID {
					reply := m.IsEdns0()
					reply.Option = append(reply.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString([]byte("dw-ns1"))})
				}
			}
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(dns.MinMsgSize)
		}
		w.WriteMsg(m)
	}
}

// startDNS starts a miekg/dns server for h on host, UDP and (if tcp) TCP on the
// same port, and returns the port.
func startDNS(t *testing.T, host string, tcp bool, h dns.Handler) uint16 {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		pc, err = net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		if !tcp {
			break
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: h}}
	if ln != nil {
		servers = append(servers, &dns.Server{Listener: ln, Handler: h})
	}
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

func TestDNSLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			if !loopbackHas(host) {
				lab.Missing(t, "no %s on this host", host)
			}
			log := &dnsLog{}
			port := startDNS(t, host, true, dwExample(log))
			server := netip.MustParseAddr(host)
			p, err := NewDNS(Config{Timeout: 2 * time.Second, Vantage: "lo", Round: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for _, tc := range []struct {
				qname, qtype, rcode string
				answers             int
				proto, transports   string
			}{
				{"www.dw.example", "A", "NOERROR", 1, "", "udp"},
				{"WWW.DW.EXAMPLE.", "", "NOERROR", 1, "", "udp"},
				{"nope.dw.example", "A", "NXDOMAIN", 0, "", "udp"},
				{"big.dw.example", "TXT", "NOERROR", 10, "tcp", "udp,tcp"},
			} {
				t.Run(tc.qname+"/"+tc.qtype, func(t *testing.T) {
					log.mu.Lock()
					log.nets = nil
					log.mu.Unlock()
					recs := p.Probe(context.Background(), Target{Addr: server, Port: port, Qname: tc.qname, Qtype: tc.qtype})
					if len(recs) != 1 {
						t.Fatalf("%d records", len(recs))
					}
					r := recs[0]
					t.Logf("%+v", r)
					if r.Outcome != results.OutcomeReply || r.Rcode != tc.rcode || r.AA == nil || !*r.AA ||
						r.Answers == nil || *r.Answers != tc.answers || r.Proto != tc.proto || r.Error != "" {
						t.Errorf("got %+v, want reply %s aa answers %d proto %q", r, tc.rcode, tc.answers, tc.proto)
					}
					if r.Method != "dns" || r.Target != host || r.Port != int(port) || r.Seq != 1 || r.RTTms <= 0 ||
						r.Qname != dns.Fqdn(tc.qname) || r.Vantage != "lo" || r.Round != 3 || r.Time.Location() != time.UTC {
						t.Errorf("record fields: %+v", r)
					}
					if got := log.transports(); got != tc.transports {
						t.Errorf("server saw %s, want %s", got, tc.transports)
					}
				})
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			for i := range log.rd {
				if log.rd[i] || log.edns[i] {
					t.Errorf("query %d: RD %v EDNS %v, want neither", i, log.rd[i], log.edns[i])
				}
			}
		})
	}
}

// TestDNSAnswerSection: a record keeps the answer section a real server
// gives, record by record with its TTL, the SOA serial, the NSID when the
// query asks for it, and the address the query went out from.
func TestDNSAnswerSection(t *testing.T) {
	log := &dnsLog{}
	port := startDNS(t, "127.0.0.1", true, dwExample(log))
	server := netip.MustParseAddr("127.0.0.1")
	txt := func(c byte) results.RR {
		return results.RR{Name: "big.dw.example.", Type: "TXT", TTL: 300, Data: `"` + strings.Repeat(string(c), 100) + `"`}
	}
	for _, tc := range []struct {
		name, qname, qtype string
		nsid               bool
		answer             []results.RR
		serial             *uint32
		wantNSID           string
	}{
		{"a", "www.dw.example", "A", false,
			[]results.RR{{Name: "www.dw.example.", Type: "A", TTL: 300, Data: "198.18.0.80"}}, nil, ""},
		{"soa", "dw.example", "SOA", false,
			[]results.RR{{Name: "dw.example.", Type: "SOA", TTL: 3600,
				Data: "ns.dw.example. admin.dw.example. 2026120601 3600 600 86400 300"}},
			results.Uint32(2026120601), ""},
		{"soa with nsid", "dw.example", "SOA", true,
			[]results.RR{{Name: "dw.example.", Type: "SOA", TTL: 3600,
				Data: "ns.dw.example. admin.dw.example. 2026120601 3600 600 86400 300"}},
			results.Uint32(2026120601), "64772d6e7331"},
		{"nxdomain", "nope.dw.example", "A", true, nil, nil, "64772d6e7331"},
		{"truncated, then tcp", "big.dw.example", "TXT", false,
			[]results.RR{txt('a'), txt('b'), txt('c'), txt('d'), txt('e'), txt('f'), txt('g'), txt('h'), txt('i'), txt('j')}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewDNS(Config{Timeout: 2 * time.Second, Vantage: "lo", DNS: DNSOptions{NSID: tc.nsid}})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Probe(context.Background(), Target{Addr: server, Port: port, Qname: tc.qname, Qtype: tc.qtype})[0]
			if r.Outcome != results.OutcomeReply || r.Answers == nil || *r.Answers != len(tc.answer) {
				t.Fatalf("got %+v, want a reply with %d answers", r, len(tc.answer))
			}
			if !reflect.DeepEqual(r.Answer, tc.answer) {
				t.Errorf("answer section\n got %+v\nwant %+v", r.Answer, tc.answer)
			}
			if (r.Serial == nil) != (tc.serial == nil) || r.Serial != nil && *r.Serial != *tc.serial {
				t.Errorf("serial %v, want %v", r.Serial, tc.serial)
			}
			if r.NSID != tc.wantNSID || r.Source != "127.0.0.1" {
				t.Errorf("nsid %q source %q, want %q and 127.0.0.1", r.NSID, r.Source, tc.wantNSID)
			}
			log.mu.Lock()
			asked := log.edns[len(log.edns)-1]
			log.mu.Unlock()
			if asked != tc.nsid {
				t.Errorf("query carried EDNS: %v, want %v", asked, tc.nsid)
			}
		})
	}
}

func TestDNSCountAndSource(t *testing.T) {
	log := &dnsLog{}
	port := startDNS(t, "127.0.0.1", false, dwExample(log))
	p, _ := NewDNS(Config{Count: 3, Interval: 10 * time.Millisecond, Timeout: time.Second,
		Source: netip.MustParseAddr("127.0.0.1")})
	recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if r.Seq != i+1 || r.Outcome != results.OutcomeReply {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if got := log.transports(); got != "udp,udp,udp" {
		t.Errorf("server saw %s", got)
	}

	p, _ = NewDNS(Config{Timeout: time.Second, Source: netip.MustParseAddr("::1")})
	recs = p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})
	if recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "famil") {
		t.Errorf("IPv6 source to IPv4 server: %+v", recs[0])
	}
}

func TestDNSBlockedAndInvalid(t *testing.T) {
	log := &dnsLog{}
	port := startDNS(t, "127.0.0.1", false, dwExample(log))
	p, _ := NewDNS(Config{Timeout: time.Second, Count: 2,
		Permit: func(netip.Addr) error { return ErrBlocked }})
	recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})
	if len(recs) != 1 || recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "not sent") ||
		recs[0].Method != "dns" || recs[0].Port != int(port) {
		t.Errorf("blocked: %+v", recs)
	}
	p, _ = NewDNS(Config{Timeout: time.Second})
	for _, tg := range []Target{
		{Addr: netip.MustParseAddr("127.0.0.1"), Port: port},
		{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example", Qtype: "NOPE"},
	} {
		recs := p.Probe(context.Background(), tg)
		if recs[0].Outcome != results.OutcomeError || !strings.Contains(recs[0].Error, "not sent") {
			t.Errorf("%+v: %+v", tg, recs[0])
		}
	}
	if got := log.transports(); got != "" {
		t.Errorf("server saw queries: %s", got)
	}
}

// rawDNSServer answers each UDP query with the datagrams answer returns.
func rawDNSServer(t *testing.T, answer func(q *dns.Msg) [][]byte) uint16 {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(b[:n]) != nil {
				continue
			}
			for _, d := range answer(q) {
				pc.WriteTo(d, from)
			}
		}
	}()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

func packed(t *testing.T, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDNSReplyValidation(t *testing.T) {
	reply := func(q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		rr, _ := dns.NewRR("www.dw.example. 300 IN A 198.18.0.80")
		m.Answer = []dns.RR{rr}
		return m
	}
	tests := []struct {
		name    string
		answer  func(q *dns.Msg) [][]byte
		outcome string
		answers int
	}{
		{"strays before the answer", func(q *dns.Msg) [][]byte {
			wrongID := reply(q)
			wrongID.Id++
			wrongQ := reply(q)
			wrongQ.Question[0].Name = "evil.dw.example."
			notResp := reply(q)
			notResp.Response = false
			return [][]byte{[]byte("garbage that is not DNS"), {1, 2, 3}, packed(t, wrongID), packed(t, wrongQ),
				packed(t, notResp), packed(t, reply(q))}
		}, results.OutcomeReply, 1},
		{"wrong id only", func(q *dns.Msg) [][]byte {
			m := reply(q)
			m.Id ^= 0xffff
			return [][]byte{packed(t, m)}
		}, results.OutcomeTimeout, 0},
		{"other question only", func(q *dns.Msg) [][]byte {
			m := reply(q)
			m.Question[0].Qtype = dns.TypeAAAA
			return [][]byte{packed(t, m)}
		}, results.OutcomeTimeout, 0},
		{"error reply without question", func(q *dns.Msg) [][]byte {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeRefused)
			m.Question = nil
			return [][]byte{packed(t, m)}
		}, results.OutcomeReply, 0},
		{"never answers", func(q *dns.Msg) [][]byte { return nil }, results.OutcomeTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := rawDNSServer(t, tc.answer)
			p, _ := NewDNS(Config{Timeout: 300 * time.Millisecond})
			start := time.Now()
			r := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})[0]
			t.Logf("%+v", r)
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s", r.Outcome, tc.outcome)
			}
			if tc.outcome == results.OutcomeTimeout {
				if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
					t.Errorf("timeout after %v, want about 300ms", el)
				}
				if r.Error == "" || r.RTTms != 0 || r.Rcode != "" {
					t.Errorf("timeout record: %+v", r)
				}
				return
			}
			if *r.Answers != tc.answers {
				t.Errorf("answers %d, want %d", *r.Answers, tc.answers)
			}
		})
	}
}

func TestDNSTimeoutSilentSocket(t *testing.T) {
	// A UDP socket that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	p, _ := NewDNS(Config{Count: 2, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond})
	recs := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})
	for _, r := range recs {
		if r.Outcome != results.OutcomeTimeout || r.AA != nil || r.Answers != nil {
			t.Errorf("%+v, want timeout", r)
		}
	}
	// The query did arrive.
	pc.SetReadDeadline(time.Now().Add(time.Second))
	b := make([]byte, 512)
	n, _, err := pc.ReadFrom(b)
	if err != nil || n < 12 || binary.BigEndian.Uint16(b[4:6]) != 1 {
		t.Errorf("silent socket got %d bytes, %v", n, err)
	}

	// Cancelling the context ends the wait early.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p, _ = NewDNS(Config{Timeout: 5 * time.Second})
	start := time.Now()
	r := p.Probe(ctx, Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "www.dw.example"})[0]
	if time.Since(start) > time.Second || r.Outcome != results.OutcomeTimeout {
		t.Errorf("context deadline: %+v after %v", r, time.Since(start))
	}
}

func TestDNSTruncatedWithoutTCP(t *testing.T) {
	// A UDP-only server: the truncated answer is all there is.
	log := &dnsLog{}
	port := startDNS(t, "127.0.0.1", false, dwExample(log))
	p, _ := NewDNS(Config{Timeout: 500 * time.Millisecond})
	r := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "big.dw.example", Qtype: "TXT"})[0]
	t.Logf("%+v", r)
	if r.Outcome != results.OutcomeReply || r.Proto != "" || !strings.Contains(r.Error, "truncated over udp; tcp:") || r.Rcode != "NOERROR" {
		t.Errorf("%+v", r)
	}
}

func TestParseDNSReply(t *testing.T) {
	q, _ := dnsQuery("big.dw.example", "TXT", 0x4242, false)
	full := new(dns.Msg)
	full.SetReply(q)
	full.Authoritative = true
	for i := range 10 {
		full.Answer = append(full.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: "big.dw.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
			Txt: []string{strings.Repeat("x", 100+i)}})
	}
	fullB := packed(t, full)
	// A truncated reply cut in the middle of a record, TC set: the header counts.
	cut := append([]byte(nil), fullB[:300]...)
	cut[2] |= 0x02 // TC
	// The same cut without TC is malformed.
	cutNoTC := append([]byte(nil), fullB[:300]...)

	nx := new(dns.Msg)
	nx.SetRcode(q, dns.RcodeNameError)
	tests := []struct {
		name      string
		b         []byte
		ok        bool
		rcode     string
		aa, tc    bool
		answers   int
		answersTo bool
	}{
		{"full", fullB, true, "NOERROR", true, false, 10, true},
		{"truncated mid-record", cut, true, "NOERROR", true, true, 0, true}, // records cut short are not counted
		{"cut without TC", cutNoTC, false, "", false, false, 0, false},
		{"nxdomain", packed(t, nx), true, "NXDOMAIN", false, false, 0, true},
		{"the query itself", packed(t, q), true, "NOERROR", false, false, 0, false},
		{"header only", fullB[:12], true, "NOERROR", true, false, 0, true},
		{"eleven bytes", fullB[:11], false, "", false, false, 0, false},
		{"empty", nil, false, "", false, false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseDNSReply(tc.b)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if r.Rcode != tc.rcode || r.AA != tc.aa || r.Truncated != tc.tc || r.Answers != tc.answers {
				t.Errorf("got %+v", r)
			}
			if r.answers(q) != tc.answersTo {
				t.Errorf("answers(q) = %v, want %v", r.answers(q), tc.answersTo)
			}
		})
	}
	if got := dnsmsg.RcodeName(3841); got != "RCODE3841" {
		t.Errorf("RcodeName(3841) = %q", got)
	}
}

// FuzzParseDNSReply feeds parseDNSReply arbitrary bytes: it must never panic,
// and what it returns must be consistent with the input.
func FuzzParseDNSReply(f *testing.F) {
	q, _ := dnsQuery("www.dw.example", "A", 0x4242, false)
	add := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ok := new(dns.Msg)
	ok.SetReply(q)
	ok.Authoritative = true
	rr, _ := dns.NewRR("www.dw.example. 300 IN A 198.18.0.80")
	ok.Answer = []dns.RR{rr}
	add(ok)
	nx := new(dns.Msg)
	nx.SetRcode(q, dns.RcodeNameError)
	soa, _ := dns.NewRR("dw.example. 300 IN SOA ns.dw.example. admin.dw.example. 1 3600 600 86400 300")
	nx.Ns = []dns.RR{soa}
	add(nx)
	tc := new(dns.Msg)
	tc.SetReply(q)
	tc.Truncated = true
	add(tc)
	add(q)
	okB, _ := ok.Pack()
	f.Add(okB[:len(okB)-3])
	f.Add(okB[:12])
	f.Add([]byte{})
	f.Add([]byte("garbage garbage garbage"))
	// A name that points at itself (compression loop).
	f.Add([]byte{0x42, 0x42, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseDNSReply(b)
		if err != nil {
			return
		}
		if len(b) < 12 {
			t.Fatalf("parsed %d bytes", len(b))
		}
		if r.ID != binary.BigEndian.Uint16(b[0:2]) || r.Response != (b[2]&0x80 != 0) ||
			r.Truncated != (b[2]&0x02 != 0) || r.AA != (b[2]&0x04 != 0) {
			t.Fatalf("header fields %+v do not match %x", r, b[:4])
		}
		if r.Answers < 0 || r.Answers > int(binary.BigEndian.Uint16(b[6:8])) || r.Rcode == "" {
			t.Fatalf("answers %d of %d, rcode %q", r.Answers, binary.BigEndian.Uint16(b[6:8]), r.Rcode)
		}
		_ = r.answers(q)
	})
}
