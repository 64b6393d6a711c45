package bgp

import (
	"fmt"
	"net/netip"
)

// Section is the bgp: section of darkwatch's configuration: the control
// plane's sources, MRT files or directories, and the passive route
// collector's local AS, peers and listen address.
type Section struct {
	MRT      []string     `mapstructure:"mrt"`
	LocalASN uint32       `mapstructure:"local_asn"`
	Peers    []PeerConfig `mapstructure:"peers"`
	// Listen is the collector's ADDRESS:PORT for BGP sessions (default
	// port 179 on every address).
	Listen string `mapstructure:"listen"`
	// FullFeed says how many prefixes make a peer's table a full feed.
	FullFeed FullFeedConfig `mapstructure:"full_feed"`
}

// PeerConfig is one BGP neighbour of the passive route collector.
type PeerConfig struct {
	Addr string `mapstructure:"addr"`
	ASN  uint32 `mapstructure:"asn"`
}

// FullFeedConfig says when a peer is a full-feed peer of a family: when it
// sends more prefixes of it than this. IODA uses 400000 and 10000
// (FullFeedIPv4, FullFeedIPv6); a lab or a single upstream, 0.
type FullFeedConfig struct {
	IPv4 int `mapstructure:"ipv4"`
	IPv6 int `mapstructure:"ipv6"`
}

// ConfigError is a bad value of Section. Key names it within the section
// ("peers[0].asn"); the caller puts the section's name before it.
type ConfigError struct {
	Key string
	Msg string
}

// Error names the key and says what is wrong with its value.
func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// Field returns the key and the complaint apart.
func (e *ConfigError) Field() (key, msg string) { return e.Key, e.Msg }

// Validate checks the section.
func (s *Section) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	for i, p := range s.Peers {
		if _, err := netip.ParseAddr(p.Addr); err != nil {
			return bad(fmt.Sprintf("peers[%d].addr", i), "%q is not an IP address", p.Addr)
		}
		if p.ASN == 0 {
			return bad(fmt.Sprintf("peers[%d].asn", i), "every peer needs its AS number")
		}
	}
	if len(s.Peers) > 0 && s.LocalASN == 0 {
		return bad("local_asn", "the collector needs its own AS number to peer with bgp.peers")
	}
	if s.Listen != "" {
		if _, err := netip.ParseAddrPort(s.Listen); err != nil {
			return bad("listen", "%q is not ADDRESS:PORT (0.0.0.0:179, [::]:179)", s.Listen)
		}
	}
	if s.FullFeed.IPv4 < 0 || s.FullFeed.IPv6 < 0 {
		return bad("full_feed", "prefix counts must be 0 or more, not %d and %d", s.FullFeed.IPv4, s.FullFeed.IPv6)
	}
	return nil
}

// Visibility is the configuration of the control-plane view the section
// asks for.
func (s Section) Visibility() Config {
	return Config{FullFeedIPv4: s.FullFeed.IPv4, FullFeedIPv6: s.FullFeed.IPv6}
}
