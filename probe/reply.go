package probe

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

// StripIPv4 returns the payload of an IPv4 packet (as an IPv4 raw socket delivers
// it), its source address and its TTL.
func StripIPv4(b []byte) (payload []byte, src netip.Addr, ttl uint8, err error) {
	if len(b) < 20 {
		return nil, src, 0, ErrShort
	}
	if b[0]>>4 != 4 {
		return nil, src, 0, ErrNotIP
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return nil, src, 0, ErrShort
	}
	src = netip.AddrFrom4([4]byte(b[12:16]))
	return b[ihl:], src, b[8], nil
}

// ParseQuoted parses the packet an ICMP error quotes: an IPv4 (v6 false) or IPv6
// header and the transport bytes that follow (at least 8 are required).
func ParseQuoted(b []byte, v6 bool) (Quoted, error) {
	var q Quoted
	var rest []byte
	if v6 {
		if len(b) < 40 {
			return q, ErrShort
		}
		if b[0]>>4 != 6 {
			return q, ErrNotIP
		}
		q.Proto = b[6]
		q.TTL = b[7]
		q.Src = netip.AddrFrom16([16]byte(b[8:24]))
		q.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		rest = b[40:]
	} else {
		if len(b) < 20 {
			return q, ErrShort
		}
		if b[0]>>4 != 4 {
			return q, ErrNotIP
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl {
			return q, ErrShort
		}
		q.IPID = binary.BigEndian.Uint16(b[4:6])
		q.TTL = b[8]
		q.Proto = b[9]
		q.Src = netip.AddrFrom4([4]byte(b[12:16]))
		q.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		rest = b[ihl:]
	}
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
