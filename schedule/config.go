package schedule

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/miekg/dns"
)

// Config is the scheduler's section of darkwatch's configuration: who this
// vantage point is, what it probes (target sets, known hosts, canaries), what
// it must never probe (the blocklist), how fast and how often (rate, round),
// and how the vantage points share the work (vantages, redundancy, quorum).
// The command line decodes it from YAML, environment variables and flags;
// this package only sees the typed values. Validate checks it and never
// changes it: derived values (the blocklist, a set's prefixes of one family,
// the blocks assigned to this vantage) come from methods.
type Config struct {
	Vantage       string        `mapstructure:"vantage"`
	Contact       string        `mapstructure:"contact"`
	Allow         []string      `mapstructure:"allow"`
	Blocklist     []string      `mapstructure:"blocklist"`
	BlocklistFile string        `mapstructure:"blocklist_file"`
	Rate          RateConfig    `mapstructure:"rate"`
	Round         time.Duration `mapstructure:"round"`
	Quorum        int           `mapstructure:"quorum"`
	// Vantages names every vantage point of the deployment; with Redundancy k
	// > 0 each /24 block is probed by k of them, chosen by rendezvous hashing.
	Vantages   []string     `mapstructure:"vantages"`
	Redundancy int          `mapstructure:"redundancy"`
	Canaries   []HostConfig `mapstructure:"canaries"`
	Targets    []TargetSet  `mapstructure:"targets"`
	Probe      ProbeConfig  `mapstructure:"probe"`
	// IPv6BlockBits is the length of an IPv6 block, the unit a census,
	// beliefs and verdicts group IPv6 addresses in; 0 means
	// DefaultIPv6BlockBits (a /48). IPv4 blocks are /24s.
	IPv6BlockBits int `mapstructure:"ipv6_block_bits"`
}

// RateConfig caps the probing rate.
type RateConfig struct {
	PPS         int `mapstructure:"pps"`
	PerBlockPPS int `mapstructure:"per_block_pps"`
}

// ProbeConfig holds per-probe defaults that flags override.
type ProbeConfig struct {
	Timeout  time.Duration `mapstructure:"timeout"`
	Interval time.Duration `mapstructure:"interval"`
	Count    int           `mapstructure:"count"`
	TTL      int           `mapstructure:"ttl"`
	Source   string        `mapstructure:"source"`
	Parallel int           `mapstructure:"parallel"`
	// NSID makes DNS queries ask the server for its NSID (RFC 5001).
	NSID bool `mapstructure:"nsid"`
}

// TargetSet is a named group of prefixes and known hosts probed alike.
type TargetSet struct {
	Name     string   `mapstructure:"name"`
	Prefixes []string `mapstructure:"prefixes"`
	ASN      uint32   `mapstructure:"asn"`
	Country  string   `mapstructure:"country"`
	// From says where a set without prefixes takes them: "bgp" (what ASN
	// originates) or "geo" (what is delegated to Country); "": bgp when
	// ASN is set, else geo. See Named.
	From       string       `mapstructure:"from"`
	Methods    []string     `mapstructure:"methods"`
	TraceEvery int          `mapstructure:"trace_every"`
	Hosts      []HostConfig `mapstructure:"hosts"`
	// Hitlist is a file of addresses to probe, one a line (ReadHitlist):
	// how IPv6 space, too large to sweep, is watched. Its addresses are
	// probed every round and grouped into blocks; the set's IPv6 prefixes
	// of any length then name what those blocks roll up into.
	Hitlist string `mapstructure:"hitlist"`
}

// HostConfig is a single known host (or canary) and how to probe it.
type HostConfig struct {
	Addr    string   `mapstructure:"addr"`
	Name    string   `mapstructure:"name"`
	Methods []string `mapstructure:"methods"`
}

// MinIPv6Bits is the shortest IPv6 target prefix a round probes whole: IPv6
// is probed address by address, at most 1<<(128-MinIPv6Bits) addresses a
// prefix. A shorter one needs a hitlist in its set, which names the
// addresses to probe in it.
const MinIPv6Bits = 112

// ConfigError is a bad configuration: it names the key and, when the caller
// knows it, the file.
type ConfigError struct {
	File string
	Key  string
	Msg  string
}

