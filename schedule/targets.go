package schedule

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// MaxPrefixAddrs is the most addresses one target prefix may hold: 2^32, a whole
// IPv4 space or an IPv6 /96. Larger IPv6 prefixes cannot be swept address by
// address; they are probed through a hitlist of known addresses instead.
const MaxPrefixAddrs = 1 << 32

// ErrPrefixTooLarge is wrapped by the error for a target prefix that holds more
// than MaxPrefixAddrs addresses.
var ErrPrefixTooLarge = errors.New("prefix too large to sweep")

// Space is a set of target addresses: IPv4 and IPv6 prefixes and single
// addresses, deduplicated, with overlapping and adjacent ranges merged and the
// blocklist subtracted, so that Size counts exactly the addresses that may be
// probed. Index numbers them 0..Size()-1, IPv4 before IPv6, each family in
// ascending order. A Space is immutable and safe for concurrent use.
type Space struct {
	spans   []span // sorted, disjoint, non-adjacent
	size    uint64
	blocked uint64
}

// span is a run of consecutive addresses: first .. first+n-1 of one family, the
// off-th to (off+n-1)-th addresses of the Space.
type span struct {
	first uint128
	n     uint64
	off   uint64
	v6    bool
}

// NewSpace builds the Space of targets minus what bl blocks (as
// Blocklist.Check decides: default ranges less the allowed ones, the
// operator's ranges, and the NAT64 images of the blocked IPv4 ranges). A nil bl blocks nothing, like
// the zero Blocklist. IPv4-mapped IPv6 prefixes are taken as IPv4. A prefix
// with more than MaxPrefixAddrs addresses is an error wrapping ErrPrefixTooLarge.
func NewSpace(targets []netip.Prefix, bl *Blocklist) (*Space, error) {
	want := make([]addrRange, 0, len(targets))
	for _, p := range targets {
		if !p.IsValid() {
			return nil, fmt.Errorf("schedule: invalid target prefix %v", p)
		}
		p = unmapPrefix(p)
		if err := checkSweepable(p); err != nil {
			return nil, err
		}
		want = append(want, prefixRange(p))
	}
	want = normalize(want)
	all, err := rangesSize(want)
	if err != nil {
		return nil, err
	}
	if bl != nil {
		want = subtract(want, bl.denied())
	}
	s := &Space{spans: make([]span, 0, len(want))}
	for _, r := range want {
		first, last := toUint128(r.lo), toUint128(r.hi)
		n := last.sub(first).lo + 1 // fits: rangesSize checked the union
		s.spans = append(s.spans, span{first: first, n: n, off: s.size, v6: r.lo.Is6()})
		s.size += n
	}
	s.blocked = all - s.size
	return s, nil
}

// Size is the number of addresses in the Space.
func (s *Space) Size() uint64 { return s.size }

// Blocked is the number of target addresses that the blocklist removed.
func (s *Space) Blocked() uint64 { return s.blocked }

// Index returns the i-th address of the Space, in O(log n) for n merged ranges
// and without allocating. It panics if i >= Size().
func (s *Space) Index(i uint64) netip.Addr {
	if i >= s.size {
		panic(fmt.Sprintf("schedule: Space.Index(%d) out of range [0, %d)", i, s.size))
	}
	// The last span whose offset is <= i.
	lo, hi := 0, len(s.spans)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if s.spans[m].off <= i {
			lo = m
		} else {
			hi = m
		}
	}
	sp := &s.spans[lo]
	a := sp.first.add(i - sp.off)
	if !sp.v6 {
		return netip.AddrFrom4([4]byte{byte(a.lo >> 24), byte(a.lo >> 16), byte(a.lo >> 8), byte(a.lo)})
	}
	return a.addr6()
}

