package probe

// This file is the package's one packet parser: IPv4 and IPv6 headers, ICMP and
// ICMPv6 messages, the probe an ICMP error quotes, and TCP segments, as raw
// sockets deliver them. Every prober and the sweep read replies through it;
// nothing else in the package reads a header by hand. It also writes the one
// IPv4 header the package builds itself (sweep and IPv4 trace probes).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// IP protocol numbers used by the parsers.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// Header lengths without options.
const (
	ipv4Len = 20
	ipv6Len = 40
	tcpLen  = 20
)

// ICMP types darkwatch reads (RFC 792, RFC 4443).
const (
	icmp4EchoReply    = 0
	icmp4Unreachable  = 3
	icmp4Echo         = 8
	icmp4TimeExceeded = 11
	icmp6Unreachable  = 1
	icmp6TooBig       = 2
	icmp6TimeExceeded = 3
	icmp6Echo         = 128
	icmp6EchoReply    = 129
)

// Errors of the reply parsers.
var (
	ErrShort     = errors.New("probe: packet too short")
	ErrNotIP     = errors.New("probe: not an IP packet of the expected version")
	ErrUnhandled = errors.New("probe: message type not handled")
)

// ICMPReply is a parsed ICMP or ICMPv6 message as read from a raw socket, without
// the outer IP header. Echo replies fill ID, Seq and Data; errors (unreachable,
// time exceeded, packet too big) fill Quoted.
type ICMPReply struct {
	V6   bool
	Type uint8
	Code uint8
	ID   uint16
	Seq  uint16
	Data []byte
	// Quoted is the probe an ICMP error quotes; valid when IsError.
	Quoted Quoted
}

// Quoted is the start of the packet that an ICMP error quotes: its IP header and
// the first bytes of its transport header, enough to recognise our own probe.
type Quoted struct {
	Src, Dst netip.Addr
	Proto    uint8
	// TTL is the TTL (hop limit) the probe had left when it expired or was refused.
	TTL  uint8
	IPID uint16 // IPv4 only
	// Transport header fields, by protocol.
	SrcPort, DstPort uint16 // TCP, UDP
	TCPSeq           uint32 // TCP
	UDPLen, UDPSum   uint16 // UDP
	ICMPType         uint8  // ICMP echo
	ICMPID, ICMPSeq  uint16 // ICMP echo
	ICMPSum          uint16 // ICMP echo
	// Payload is what the error quotes past the first 8 transport bytes.
	Payload []byte
}

// IsError reports whether the message is an ICMP error that quotes a probe.
func (r *ICMPReply) IsError() bool {
	if r.V6 {
		return r.Type == icmp6Unreachable || r.Type == icmp6TimeExceeded || r.Type == icmp6TooBig
	}
	return r.Type == icmp4Unreachable || r.Type == icmp4TimeExceeded
}

// IsEchoReply reports whether the message is an echo reply.
func (r *ICMPReply) IsEchoReply() bool {
	if r.V6 {
		return r.Type == icmp6EchoReply
	}
	return r.Type == icmp4EchoReply
}

// IsTimeExceeded reports whether the message says a probe's TTL ran out.
func (r *ICMPReply) IsTimeExceeded() bool {
	if r.V6 {
		return r.Type == icmp6TimeExceeded
	}
	return r.Type == icmp4TimeExceeded
}