// Error says where (file and key) and what is wrong, in one line.
func (e *ConfigError) Error() string {
	where := "configuration"
	if e.File != "" {
		where = "config " + e.File
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", where, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Key, e.Msg)
}

// bad is the ConfigError of key.
func bad(key, format string, a ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
}

// Validate checks every value of c; the error, a *ConfigError, names the
// offending key. It reads the blocklist file to check it, and changes
// nothing.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateVantage, c.validateBlocklist, c.validatePacing,
		c.validateVantages, c.validateProbe, c.validateTargets, c.canariesApart, c.validateBlockBits} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateVantage() error {
	if c.Vantage == "" {
		return bad("vantage", "must not be empty")
	}
	if strings.ContainsAny(c.Vantage, "/.*>") || strings.ContainsFunc(c.Vantage, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r)
	}) {
		return bad("vantage", "%q may not contain spaces, control characters (newlines, tabs), '/', '.', '*' or '>': it names records, subjects and files", c.Vantage)
	}
	return nil
}

func (c *Config) validateBlocklist() error {
	_, err := c.BlocklistSet()
	return err
}

// BlocklistSet builds the blocklist c asks for: the default ranges less
// allow, plus blocklist and the ranges of blocklist_file (read now). The
// error is a *ConfigError.
func (c *Config) BlocklistSet() (*Blocklist, error) {
	var allow, blocked []netip.Prefix
	for i, s := range c.Allow {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, bad(fmt.Sprintf("allow[%d]", i), "%v", err)
		}
		allow = append(allow, p)
	}
	for i, s := range c.Blocklist {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, bad(fmt.Sprintf("blocklist[%d]", i), "%v", err)
		}
		blocked = append(blocked, p)
	}
	if c.BlocklistFile != "" {
		f, err := os.Open(c.BlocklistFile)
		if err != nil {
			return nil, bad("blocklist_file", "%v", err)
		}
		ps, err := ParseBlocklistFile(f, c.BlocklistFile)
		f.Close()
		if err != nil {
			return nil, bad("blocklist_file", "%v", err)
		}
		blocked = append(blocked, ps...)
	}
	return NewBlocklist(blocked, allow), nil
}

func (c *Config) validatePacing() error {
	if c.Rate.PPS < 0 {
		return bad("rate.pps", "must be 0 (as fast as possible) or more, not %d", c.Rate.PPS)
	}
	if c.Rate.PerBlockPPS < 0 {
		return bad("rate.per_block_pps", "must be 0 (no cap) or more, not %d", c.Rate.PerBlockPPS)
	}
	if c.Round < time.Second {
		return bad("round", "must be at least 1s, not %v", c.Round)
	}
	return nil
}

func (c *Config) validateVantages() error {
	if c.Redundancy < 0 {
		return bad("redundancy", "must be 0 (every vantage probes every block) or more, not %d", c.Redundancy)
	}
	if c.Redundancy > 0 && len(c.Vantages) > 0 && !slices.Contains(c.Vantages, c.Vantage) {
		return bad("vantages", "does not list this vantage point, %q", c.Vantage)
	}
	if c.Quorum < 1 {
		return bad("quorum", "must be at least 1, not %d", c.Quorum)
	}
	if c.Redundancy > 0 && c.Quorum > c.Redundancy {
		return bad("quorum", "%d is more than redundancy %d, the vantage points that probe each block, so no block could ever be called down",
			c.Quorum, c.Redundancy)
	}
	if len(c.Vantages) > 0 && c.Quorum > len(c.Vantages) {
		return bad("quorum", "%d is more than the vantage points listed in vantages (%d), so no target could ever be called down",
			c.Quorum, len(c.Vantages))
	}
	if len(c.Vantages) > 1 && len(c.Canaries) == 0 {
		return bad("canaries", "are needed with more than one vantage point in vantages: a vantage whose own path fails would read as a target outage")
	}
	return nil
}

