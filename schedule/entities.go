package schedule

import (
	"fmt"
	"net/netip"

	"darkwatch/results"
)

// TargetPrefixes is what a sweep of the configuration covers: every target
// set's probed prefixes, masked, with its hitlist's addresses (see
// TargetSet.Probed), and its known hosts as single-address prefixes.
// Validate has checked they parse; the error is a hitlist's that cannot be
// read.
func (c *Config) TargetPrefixes() ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, ts := range c.Targets {
		for _, v4 := range []bool{true, false} {
			probed, err := ts.Probed(v4)
			if err != nil {
				return nil, fmt.Errorf("target set %s: hitlist: %w", ts.Name, err)
			}
			ps = append(ps, probed...)
		}
		for _, h := range ts.Hosts {
			ad := netip.MustParseAddr(h.Addr)
			ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
		}
	}
	return ps, nil
}

// Analysis describes the configuration's entities to results' analysis:
// the quorum and round length, the target sets with their prefixes, the
// known hosts and the canaries.
func (c *Config) Analysis() results.Analysis {
	an := results.Analysis{Quorum: c.Quorum, Round: c.Round, BlockBits6: c.IPv6Blocks()}
	for _, ts := range c.Targets {
		set := results.TargetSet{Name: ts.Name, ASN: ts.ASN, Country: ts.Country}
		for _, p := range ts.Prefixes {
			set.Prefixes = append(set.Prefixes, netip.MustParsePrefix(p).Masked())
		}
		// Validate has read the hitlist; one unreadable since rolls up nothing.
		addrs, _ := ts.HitlistAddrs()
		set.Blocks = hitlistBlocks(addrs, c.IPv6Blocks())
		an.Sets = append(an.Sets, set)
		for _, h := range ts.Hosts {
			an.Hosts = append(an.Hosts, netip.MustParseAddr(h.Addr))
		}
	}
	for _, h := range c.Canaries {
		an.Canaries = append(an.Canaries, netip.MustParseAddr(h.Addr))
	}
	return an
}
