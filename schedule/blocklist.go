package schedule

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// DefaultBlocked are never probed unless allowed: reserved, private, shared,
// loopback, link-local, multicast, documentation and benchmarking ranges (IANA
// special-purpose registries for IPv4 and IPv6).
var DefaultBlocked = []Range{
	{"0.0.0.0/8", "\"this network\" (RFC 791)"},
	{"10.0.0.0/8", "private (RFC 1918)"},
	{"100.64.0.0/10", "shared address space (RFC 6598)"},
	{"127.0.0.0/8", "loopback (RFC 1122)"},
	{"169.254.0.0/16", "link-local (RFC 3927)"},
	{"172.16.0.0/12", "private (RFC 1918)"},
	{"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
	{"192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"},
	{"192.88.99.0/24", "6to4 relay anycast (RFC 7526)"},
	{"192.168.0.0/16", "private (RFC 1918)"},
	{"198.18.0.0/15", "benchmarking (RFC 2544)"},
	{"198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"},
	{"203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"},
	{"224.0.0.0/4", "multicast (RFC 5771)"},
	{"240.0.0.0/4", "reserved (RFC 1112)"},
	{"255.255.255.255/32", "limited broadcast (RFC 919)"},
	{"::/96", "IPv4-compatible, unspecified and loopback (RFC 4291)"},
	{"::ffff:0:0/96", "IPv4-mapped (RFC 4291)"},
	{"64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"},
	{"100::/64", "discard-only (RFC 6666)"},
	{"2001::/23", "IETF protocol assignments (RFC 2928)"},
	{"2001:db8::/32", "documentation (RFC 3849)"},
	{"2002::/16", "6to4 (RFC 3056)"},
	{"3fff::/20", "documentation (RFC 9637)"},
	{"5f00::/16", "segment routing SIDs (RFC 9602)"},
	{"fc00::/7", "unique local (RFC 4193)"},
	{"fe80::/10", "link-local (RFC 4291)"},
	{"fec0::/10", "site-local, deprecated (RFC 3879)"},
	{"ff00::/8", "multicast (RFC 4291)"},
}

// Range is a blocked prefix and why it is blocked.
type Range struct {
	Prefix string
	Why    string
}

// Blocklist says which addresses must never be probed. The zero value blocks
// nothing; NewBlocklist starts from DefaultBlocked.
type Blocklist struct {
	defaults []blocked // exempted by allowed
	operator []blocked // the operator's own: never exempted
	allowed  []netip.Prefix
}

type blocked struct {
	p   netip.Prefix
	why string
}

// nat64 is the well-known NAT64 prefix (RFC 6052): its addresses carry an IPv4
// address in their last 32 bits, and are judged as that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// NewBlocklist returns the default blocklist plus the operator's extra
// ranges, with allow exempted from the default ranges only: an operator's
// blocklist (opt-outs) always wins over allow.
func NewBlocklist(extra, allow []netip.Prefix) *Blocklist {
	b := &Blocklist{}
	for _, r := range DefaultBlocked {
		b.defaults = append(b.defaults, blocked{netip.MustParsePrefix(r.Prefix), r.Why})
	}
	for _, p := range extra {
		b.operator = append(b.operator, blocked{p.Masked(), "configured blocklist"})
	}
	for _, p := range allow {
		b.allowed = append(b.allowed, p.Masked())
	}
	return b
}

// Check returns nil when a may be probed, else an error that says why not and how
// to allow it. An IPv6 zone does not change the address probed, so it is
// ignored; an IPv4-mapped address and a NAT64 address (64:ff9b::/96) are
// judged as the IPv4 address they carry as well.
func (b *Blocklist) Check(a netip.Addr) error {
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		v4 := a.As16()
		if err := b.Check(netip.AddrFrom4([4]byte(v4[12:]))); err != nil {
			return err
		}
	}
	for _, r := range b.operator {
		if r.p.Contains(a) {
			return &BlockedError{Addr: a, Prefix: r.p, Why: r.why, Operator: true}
		}
	}
	for _, p := range b.allowed {
		if p.Contains(a) {
			return nil
		}
	}
	for _, r := range b.defaults {
		if r.p.Contains(a) {
			return &BlockedError{Addr: a, Prefix: r.p, Why: r.why}
		}
	}
	return nil
}

// denied is every range Check refuses, normalised: the default ranges less
// the allowed ones, the operator's ranges, and the NAT64 image of each
// refused IPv4 range.
func (b *Blocklist) denied() []addrRange {
	var defaults, allow, deny []addrRange
	for _, r := range b.defaults {
		defaults = append(defaults, prefixRange(r.p))
	}
	for _, p := range b.allowed {
		allow = append(allow, prefixRange(p))
	}
	deny = subtract(normalize(defaults), normalize(allow))
	for _, r := range b.operator {
		deny = append(deny, prefixRange(r.p))
	}
	deny = normalize(deny)
	for _, r := range deny {
		if r.lo.Is4() {
			deny = append(deny, addrRange{nat64Of(r.lo), nat64Of(r.hi)})
		}
	}
	return normalize(deny)
}

// nat64Of is the NAT64 address (64:ff9b::/96) that carries a.
func nat64Of(a netip.Addr) netip.Addr {
	b := nat64.Addr().As16()
	v4 := a.As4()
	copy(b[12:], v4[:])
	return netip.AddrFrom16(b)
}

// BlockedError says that an address lies in a blocked range.
type BlockedError struct {
	Addr   netip.Addr
	Prefix netip.Prefix
	Why    string
	// Operator marks a range of the operator's own blocklist, which no
	// --allow exempts.
	Operator bool
}

func (e *BlockedError) Error() string {
	if e.Operator {
		return fmt.Sprintf("%s is in %s, on the configured blocklist (blocklist: or blocklist_file:), which --allow does not override",
			e.Addr, e.Prefix)
	}
	return fmt.Sprintf("%s is in %s, %s, which darkwatch never probes by default; to probe it anyway, pass --allow %s (or add it under allow: in the config)",
		e.Addr, e.Prefix, e.Why, e.Prefix)
}

// ParseBlocklistFile reads one CIDR or address per line; '#' starts a comment.
// Unlike a target file it takes prefixes of any size.
func ParseBlocklistFile(r io.Reader, name string) ([]netip.Prefix, error) {
	return readPrefixes(r, name, ParsePrefix)
}

// readPrefixes reads one prefix per line with parse; '#' starts a comment and
// blank lines are skipped. Errors are prefixed with name:line.
func readPrefixes(r io.Reader, name string, parse func(string) (netip.Prefix, error)) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, err := parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ParsePrefix accepts a CIDR or a bare address (taken as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