// Contains reports whether a is in the Space. IPv4-mapped addresses are taken
// as IPv4.
func (s *Space) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	v6, x := a.Is6(), toUint128(a)
	i, found := slices.BinarySearchFunc(s.spans, x, func(sp span, x uint128) int {
		if sp.v6 != v6 {
			if sp.v6 {
				return 1
			}
			return -1
		}
		return sp.first.cmp(x)
	})
	if found {
		return true
	}
	if i == 0 {
		return false
	}
	// spans[i-1] is the last span that starts before a.
	sp := &s.spans[i-1]
	return sp.v6 == v6 && x.sub(sp.first).cmp(uint128{0, sp.n}) < 0
}

// Prefixes returns the Space as the fewest CIDR prefixes that cover exactly its
// addresses, in Index order.
func (s *Space) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, sp := range s.spans {
		width := 32
		if sp.v6 {
			width = 128
		}
		a, left := sp.first, sp.n
		for left > 0 {
			// The largest aligned block at a that fits in what is left.
			k := min(a.trailingZeros(), bits.Len64(left)-1, width)
			var addr netip.Addr
			if sp.v6 {
				addr = a.addr6()
			} else {
				addr = netip.AddrFrom4([4]byte{byte(a.lo >> 24), byte(a.lo >> 16), byte(a.lo >> 8), byte(a.lo)})
			}
			out = append(out, netip.PrefixFrom(addr, width-k))
			a = a.add(1 << k)
			left -= 1 << k
		}
	}
	return out
}

