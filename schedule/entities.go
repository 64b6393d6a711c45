package schedule

import (
	"net/netip"

	"darkwatch/results"
)

// TargetPrefixes is what a sweep of the configuration covers: every target
// set's prefixes, masked, and its known hosts as single-address prefixes.
// Validate has checked they parse.
func (c *Config) TargetPrefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, ts := range c.Targets {
		for _, s := range ts.Prefixes {
			ps = append(ps, netip.MustParsePrefix(s).Masked())
		}
		for _, h := range ts.Hosts {
			ad := netip.MustParseAddr(h.Addr)
			ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
		}
	}
	return ps
}

// Analysis describes the configuration's entities to results' analysis:
// the quorum and round length, the target sets with their prefixes, the
// known hosts and the canaries.
func (c *Config) Analysis() results.Analysis {
	an := results.Analysis{Quorum: c.Quorum, Round: c.Round}
	for _, ts := range c.Targets {
		set := results.TargetSet{Name: ts.Name, ASN: ts.ASN, Country: ts.Country}
		for _, p := range ts.Prefixes {
			set.Prefixes = append(set.Prefixes, netip.MustParsePrefix(p).Masked())
		}
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
