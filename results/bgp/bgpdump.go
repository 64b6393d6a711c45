package bgp

import (
	"net/netip"
	"strconv"
	"strings"
)

// AppendDump appends r as the line bgpdump -m prints for it, newline
// included:
//
//	BGP4MP|time|A|peer|peer_as|prefix|as_path|origin|next_hop|local_pref|med|communities|AG or NAG|aggregator|
//	BGP4MP|time|W|peer|peer_as|prefix
//	TABLE_DUMP2|time|B|peer|peer_as|prefix|as_path|origin|next_hop|local_pref|med|communities|AG or NAG|aggregator|
//	BGP4MP|time|STATE|peer|peer_as|old_state|new_state
//
// ADD-PATH records carry the path identifier after the prefix; BGP4MP_ET
// times have microseconds.
func AppendDump(b []byte, r *Route) []byte {
	b = append(b, r.Record...)
	b = append(b, '|')
	b = appendDumpTime(b, r)
	b = append(b, '|')
	b = append(b, r.Kind.String()...)
	b = append(b, '|')
	b = appendAddr(b, r.Peer)
	b = append(b, '|')
	b = appendUint(b, r.PeerAS)
	b = append(b, '|')
	switch r.Kind {
	case StateChange:
		b = strconv.AppendUint(b, uint64(r.OldState), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(r.NewState), 10)
		return append(b, '\n')
	case Withdraw:
		b = appendPrefix(b, r.Prefix)
		if r.AddPath {
			b = append(b, '|')
			b = appendUint(b, r.PathID)
		}
		return append(b, '\n')
	}
	b = appendPrefix(b, r.Prefix)
	b = append(b, '|')
	if r.AddPath {
		b = appendUint(b, r.PathID)
		b = append(b, '|')
	}
	return appendDumpAttrs(b, r)
}

// appendDumpTime appends r's time as bgpdump prints it: Unix seconds, with
// six digits of microseconds for a BGP4MP_ET record.
func appendDumpTime(b []byte, r *Route) []byte {
	b = strconv.AppendInt(b, r.Time.Unix(), 10)
	if strings.HasPrefix(r.Record, "BGP4MP_ET") {
		us := r.Time.Nanosecond() / 1000
		b = append(b, '.')
		for d := 100000; d > 1; d /= 10 {
			if us < d {
				b = append(b, '0')
			}
		}
		b = strconv.AppendInt(b, int64(us), 10)
	}
	return b
}

// appendDumpAttrs appends the fields of an announcement that follow its
// prefix, from the AS path to the aggregator, and the line's end: what
// bgpdump prints for attributes r lacks where it lacks them.
func appendDumpAttrs(b []byte, r *Route) []byte {
	a := r.Attrs
	if a == nil {
		a = &Attrs{Origin: -1}
	}
	if a.HasASPath {
		b = append(b, a.ASPath...)
	}
	b = append(b, '|')
	b = append(b, OriginName(a.Origin)...)
	b = append(b, '|')
	if r.NextHop.IsValid() {
		b = appendAddr(b, r.NextHop)
	} else {
		b = append(b, "255.255.255.255"...) // bgpdump's INADDR_NONE for "none"
	}
	b = append(b, '|')
	if a.HasLocalPref {
		b = appendUint(b, a.LocalPref)
	} else {
		b = append(b, '0')
	}
	b = append(b, '|')
	if a.HasMED {
		b = appendUint(b, a.MED)
	} else {
		b = append(b, '0')
	}
	b = append(b, '|')
	if a.HasCommunities {
		b = appendCommunities(b, a.Communities)
	}
	b = append(b, '|')
	if a.AtomicAggregate {
		b = append(b, "AG|"...)
	} else {
		b = append(b, "NAG|"...)
	}
	if a.AggregatorAddr.IsValid() {
		b = appendUint(b, a.AggregatorAS)
		b = append(b, ' ')
		b = appendAddr(b, a.AggregatorAddr)
	}
	return append(b, "|\n"...)
}

// appendCommunities writes communities as bgpdump does, well-known ones by
// name.
func appendCommunities(b []byte, cs []uint32) []byte {
	for i, c := range cs {
		if i > 0 {
			b = append(b, ' ')
		}
		switch c {
		case 0xFFFFFF01:
			b = append(b, "no-export"...)
		case 0xFFFFFF02:
			b = append(b, "no-advertise"...)
		case 0xFFFFFF03:
			b = append(b, "local-AS"...)
		default:
			b = strconv.AppendUint(b, uint64(c>>16), 10)
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(c&0xFFFF), 10)
		}
	}
	return b
}

func appendUint(b []byte, v uint32) []byte { return strconv.AppendUint(b, uint64(v), 10) }

func appendPrefix(b []byte, p netip.Prefix) []byte {
	b = appendAddr(b, p.Addr())
	b = append(b, '/')
	return strconv.AppendInt(b, int64(p.Bits()), 10)
}

// appendAddr writes an address as bgpdump does. IPv4 and IPv4-mapped IPv6
// addresses come out as Go writes them; other IPv6 addresses by bgpdump's
// own formatter (fmt_ipv6), which differs from Go and from RFC 5952 twice:
// an IPv4-compatible address (96 zero bits, then more than 1) is ::a.b.c.d,
// and the longest run of zero groups, the first of equal ones, is written
// :: even when it is one group long (2001:7f8:30::2:1:0:8447, where Go
// writes 2001:7f8:30:0:2:1:0:8447).
func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.Is6() || a.Is4In6() {
		return a.AppendTo(b)
	}
	s := a.As16()
	group := func(i int) uint16 { return uint16(s[2*i])<<8 | uint16(s[2*i+1]) }
	zero := true
	for _, c := range s[:12] {
		zero = zero && c == 0
	}
	if zero && (group(6) != 0 || group(7) > 1) {
		b = append(b, "::"...)
		return netip.AddrFrom4([4]byte{s[12], s[13], s[14], s[15]}).AppendTo(b)
	}
	run, runLen := -1, 0 // the longest run of zero groups
	for i := 0; i < 8; {
		j := i
		for j < 8 && group(j) == 0 {
			j++
		}
		if j-i > runLen {
			run, runLen = i, j-i
		}
		i = max(j, i+1)
	}
	for i := 0; i < 8; i++ {
		if i == run {
			if i == 0 {
				b = append(b, ':')
			}
			b = append(b, ':')
			i += runLen - 1
			continue
		}
		b = strconv.AppendUint(b, uint64(group(i)), 16)
		if i < 7 {
			b = append(b, ':')
		}
	}
	return b
}
