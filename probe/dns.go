package probe

// This file is the dns method: queries over UDP (TCP when truncated) with
// miekg/dns, each on its own socket.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"darkwatch/results"
	"darkwatch/results/dnsmsg"
)

// DefaultDNSPort is the server port when Target.Port is zero.
const DefaultDNSPort = 53

// dnsUDPBuffer is the receive buffer for UDP answers. Queries carry no EDNS
// (unless they ask for the NSID, advertising dnsmsg.UDPSize), so a server
// must keep answers within 512 bytes; the larger buffer lets a server that
// does not still be read whole rather than fail to parse.
const dnsUDPBuffer = 4096

// DNS probes DNS servers: per target, cfg.Count queries for Target.Qname and
// Target.Qtype to the server Target.Addr, port Target.Port (default 53).
//
// Queries go over UDP with a random id, with RD (recursion desired) clear,
// because darkwatch asks authoritative servers whether they answer for their own
// zones, and without EDNS, so that a large answer is truncated; a truncated
// answer is asked again over TCP. With cfg.DNS.NSID a query carries an OPT
// record asking for the server's NSID. A record keeps the reply's answer
// section, the serial of its SOA answer, the NSID and the local address the
// query went out from. A reply counts only if it is a response with
// the query's id and, when it has a question, the query's question; other
// datagrams on the socket are dropped and the wait goes on.
type DNS struct {
	cfg Config
}

// NewDNS returns a DNS prober. It holds no sockets between probes.
func NewDNS(cfg Config) (*DNS, error) {
	cfg = cfg.WithDefaults()
	return &DNS{cfg: cfg}, nil
}

// Close releases nothing: every query uses its own socket.
func (d *DNS) Close() error { return nil }

// Probe sends cfg.Count queries to the server t, cfg.Interval apart, and returns
// one record per query, in order. A server that cfg.Permit refuses gets one
// record and no packet.
func (d *DNS) Probe(ctx context.Context, t Target) []results.Record {
	if err := d.cfg.permit(t.Addr); err != nil {
		r := blockedRecord(&d.cfg, results.MethodDNS, t, err)
		r.Port, r.Qname, r.Qtype = dnsPort(t), t.Qname, t.Qtype
		return []results.Record{r}
	}
	return spacedProbes(ctx, d.cfg.Count, d.cfg.Interval, func(n int, sent func()) results.Record {
		return d.query(ctx, t, n, sent)
	})
}

// dnsPort is the server port of t.
func dnsPort(t Target) int {
	if t.Port == 0 {
		return DefaultDNSPort
	}
	return int(t.Port)
}

// query makes the n-th query of a probe of server t; sent is called as the
// query goes out.
func (d *DNS) query(ctx context.Context, t Target, n int, sent func()) results.Record {
	rec := results.Record{
		Time: time.Now().UTC(), Vantage: d.cfg.Vantage, Round: d.cfg.Round,
		Method: results.MethodDNS, Target: t.Addr.String(), Port: dnsPort(t), Seq: n,
		Qname: t.Qname, Qtype: t.Qtype,
	}
	fail := func(outcome string, err error) results.Record {
		rec.Outcome, rec.Error = outcome, err.Error()
		return rec
	}
	q, err := dnsQuery(t.Qname, t.Qtype, dns.Id(), d.cfg.DNS.NSID)
	if err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	rec.Qname, rec.Qtype = q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype]
	server := t.Addr.Unmap()
	if !server.IsValid() {
		return fail(results.OutcomeError, errors.New("not sent: invalid address"))
	}
	if err := ctx.Err(); err != nil {
		return fail(results.OutcomeError, fmt.Errorf("not sent: %w", err))
	}
	addr := netip.AddrPortFrom(server, uint16(rec.Port))

	rec.Time = time.Now().UTC()
	sent()
	r, rtt, err := d.exchange(ctx, "udp", q, addr)
	if err != nil {
		return fail(dnsOutcome(err), err)
	}
	if r.Truncated {
		tr, trtt, err := d.exchange(ctx, "tcp", q, addr)
		if err != nil {
			// The server did answer, over UDP; the record says so, with what
			// the truncated answer held and why TCP gave nothing better.
			rec.Error = fmt.Sprintf("truncated over udp; tcp: %v", err)
		} else {
			r, rtt = tr, trtt
			rec.Proto = "tcp"
		}
	}
	rec.Outcome = results.OutcomeReply
	rec.RTTms = rttMillis(rtt)
	rec.Source = r.Source
	r.Fill(&rec)
	return rec
}