func (c *Config) validateProbe() error {
	p := c.Probe
	if p.Timeout <= 0 {
		return bad("probe.timeout", "must be positive, not %v", p.Timeout)
	}
	if p.Count < 1 {
		return bad("probe.count", "must be at least 1, not %d", p.Count)
	}
	if p.TTL < 0 || p.TTL > 255 {
		return bad("probe.ttl", "must be between 1 and 255 (0: system default), not %d", p.TTL)
	}
	if p.Parallel < 1 {
		return bad("probe.parallel", "must be at least 1, not %d", p.Parallel)
	}
	if _, err := ParseSource(p.Source); err != nil {
		return bad("probe.source", "%v", err)
	}
	return nil
}

func (c *Config) validateTargets() error {
	for i, h := range c.Canaries {
		if err := h.validate(fmt.Sprintf("canaries[%d]", i)); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	for i, ts := range c.Targets {
		key := fmt.Sprintf("targets[%d]", i)
		if ts.Name == "" {
			return bad(key+".name", "every target set needs a name")
		}
		if names[ts.Name] {
			return bad(key+".name", "%q is used twice", ts.Name)
		}
		names[ts.Name] = true
		if err := ts.validate(key); err != nil {
			return err
		}
	}
	return nil
}

// validate checks one target set; key is its place in the configuration.
func (ts TargetSet) validate(key string) error {
	for j, s := range ts.Prefixes {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return bad(fmt.Sprintf("%s.prefixes[%d]", key, j), "%q is not a CIDR prefix", s)
		}
		if p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() < MinIPv6Bits && ts.Hitlist == "" {
			return bad(fmt.Sprintf("%s.prefixes[%d]", key, j),
				"%s is too large an IPv6 prefix to probe: run probes IPv6 address by address, at most %d addresses a prefix (a /%d or longer); "+
					"list the addresses to watch in a file, one a line, and name it in this set as hitlist: FILE (the prefix then names what they roll up into)",
				s, 1<<(128-MinIPv6Bits), MinIPv6Bits)
		}
	}
	if err := ts.validateHitlist(key); err != nil {
		return err
	}
	for j, m := range ts.Methods {
		if _, err := ParseMethod(m); err != nil {
			return bad(fmt.Sprintf("%s.methods[%d]", key, j), "%v", err)
		}
	}
	if ts.Country != "" && len(ts.Country) != 2 {
		return bad(key+".country", "%q is not a two-letter country code", ts.Country)
	}
	if err := ts.validateFrom(key); err != nil {
		return err
	}
	if ts.TraceEvery < 0 {
		return bad(key+".trace_every", "must be 0 or more rounds")
	}
	for j, h := range ts.Hosts {
		if err := h.validate(fmt.Sprintf("%s.hosts[%d]", key, j)); err != nil {
			return err
		}
	}
	return nil
}

// canariesApart refuses a canary inside a target prefix or on a known host:
// canaries tell whether a vantage point's own path works, so they must be
// far from the targets (and stable), or a target outage would read as the
// vantage's. Validate has checked that every address and prefix parses.
func (c *Config) canariesApart() error {
	for i, h := range c.Canaries {
		a := netip.MustParseAddr(h.Addr).Unmap()
		for j, ts := range c.Targets {
			for k, s := range ts.Prefixes {
				if p := netip.MustParsePrefix(s); p.Contains(a) {
					return bad(fmt.Sprintf("canaries[%d].addr", i),
						"%s is inside targets[%d].prefixes[%d] (%s): canaries must be stable hosts far away from the targets", h.Addr, j, k, s)
				}
			}
			for k, t := range ts.Hosts {
				if netip.MustParseAddr(t.Addr).Unmap() == a {
					return bad(fmt.Sprintf("canaries[%d].addr", i),
						"%s is targets[%d].hosts[%d]: canaries must be stable hosts far away from the targets", h.Addr, j, k)
				}
			}
		}
	}
	return nil
}

func (h HostConfig) validate(key string) error {
	if _, err := netip.ParseAddr(h.Addr); err != nil {
		return bad(key+".addr", "%q is not an IP address", h.Addr)
	}
	for j, m := range h.Methods {
		if _, err := ParseMethod(m); err != nil {
			return bad(fmt.Sprintf("%s.methods[%d]", key, j), "%v", err)
		}
	}
	return nil
}

