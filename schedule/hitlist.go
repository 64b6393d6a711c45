package schedule

// This file reads hitlists: the IPv6 space cannot be swept, so a target set
// names the addresses to probe in a file (hitlist: FILE), as public IPv6
// hitlists publish them, and groups them into blocks for the verdicts.

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"darkwatch/results"
)

// DefaultIPv6BlockBits is the length of an IPv6 block when ipv6_block_bits
// is not set: a /48, the usual assignment to one site.
const DefaultIPv6BlockBits = results.CensusBits6

// Bounds of ipv6_block_bits: no shorter than a /16, no longer than a /64
// (one subnet).
const (
	MinIPv6BlockBits = 16
	MaxIPv6BlockBits = 64
)

// ReadHitlist reads a hitlist: one address a line, IPv4 or IPv6, alone or as
// a single-address prefix (/128, /32), as public hitlists publish them; '#'
// starts a comment and blank lines are skipped. A shorter prefix is refused:
// a hitlist names addresses, not ranges. The addresses come back in file
// order, IPv4-mapped ones as IPv4, without zones, each once. Errors are
// prefixed with name:line.
func ReadHitlist(r io.Reader, name string) ([]netip.Addr, error) {
	ps, err := readPrefixes(r, name, parseHitlistEntry)
	if err != nil {
		return nil, err
	}
	seen := make(map[netip.Addr]bool, len(ps))
	out := make([]netip.Addr, 0, len(ps))
	for _, p := range ps {
		if a := p.Addr(); !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// parseHitlistEntry parses one hitlist line into a single-address prefix.
func parseHitlistEntry(s string) (netip.Prefix, error) {
	var a netip.Addr
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address", s)
		}
		if !p.IsSingleIP() {
			return netip.Prefix{}, fmt.Errorf("%q is a range, not an address: a hitlist lists addresses, one a line (%s or %s/%d)",
				s, p.Addr(), p.Addr(), p.Addr().BitLen())
		}
		a = p.Addr()
	} else {
		var err error
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address", s)
		}
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// readHitlistFile is ReadHitlist of the file name.
func readHitlistFile(name string) ([]netip.Addr, error) {
	if name == "" {
		return nil, errors.New("hitlist: no file named")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadHitlist(f, name)
}

// HitlistAddrs reads the set's hitlist (nil without one).
func (ts TargetSet) HitlistAddrs() ([]netip.Addr, error) {
	if ts.Hitlist == "" {
		return nil, nil
	}
	return readHitlistFile(ts.Hitlist)
}

// hitlistPrefixes is the set's hitlist as single-address prefixes of one
// family (v4) or the other; nil, with the error, when it cannot be read.
func (ts TargetSet) hitlistPrefixes(v4 bool) ([]netip.Prefix, error) {
	addrs, err := ts.HitlistAddrs()
	var out []netip.Prefix
	for _, a := range addrs {
		if a.Is4() == v4 {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out, err
}

// validateHitlist checks the set's hitlist: it is read now, and must name
// at least one address.
func (ts TargetSet) validateHitlist(key string) error {
	if ts.Hitlist == "" {
		return nil
	}
	addrs, err := ts.HitlistAddrs()
	if err != nil {
		return bad(key+".hitlist", "%v", err)
	}
	if len(addrs) == 0 {
		return bad(key+".hitlist", "%s lists no address", ts.Hitlist)
	}
	return nil
}

// IPv6Blocks is the length of IPv6 blocks: ipv6_block_bits, or
// DefaultIPv6BlockBits when it is not set.
func (c *Config) IPv6Blocks() int {
	if c.IPv6BlockBits == 0 {
		return DefaultIPv6BlockBits
	}
	return c.IPv6BlockBits
}

func (c *Config) validateBlockBits() error {
	if b := c.IPv6BlockBits; b != 0 && (b < MinIPv6BlockBits || b > MaxIPv6BlockBits) {
		return bad("ipv6_block_bits", "%d: an IPv6 block is a /%d to a /%d (default %d)",
			b, MinIPv6BlockBits, MaxIPv6BlockBits, DefaultIPv6BlockBits)
	}
	return nil
}

// hitlistBlocks is the blocks (of IPv6 blocks /bits6) of addrs, sorted,
// each once: what a hitlist set's addresses roll up through.
func hitlistBlocks(addrs []netip.Addr, bits6 int) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		out = append(out, results.BlockOf(a, bits6))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out)
}