// Name is the message's type and code as a record shows them, such as
// "time-exceeded", "echo-reply" or "dest-unreachable/port".
func (r *ICMPReply) Name() string {
	if r.V6 {
		switch r.Type {
		case icmp6EchoReply:
			return "echo-reply"
		case icmp6TimeExceeded:
			return "time-exceeded"
		case icmp6TooBig:
			return "packet-too-big"
		case icmp6Unreachable:
			names := []string{"net", "admin", "beyond-scope", "host", "port", "policy", "reject-route"}
			if int(r.Code) < len(names) {
				return "dest-unreachable/" + names[r.Code]
			}
		}
		return fmt.Sprintf("icmp6-%d/%d", r.Type, r.Code)
	}
	switch r.Type {
	case icmp4EchoReply:
		return "echo-reply"
	case icmp4TimeExceeded:
		return "time-exceeded"
	case icmp4Unreachable:
		names := []string{"net", "host", "protocol", "port", "frag-needed", "source-route",
			"net-unknown", "host-unknown", "isolated", "net-prohibited", "host-prohibited",
			"net-tos", "host-tos", "admin", "precedence", "precedence-cutoff"}
		if int(r.Code) < len(names) {
			return "dest-unreachable/" + names[r.Code]
		}
	}
	return fmt.Sprintf("icmp-%d/%d", r.Type, r.Code)
}

// ParseICMP parses an ICMP (v6 false) or ICMPv6 message without its outer IP
// header. It never panics; malformed input gives an error.
func ParseICMP(b []byte, v6 bool) (ICMPReply, error) {
	r := ICMPReply{V6: v6}
	if len(b) < 8 {
		return r, ErrShort
	}
	r.Type, r.Code = b[0], b[1]
	switch {
	case r.IsEchoReply() || (v6 && r.Type == icmp6Echo) || (!v6 && r.Type == icmp4Echo):
		r.ID = binary.BigEndian.Uint16(b[4:6])
		r.Seq = binary.BigEndian.Uint16(b[6:8])
		r.Data = b[8:]
		return r, nil
	case r.IsError():
		q, err := ParseQuoted(b[8:], v6)
		r.Quoted = q
		return r, err
	}
	return r, ErrUnhandled
}

// ipHeader is what the parsers read of an IPv4 or IPv6 header.
type ipHeader struct {
	src, dst netip.Addr
	ttl      uint8  // TTL or hop limit
	proto    uint8  // protocol or next header
	id       uint16 // IPv4 only
	// later is true for an IPv4 fragment past the first: no transport header.
	later bool
}

// parseIPv4 parses the IPv4 header at the start of b and returns it and what
// follows it. It checks the version and the header length, nothing else.
func parseIPv4(b []byte) (ipHeader, []byte, error) {
	var h ipHeader
	if len(b) < ipv4Len {
		return h, nil, ErrShort
	}
	if b[0]>>4 != 4 {
		return h, nil, ErrNotIP
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4Len || len(b) < ihl {
		return h, nil, ErrShort
	}
	h.id = binary.BigEndian.Uint16(b[4:6])
	h.later = binary.BigEndian.Uint16(b[6:8])&0x1fff != 0
	h.ttl, h.proto = b[8], b[9]
	h.src = netip.AddrFrom4([4]byte(b[12:16]))
	h.dst = netip.AddrFrom4([4]byte(b[16:20]))
	return h, b[ihl:], nil
}

// parseIPv6 parses the fixed IPv6 header at the start of b (extension headers
// are not followed) and returns it and what follows it.
func parseIPv6(b []byte) (ipHeader, []byte, error) {
	var h ipHeader
	if len(b) < ipv6Len {
		return h, nil, ErrShort
	}
	if b[0]>>4 != 6 {
		return h, nil, ErrNotIP
	}
	h.proto, h.ttl = b[6], b[7]
	h.src = netip.AddrFrom16([16]byte(b[8:24]))
	h.dst = netip.AddrFrom16([16]byte(b[24:40]))
	return h, b[ipv6Len:], nil
}

// putIPv4 writes a 20-byte IPv4 header for a packet of length bytes in all
// into b, checksum included; df sets don't fragment.
func putIPv4(b []byte, h ipHeader, length int, df bool) {
	ip := b[:ipv4Len]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:4], uint16(length))
	binary.BigEndian.PutUint16(ip[4:6], h.id)
	ip[6], ip[7] = 0, 0
	if df {
		ip[6] = 0x40
	}
	ip[8], ip[9] = h.ttl, h.proto
	ip[10], ip[11] = 0, 0
	s, d := h.src.As4(), h.dst.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:12], checksum(0, ip))
}