// IPv4 is the set's IPv4 prefixes, masked. Validate has checked they parse.
func (ts TargetSet) IPv4() []netip.Prefix { return ts.family(true) }

// IPv6 is the set's IPv6 prefixes, masked. Validate has checked they parse.
func (ts TargetSet) IPv6() []netip.Prefix { return ts.family(false) }

func (ts TargetSet) family(v4 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ts.Prefixes {
		if p := netip.MustParsePrefix(s).Masked(); p.Addr().Is4() == v4 {
			out = append(out, p)
		}
	}
	return out
}

// Probed is what rounds probe of the set's prefixes of one family (v4)
// or the other, with its hitlist's addresses of that family as /32s or
// /128s: an IPv6 prefix shorter than /MinIPv6Bits (allowed beside a
// hitlist) is left out, as its hitlist addresses stand for it. The error
// is the hitlist's, when it cannot be read; the prefixes come back anyway.
func (ts TargetSet) Probed(v4 bool) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range ts.family(v4) {
		if v4 || p.Bits() >= MinIPv6Bits {
			out = append(out, p)
		}
	}
	hit, err := ts.hitlistPrefixes(v4)
	return append(out, hit...), err
}

// Method is one parsed probe method of a target set or host: "icmp", "tcp:80",
// "dns:kp./SOA", "trace", "trace:udp".
type Method struct {
	Name  string // icmp, tcp, dns, trace
	Port  uint16 // tcp
	Qname string // dns
	Qtype string // dns
	Proto string // trace: icmp, udp, tcp
}

// ParseMethod parses "icmp", "tcp:PORT", "dns:QNAME/QTYPE", "trace" or
// "trace:icmp|udp|tcp".
func ParseMethod(s string) (Method, error) {
	name, arg, _ := strings.Cut(s, ":")
	switch name {
	case "icmp":
		if arg != "" {
			return Method{}, fmt.Errorf("method %q: icmp takes no argument", s)
		}
		return Method{Name: name}, nil
	case "tcp":
		port, err := strconv.ParseUint(arg, 10, 16)
		if err != nil || port == 0 {
			return Method{}, fmt.Errorf("method %q: tcp needs a port 1-65535, as in tcp:80", s)
		}
		return Method{Name: name, Port: uint16(port)}, nil
	case "dns":
		qname, qtype, _ := strings.Cut(arg, "/")
		if qname == "" {
			return Method{}, fmt.Errorf("method %q: dns needs a query name, as in dns:example.org./SOA", s)
		}
		if qtype == "" {
			qtype = "A"
		}
		if _, ok := dns.StringToType[strings.ToUpper(qtype)]; !ok {
			return Method{}, fmt.Errorf("method %q: %q is not a DNS query type", s, qtype)
		}
		return Method{Name: name, Qname: dns.Fqdn(qname), Qtype: strings.ToUpper(qtype)}, nil
	case "trace":
		switch arg {
		case "":
			arg = "icmp"
		case "icmp", "udp", "tcp":
		default:
			return Method{}, fmt.Errorf("method %q: trace takes icmp, udp or tcp", s)
		}
		return Method{Name: name, Proto: arg}, nil
	}
	return Method{}, fmt.Errorf("method %q is not one of icmp, tcp:PORT, dns:NAME/TYPE, trace[:icmp|udp|tcp]", s)
}

// ParseSource reads a source address: "" is none (the kernel's choice),
// else an address of a local interface (LocalSource).
func ParseSource(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ad, err := netip.ParseAddr(s)
	if err != nil {
		return ad, fmt.Errorf("%q is not an IP address", s)
	}
	return ad, LocalSource(ad)
}

// LocalSource refuses a source address that is not one of this host's
// interfaces: raw sockets would send it, spoofed, at full rate, and the
// replies would go to whoever holds it.
func LocalSource(ad netip.Addr) error {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("source %s: listing local addresses: %w", ad, err)
	}
	want := ad.Unmap().WithZone("")
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok {
			if la, ok := netip.AddrFromSlice(p.IP); ok && la.Unmap() == want {
				return nil
			}
		}
	}
	return fmt.Errorf("source %s is not an address of a local interface (see ip addr): darkwatch does not send packets from an address that is not its own", ad)
}
