package bgp

import (
	"encoding/binary"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// Real dumps hold a few things that gobgp's parsers refuse or misread but
// bgpdump reads. Rather than parse those messages itself, the reader hands
// gobgp a copy rewritten into what bgpdump makes of them. Each function
// returns its input itself, not a copy, when there is nothing to rewrite, or
// when the framing is too broken to tell: gobgp then says what is wrong.

// trimUpdate returns msg, a BGP UPDATE (header included), with every prefix
// list cut after its last whole prefix: the withdrawn routes, the NLRI, and
// the NLRI of the MP_REACH_NLRI and MP_UNREACH_NLRI of the families bgpdump
// prints. A prefix whose bytes run past the end of its list is dropped and
// the prefixes before it are kept, as bgpdump reads them; gobgp refuses the
// whole message ("network bytes is short"). (Bits set past a prefix's
// length need no rewrite: gobgp clears them, as bgpdump's expected output
// for updates.nlri_mask_trailing_bits.gz does.)
func trimUpdate(msg []byte, addPath bool) []byte {
	withdrawn, attrs, nlri, ok := splitUpdate(msg)
	if !ok {
		return msg
	}
	cut := wholePrefixes(withdrawn, addPath) < len(withdrawn) || wholePrefixes(nlri, addPath) < len(nlri)
	for rest := attrs; !cut && len(rest) > 0; {
		a, r, ok := nextAttribute(rest)
		if !ok {
			break
		}
		if _, list := mpNLRI(a); wholePrefixes(list, addPath) < len(list) {
			cut = true
		}
		rest = r
	}
	if !cut {
		return msg
	}
	out := make([]byte, 0, len(msg))
	out = append(out, msg[:bgp.BGP_HEADER_LENGTH]...)
	w := withdrawn[:wholePrefixes(withdrawn, addPath)]
	out = binary.BigEndian.AppendUint16(out, uint16(len(w)))
	out = append(out, w...)
	at := len(out)
	out = append(out, 0, 0)
	for rest := attrs; len(rest) > 0; {
		a, r, ok := nextAttribute(rest)
		if !ok {
			out = append(out, rest...)
			break
		}
		if head, list := mpNLRI(a); list != nil {
			out = appendAttribute(out, a, a.value[:head+wholePrefixes(list, addPath)])
		} else {
			out = append(out, rest[:len(rest)-len(r)]...)
		}
		rest = r
	}
	binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
	out = append(out, nlri[:wholePrefixes(nlri, addPath)]...)
	binary.BigEndian.PutUint16(out[16:], uint16(len(out)))
	return out
}

// splitUpdate returns the withdrawn routes, path attributes and NLRI of a
// BGP UPDATE (header included); ok is false when its lengths do not fit.
func splitUpdate(msg []byte) (withdrawn, attrs, nlri []byte, ok bool) {
	b := msg[min(bgp.BGP_HEADER_LENGTH, len(msg)):]
	if len(b) < 2 {
		return nil, nil, nil, false
	}
	wl := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+wl+2 {
		return nil, nil, nil, false
	}
	withdrawn, b = b[2:2+wl], b[2+wl:]
	al := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+al {
		return nil, nil, nil, false
	}
	return withdrawn, b[2 : 2+al], b[2+al:], true
}

// wholePrefixes returns how many bytes at the start of list, a run of
// prefixes (each after a 4-byte path identifier with ADD-PATH), hold whole
// prefixes: all of them, or those before the first one that runs past the
// end.
func wholePrefixes(list []byte, addPath bool) int {
	n := 0
	for n < len(list) {
		p := n
		if addPath {
			p += 4
		}
		if p >= len(list) {
			break
		}
		p += 1 + (int(list[p])+7)/8
		if p > len(list) {
			break
		}
		n = p
	}
	return n
}

// attribute is one path attribute.
type attribute struct {
	flags bgp.BGPAttrFlag
	typ   bgp.BGPAttrType
	ext   bool // a 2-byte length (the extended-length flag)
	value []byte
}

// nextAttribute splits the first path attribute off data; ok is false when
// data is too short for it.
func nextAttribute(data []byte) (a attribute, rest []byte, ok bool) {
	if len(data) < 3 {
		return a, nil, false
	}
	a.flags, a.typ = bgp.BGPAttrFlag(data[0]), bgp.BGPAttrType(data[1])
	a.ext = a.flags&bgp.BGP_ATTR_FLAG_EXTENDED_LENGTH != 0
	n, hdr := int(data[2]), 3
	if a.ext {
		if len(data) < 4 {
			return a, nil, false
		}
		n, hdr = int(binary.BigEndian.Uint16(data[2:])), 4
	}
	if len(data) < hdr+n {
		return a, nil, false
	}
	a.value = data[hdr : hdr+n]
	return a, data[hdr+n:], true
}

// appendAttribute appends a with value v instead of its own, which must not
// be longer (so that its length still fits a's length field).
func appendAttribute(b []byte, a attribute, v []byte) []byte {
	b = append(b, byte(a.flags), byte(a.typ))
	if a.ext {
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	} else {
		b = append(b, byte(len(v)))
	}
	return append(b, v...)
}

// mpNLRI returns the NLRI of an MP_REACH_NLRI or MP_UNREACH_NLRI attribute
// of a family bgpdump prints, and where it starts in the attribute's value;
// list is nil for any other attribute.
func mpNLRI(a attribute) (head int, list []byte) {
	v := a.value
	switch a.typ {
	case bgp.BGP_ATTR_TYPE_MP_REACH_NLRI: // AFI, SAFI, next hop, reserved, NLRI
		if len(v) < 4 {
			return 0, nil
		}
		head = 3 + 1 + int(v[3]) + 1
	case bgp.BGP_ATTR_TYPE_MP_UNREACH_NLRI: // AFI, SAFI, NLRI
		head = 3
	default:
		return 0, nil
	}
	if len(v) < head || mpOrder(binary.BigEndian.Uint16(v), v[2]) < 0 {
		return 0, nil
	}
	return head, v[head:]
}

// abbreviateMPReach returns body, a TABLE_DUMP_V2 RIB record of a unicast
// subtype (RFC 6396 4.3.2), with every MP_REACH_NLRI in the form RFC 6396
// 4.3.4 gives it there: the next hop's length and the next hop. Some
// dumpers (RIS, in bview.64k_stream_overflow.gz) write the whole attribute
// instead, as an UPDATE carries it: AFI, SAFI, next hop, reserved byte,
// NLRI. gobgp reads the AFI's first byte, 0, as the length of an empty next
// hop. bgpdump tells the forms apart by that byte, and prints the next hop
// of a whole attribute of IPv4 or IPv6 unicast, and the NEXT_HOP
// attribute's for one of another family (multicast): so here a whole
// attribute becomes its abbreviation for unicast, and is left out
// otherwise.
func abbreviateMPReach(body []byte, addPath bool) []byte {
	if len(body) < 5 {
		return body
	}
	pos := 5 + (int(body[4])+7)/8 // sequence number, prefix length, prefix
	if len(body) < pos+2 {
		return body
	}
	count := int(binary.BigEndian.Uint16(body[pos:]))
	pos += 2
	head := 2 + 4 // peer index, originated time
	if addPath {
		head += 4 // path identifier
	}
	var out []byte // nil until an entry is rewritten
	for range count {
		if len(body) < pos+head+2 {
			return body
		}
		start := pos + head + 2
		end := start + int(binary.BigEndian.Uint16(body[pos+head:]))
		if len(body) < end {
			return body
		}
		attrs := body[start:end]
		if out == nil && !hasWholeMPReach(attrs) {
			pos = end
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(body)), body[:pos]...)
		}
		out = append(out, body[pos:pos+head]...)
		at := len(out)
		out = append(out, 0, 0)
		out = appendAbbreviated(out, attrs)
		binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
		pos = end
	}
	if out == nil {
		return body
	}
	return append(out, body[pos:]...)
}