// StripIPv4 returns the payload of an IPv4 packet (as an IPv4 raw socket delivers
// it), its source address and its TTL.
func StripIPv4(b []byte) (payload []byte, src netip.Addr, ttl uint8, err error) {
	h, payload, err := parseIPv4(b)
	if err != nil {
		return nil, netip.Addr{}, 0, err
	}
	return payload, h.src, h.ttl, nil
}

// ParseQuoted parses the packet an ICMP error quotes: an IPv4 (v6 false) or IPv6
// header and the transport bytes that follow (at least 8 are required).
func ParseQuoted(b []byte, v6 bool) (Quoted, error) {
	var q Quoted
	parse := parseIPv4
	if v6 {
		parse = parseIPv6
	}
	h, rest, err := parse(b)
	if err != nil {
		return q, err
	}
	q.Src, q.Dst, q.TTL, q.Proto, q.IPID = h.src, h.dst, h.ttl, h.proto, h.id
	if len(rest) < 8 {
		return q, ErrShort
	}
	switch q.Proto {
	case protoTCP:
		q.SrcPort = binary.BigEndian.Uint16(rest[0:2])
		q.DstPort = binary.BigEndian.Uint16(rest[2:4])
		q.TCPSeq = binary.BigEndian.Uint32(rest[4:8])
	case protoUDP:
		q.SrcPort = binary.BigEndian.Uint16(rest[0:2])
		q.DstPort = binary.BigEndian.Uint16(rest[2:4])
		q.UDPLen = binary.BigEndian.Uint16(rest[4:6])
		q.UDPSum = binary.BigEndian.Uint16(rest[6:8])
	case protoICMP, protoICMPv6:
		q.ICMPType = rest[0]
		q.ICMPSum = binary.BigEndian.Uint16(rest[2:4])
		q.ICMPID = binary.BigEndian.Uint16(rest[4:6])
		q.ICMPSeq = binary.BigEndian.Uint16(rest[6:8])
	}
	q.Payload = rest[8:]
	return q, nil
}

// TCP flag bits (RFC 9293) as TCPSegment.Flags holds them.
const (
	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
)

// TCPSegment is what a reply check needs of a TCP segment read from a raw
// socket.
type TCPSegment struct {
	// Src and Dst come from the IPv4 header; an IPv6 raw socket delivers no
	// header, so for IPv6 they are left invalid and the caller knows Src from
	// the socket.
	Src, Dst netip.Addr
	TTL      uint8 // IPv4 only
	SrcPort  uint16
	DstPort  uint16
	Seq, Ack uint32
	Flags    uint8 // TCPFlag bits
}

// ParseTCP parses a TCP segment as a raw socket delivers it: with its IPv4
// header (v6 false), or bare (v6 true: IPv6 raw sockets strip the header).
// It never panics; malformed input, IPv4 fragments past the first and other
// protocols give an error.
func ParseTCP(b []byte, v6 bool) (TCPSegment, error) {
	var s TCPSegment
	if !v6 {
		h, rest, err := parseIPv4(b)
		switch {
		case err != nil:
			return s, err
		case h.proto != protoTCP || h.later:
			return s, ErrUnhandled
		}
		s.Src, s.Dst, s.TTL, b = h.src, h.dst, h.ttl, rest
	}
	if len(b) < tcpLen {
		return s, ErrShort
	}
	if off := int(b[12]>>4) * 4; off < tcpLen || off > len(b) {
		return s, ErrShort
	}
	s.SrcPort = binary.BigEndian.Uint16(b[0:2])
	s.DstPort = binary.BigEndian.Uint16(b[2:4])
	s.Seq = binary.BigEndian.Uint32(b[4:8])
	s.Ack = binary.BigEndian.Uint32(b[8:12])
	s.Flags = b[13]
	return s, nil
}