// ParseTargets parses target specifications as given to --targets: each is a
// comma-separated list of CIDR prefixes, bare addresses and @FILE references,
// where FILE holds one prefix or address per line ('#' starts a comment; see
// ReadTargets). Errors name the offending spec, or the file and line.
func ParseTargets(specs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, spec := range specs {
		for _, s := range strings.Split(spec, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				continue
			case strings.HasPrefix(s, "@"):
				ps, err := readTargetFile(s[1:])
				if err != nil {
					return nil, err
				}
				out = append(out, ps...)
			default:
				p, err := parseTarget(s)
				if err != nil {
					return nil, fmt.Errorf("target %w", err)
				}
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func readTargetFile(name string) ([]netip.Prefix, error) {
	if name == "" {
		return nil, errors.New("target @: a file name must follow '@'")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("target file: %w", err)
	}
	defer f.Close()
	return ReadTargets(f, name)
}

// ReadTargets reads a target (hitlist) file: one CIDR prefix or address per
// line, '#' starts a comment, blank lines are skipped. Errors are prefixed
// with name:line.
func ReadTargets(r io.Reader, name string) ([]netip.Prefix, error) {
	return readPrefixes(r, name, parseTarget)
}

// parseTarget is ParsePrefix plus the size check.
func parseTarget(s string) (netip.Prefix, error) {
	p, err := ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	p = unmapPrefix(p)
	return p, checkSweepable(p)
}

// checkSweepable refuses prefixes of more than MaxPrefixAddrs addresses.
func checkSweepable(p netip.Prefix) error {
	host := p.Addr().BitLen() - p.Bits()
	if host <= 32 {
		return nil
	}
	return fmt.Errorf("%v holds 2^%d addresses, more than the 2^32 one sweep may cover: "+
		"give prefixes of /%d or longer, or list the addresses to probe in a hitlist file "+
		"(--targets @hitlist.txt, one address per line): %w",
		p, host, p.Addr().BitLen()-32, ErrPrefixTooLarge)
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96+n) into the
// IPv4 prefix a.b.c.d/n.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

// addrRange is the inclusive range lo..hi of one address family.
type addrRange struct{ lo, hi netip.Addr }

func prefixRange(p netip.Prefix) addrRange {
	p = p.Masked()
	lo := toUint128(p.Addr())
	host := p.Addr().BitLen() - p.Bits()
	hi := lo.or(uint128{}.not().shr(128 - host)) // host bits all ones
	if p.Addr().Is4() {
		return addrRange{p.Addr(), netip.AddrFrom4([4]byte{byte(hi.lo >> 24), byte(hi.lo >> 16), byte(hi.lo >> 8), byte(hi.lo)})}
	}
	return addrRange{p.Addr(), hi.addr6()}
}

// normalize sorts rs and merges overlapping and adjacent ranges of the same
// family. It reuses rs.
func normalize(rs []addrRange) []addrRange {
	if len(rs) == 0 {
		return rs
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.lo.Compare(b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		// Addr.Compare orders IPv4 before IPv6, so families never interleave.
		if r.lo.BitLen() == last.hi.BitLen() {
			next := last.hi.Next() // invalid when last.hi is the family's last address
			if !next.IsValid() || r.lo.Compare(next) <= 0 {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// subtract returns a minus b; both are normalized, and so is the result.
func subtract(a, b []addrRange) []addrRange {
	var out []addrRange
	j := 0
	for _, r := range a {
		cur, done := r.lo, false
		for j < len(b) && b[j].hi.Compare(cur) < 0 {
			j++ // b[j] lies wholly before r
		}
		for k := j; k < len(b) && b[k].lo.Compare(r.hi) <= 0; k++ {
			if b[k].lo.Compare(cur) > 0 {
				out = append(out, addrRange{cur, b[k].lo.Prev()})
			}
			if b[k].hi.Compare(r.hi) >= 0 {
				done = true
				break
			}
			cur = b[k].hi.Next()
		}
		if !done {
			out = append(out, addrRange{cur, r.hi})
		}
	}
	return out
}

// rangesSize is the number of addresses in normalized rs, or an error if it
// does not fit in a uint64.
func rangesSize(rs []addrRange) (uint64, error) {
	var total uint64
	for _, r := range rs {
		d := toUint128(r.hi).sub(toUint128(r.lo))
		n, carry := bits.Add64(d.lo, 1, 0)
		sum, c2 := bits.Add64(total, n, 0)
		if d.hi != 0 || carry != 0 || c2 != 0 {
			return 0, fmt.Errorf("schedule: the targets hold more than 2^64 addresses: %w", ErrPrefixTooLarge)
		}
		total = sum
	}
	return total, nil
}

// uint128 is an address as a number: IPv4 in the low 32 bits.
type uint128 struct{ hi, lo uint64 }

func toUint128(a netip.Addr) uint128 {
	if a.Is4() {
		b := a.As4()
		return uint128{0, uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u uint128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[8+i])
	}
	return u
}

func (u uint128) addr6() netip.Addr {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(u.hi >> (56 - 8*i))
		b[8+i] = byte(u.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func (u uint128) add(n uint64) uint128 {
	lo, c := bits.Add64(u.lo, n, 0)
	return uint128{u.hi + c, lo}
}

func (u uint128) sub(v uint128) uint128 {
	lo, b := bits.Sub64(u.lo, v.lo, 0)
	return uint128{u.hi - v.hi - b, lo}
}

func (u uint128) cmp(v uint128) int {
	switch {
	case u.hi < v.hi:
		return -1
	case u.hi > v.hi:
		return 1
	case u.lo < v.lo:
		return -1
	case u.lo > v.lo:
		return 1
	}
	return 0
}

func (u uint128) or(v uint128) uint128 { return uint128{u.hi | v.hi, u.lo | v.lo} }
func (u uint128) not() uint128         { return uint128{^u.hi, ^u.lo} }

// shr shifts right by n in [0, 128].
func (u uint128) shr(n int) uint128 {
	switch {
	case n >= 128:
		return uint128{}
	case n >= 64:
		return uint128{0, u.hi >> (n - 64)}
	case n == 0:
		return u
	}
	return uint128{u.hi >> n, u.lo>>n | u.hi<<(64-n)}
}

func (u uint128) trailingZeros() int {
	if u.lo != 0 {
		return bits.TrailingZeros64(u.lo)
	}
	return 64 + bits.TrailingZeros64(u.hi)
}