// hasWholeMPReach reports whether attrs hold an MP_REACH_NLRI in the form
// of an UPDATE, which starts with an AFI, whose first byte is 0 (where an
// abbreviated one starts with a next hop's length).
func hasWholeMPReach(attrs []byte) bool {
	for len(attrs) > 0 {
		a, rest, ok := nextAttribute(attrs)
		if !ok {
			return false
		}
		if a.typ == bgp.BGP_ATTR_TYPE_MP_REACH_NLRI && len(a.value) > 0 && a.value[0] == 0 {
			return true
		}
		attrs = rest
	}
	return false
}

// appendAbbreviated appends attrs with every MP_REACH_NLRI in the form of an
// UPDATE abbreviated (IPv4 and IPv6 unicast) or left out (other families).
func appendAbbreviated(b, attrs []byte) []byte {
	for len(attrs) > 0 {
		a, rest, ok := nextAttribute(attrs)
		if !ok {
			return append(b, attrs...)
		}
		v := a.value
		switch {
		case a.typ != bgp.BGP_ATTR_TYPE_MP_REACH_NLRI || len(v) == 0 || v[0] != 0:
			b = append(b, attrs[:len(attrs)-len(rest)]...)
		case len(v) >= 4 && len(v) >= 4+int(v[3]) && v[2] == bgp.SAFI_UNICAST &&
			(binary.BigEndian.Uint16(v) == bgp.AFI_IP || binary.BigEndian.Uint16(v) == bgp.AFI_IP6):
			b = appendAttribute(b, a, v[3:4+int(v[3])])
		}
		attrs = rest
	}
	return b
}