// dnsOutcome is the outcome of a query that got no reply.
func dnsOutcome(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return results.OutcomeTimeout
	}
	return results.OutcomeError
}

// dnsQuery returns the query darkwatch sends: one question, class IN, RD clear,
// the given id, and no EDNS unless nsid asks for the server's NSID. qtype is
// a type name (default "A").
func dnsQuery(qname, qtype string, id uint16, nsid bool) (*dns.Msg, error) {
	if qname == "" {
		return nil, errors.New("probe: dns: no qname")
	}
	name := dns.Fqdn(qname)
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("probe: dns: %q is not a domain name", qname)
	}
	if qtype == "" {
		qtype = "A"
	}
	typ, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		return nil, fmt.Errorf("probe: dns: unknown qtype %q", qtype)
	}
	m := new(dns.Msg)
	m.SetQuestion(name, typ)
	m.Id = id
	m.RecursionDesired = false
	if nsid {
		m.SetEdns0(dnsmsg.UDPSize, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	}
	return m, nil
}

// exchange sends q to server over network ("udp" or "tcp") and waits up to
// cfg.Timeout for its reply.
func (d *DNS) exchange(ctx context.Context, network string, q *dns.Msg, server netip.AddrPort) (dnsReply, time.Duration, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	if src := d.cfg.Source.Unmap(); src.IsValid() {
		if src.Is4() != server.Addr().Is4() {
			return dnsReply{}, 0, fmt.Errorf("source %v and server %v are of different families", src, server.Addr())
		}
		if network == "tcp" {
			dialer.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		} else {
			dialer.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
	}
	client := dns.Client{Net: network, Dialer: dialer, UDPSize: dnsUDPBuffer}
	start := time.Now()
	deadline := start.Add(d.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	co, err := client.DialContext(dctx, server.String())
	if err != nil {
		return dnsReply{}, 0, err
	}
	defer co.Close()
	co.UDPSize = dnsUDPBuffer
	co.SetDeadline(deadline)
	// Cancelling ctx ends a read in progress.
	stop := context.AfterFunc(dctx, func() { co.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := co.WriteMsg(q); err != nil {
		return dnsReply{}, 0, err
	}
	for {
		b, err := co.ReadMsgHeader(nil)
		if errors.Is(err, dns.ErrShortRead) && network == "udp" {
			continue // a runt datagram: not our answer
		}
		if err != nil {
			if ctx.Err() != nil {
				return dnsReply{}, 0, ctx.Err()
			}
			return dnsReply{}, 0, err
		}
		r, err := parseDNSReply(b)
		if err == nil && r.answers(q) {
			if local, perr := netip.ParseAddrPort(co.LocalAddr().String()); perr == nil {
				r.Source = local.Addr().Unmap().String()
			}
			return r, time.Since(start), nil
		}
		if network != "udp" {
			if err == nil {
				err = errors.New("reply does not match the query")
			}
			return dnsReply{}, 0, fmt.Errorf("tcp: %w", err)
		}
		// UDP: a stray or forged datagram; keep waiting for ours.
	}
}

// dnsReply is what a record takes from a DNS reply.
type dnsReply struct {
	ID        uint16
	Response  bool
	Truncated bool
	dnsmsg.Reply
	// Question is the reply's first question; Questions how many it has.
	Question  dns.Question
	Questions int
	// Source is the local address the reply came to.
	Source string
}

// parseDNSReply reads the fields a record needs from the bytes of a DNS message.
// A truncated message (TC set) whose records are cut short still gives its
// header (and no answers); any other malformed message is an error. It never
// panics.
func parseDNSReply(b []byte) (dnsReply, error) {
	var m dns.Msg
	err := m.Unpack(b)
	if err != nil && (len(b) < 12 || !m.Truncated) {
		return dnsReply{}, fmt.Errorf("probe: dns: malformed reply: %w", err)
	}
	r := dnsReply{
		ID: m.Id, Response: m.Response, Truncated: m.Truncated, Reply: dnsmsg.ReplyOf(&m),
		Questions: len(m.Question),
	}
	if len(m.Question) > 0 {
		r.Question = m.Question[0]
	}
	return r, nil
}

// answers reports whether r is the reply to q: a response with q's id and, if it
// repeats a question (servers may leave it out of some error replies), q's.
func (r *dnsReply) answers(q *dns.Msg) bool {
	if !r.Response || r.ID != q.Id {
		return false
	}
	if r.Questions == 0 {
		return true
	}
	want := q.Question[0]
	return r.Questions == 1 && strings.EqualFold(r.Question.Name, want.Name) &&
		r.Question.Qtype == want.Qtype && r.Question.Qclass == want.Qclass
}
