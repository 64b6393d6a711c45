package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-viper/mapstructure/v2"
	"github.com/miekg/dns"
	"github.com/spf13/viper"

	"darkwatch/results/bgp"
	"darkwatch/results/serve"
	"darkwatch/results/transport"
	"darkwatch/schedule"
)

// Config is darkwatch's whole configuration, as read from YAML, DARKWATCH_*
// environment variables and flags. Packages below cmd/ never see viper: they get
// the typed values this struct yields.
type Config struct {
	Vantage string `mapstructure:"vantage"`
	Store   string `mapstructure:"store"`
	// StorePasswordFile holds the PostgreSQL store's password, so that it
	// is in neither the DSN, the logs nor ps (refused when others may read it).
	StorePasswordFile string        `mapstructure:"store_password_file"`
	Contact           string        `mapstructure:"contact"`
	Allow             []string      `mapstructure:"allow"`
	Blocklist         []string      `mapstructure:"blocklist"`
	BlocklistFile     string        `mapstructure:"blocklist_file"`
	Rate              RateConfig    `mapstructure:"rate"`
	Round             time.Duration `mapstructure:"round"`
	Quorum            int           `mapstructure:"quorum"`
	// Vantages names every vantage point of the deployment; with Redundancy k
	// > 0 each /24 block is probed by k of them, chosen by rendezvous hashing.
	Vantages   []string     `mapstructure:"vantages"`
	Redundancy int          `mapstructure:"redundancy"`
	Canaries   []HostConfig `mapstructure:"canaries"`
	Targets    []TargetSet  `mapstructure:"targets"`
	Probe      ProbeConfig  `mapstructure:"probe"`
	// Collector, Serve and BGP are the sections of results/transport,
	// results/serve and results/bgp, which validate them.
	Collector transport.Link `mapstructure:"collector"`
	Serve     serve.Config   `mapstructure:"serve"`
	BGP       bgp.Section    `mapstructure:"bgp"`
	LogLevel  string         `mapstructure:"log_level"`
	// Metrics is the listen address of /metrics on `run` ("" = none).
	Metrics string `mapstructure:"metrics"`

	// Derived by Validate.
	allow, blocked []netip.Prefix
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
}

// TargetSet is a named group of prefixes and known hosts probed alike.
type TargetSet struct {
	Name       string       `mapstructure:"name"`
	Prefixes   []string     `mapstructure:"prefixes"`
	ASN        uint32       `mapstructure:"asn"`
	Country    string       `mapstructure:"country"`
	Methods    []string     `mapstructure:"methods"`
	TraceEvery int          `mapstructure:"trace_every"`
	Hosts      []HostConfig `mapstructure:"hosts"`
}

// HostConfig is a single known host (or canary) and how to probe it.
type HostConfig struct {
	Addr    string   `mapstructure:"addr"`
	Name    string   `mapstructure:"name"`
	Methods []string `mapstructure:"methods"`
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

// defaults are set on every viper instance before the file is read.
func setDefaults(v *viper.Viper) {
	host, _ := os.Hostname()
	v.SetDefault("vantage", host)
	v.SetDefault("store", "")
	v.SetDefault("store_password_file", "")
	v.SetDefault("contact", "darkwatch measurement probe")
	v.SetDefault("rate.pps", 10000)
	v.SetDefault("rate.per_block_pps", 10)
	v.SetDefault("round", 11*time.Minute)
	v.SetDefault("quorum", 2)
	v.SetDefault("probe.timeout", 2*time.Second)
	v.SetDefault("probe.interval", time.Second)
	v.SetDefault("probe.count", 1)
	v.SetDefault("probe.parallel", 256)
	v.SetDefault("log_level", "info")
	v.SetDefault("metrics", "127.0.0.1:9108")
	v.SetDefault("bgp.full_feed.ipv4", bgp.FullFeedIPv4)
	v.SetDefault("bgp.full_feed.ipv6", bgp.FullFeedIPv6)
}

// ConfigError is a bad configuration: it names the key and, when there is one,
// the file. It makes darkwatch exit 2.
type ConfigError struct {
	File string
	Key  string
	Msg  string
}

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

// loadConfig reads the file (if any) into v and decodes it strictly: unknown keys
// and ill-typed values are errors naming the key.
func loadConfig(v *viper.Viper, file string) (*Config, error) {
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var pe viper.ConfigParseError
			if errors.As(err, &pe) {
				return nil, &ConfigError{File: file, Msg: "not valid YAML: " + strings.TrimSpace(pe.Error())}
			}
			return nil, &ConfigError{File: file, Msg: err.Error()}
		}
	}
	var c Config
	dec := func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			refuseBareDuration,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	}
	if err := v.Unmarshal(&c, dec); err != nil {
		return nil, &ConfigError{File: file, Msg: decodeMessage(err)}
	}
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	return &c, nil
}

// durationType is the type of every duration key.
var durationType = reflect.TypeFor[time.Duration]()

// refuseBareDuration refuses a number where a duration goes: YAML's
// `timeout: 5` would otherwise be 5 nanoseconds, and every probe would time out.
func refuseBareDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v is a bare number, not a duration: write it with a unit, as %vs (seconds) or %vms", data, data, data)
	}
	return data, nil
}

// decodeMessage turns mapstructure's error list into one readable sentence.
func decodeMessage(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	s = strings.ReplaceAll(s, "\n", "; ")
	s = strings.ReplaceAll(s, "has invalid keys", "has unknown keys")
	return s
}

// Validate checks every value and fills the derived fields. The error names the
// offending key.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	if c.Vantage == "" {
		return bad("vantage", "must not be empty")
	}
	if strings.ContainsAny(c.Vantage, "/.*>") || strings.ContainsFunc(c.Vantage, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r)
	}) {
		return bad("vantage", "%q may not contain spaces, control characters (newlines, tabs), '/', '.', '*' or '>': it names records, subjects and files", c.Vantage)
	}
	c.allow, c.blocked = nil, nil
	for i, s := range c.Allow {
		p, err := schedule.ParsePrefix(s)
		if err != nil {
			return bad(fmt.Sprintf("allow[%d]", i), "%v", err)
		}
		c.allow = append(c.allow, p)
	}
	for i, s := range c.Blocklist {
		p, err := schedule.ParsePrefix(s)
		if err != nil {
			return bad(fmt.Sprintf("blocklist[%d]", i), "%v", err)
		}
		c.blocked = append(c.blocked, p)
	}
	if c.BlocklistFile != "" {
		f, err := os.Open(c.BlocklistFile)
		if err != nil {
			return bad("blocklist_file", "%v", err)
		}
		ps, err := schedule.ParseBlocklistFile(f, c.BlocklistFile)
		f.Close()
		if err != nil {
			return bad("blocklist_file", "%v", err)
		}
		c.blocked = append(c.blocked, ps...)
	}
	if c.Rate.PPS < 0 {
		return bad("rate.pps", "must be 0 (as fast as possible) or more, not %d", c.Rate.PPS)
	}
	if c.Rate.PerBlockPPS < 0 {
		return bad("rate.per_block_pps", "must be 0 (no cap) or more, not %d", c.Rate.PerBlockPPS)
	}
	if c.Round < time.Second {
		return bad("round", "must be at least 1s, not %v", c.Round)
	}
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
	if c.Probe.Timeout <= 0 {
		return bad("probe.timeout", "must be positive, not %v", c.Probe.Timeout)
	}
	if c.Probe.Count < 1 {
		return bad("probe.count", "must be at least 1, not %d", c.Probe.Count)
	}
	if c.Probe.TTL < 0 || c.Probe.TTL > 255 {
		return bad("probe.ttl", "must be between 1 and 255 (0: system default), not %d", c.Probe.TTL)
	}
	if c.Probe.Parallel < 1 {
		return bad("probe.parallel", "must be at least 1, not %d", c.Probe.Parallel)
	}
	if c.Probe.Source != "" {
		ad, err := netip.ParseAddr(c.Probe.Source)
		if err != nil {
			return bad("probe.source", "%q is not an IP address", c.Probe.Source)
		}
		if err := localSource(ad); err != nil {
			return bad("probe.source", "%v", err)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
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
		for j, s := range ts.Prefixes {
			if _, err := netip.ParsePrefix(s); err != nil {
				return bad(fmt.Sprintf("%s.prefixes[%d]", key, j), "%q is not a CIDR prefix", s)
			}
		}
		for j, m := range ts.Methods {
			if _, err := ParseMethod(m); err != nil {
				return bad(fmt.Sprintf("%s.methods[%d]", key, j), "%v", err)
			}
		}
		if ts.Country != "" && len(ts.Country) != 2 {
			return bad(key+".country", "%q is not a two-letter country code", ts.Country)
		}
		if ts.TraceEvery < 0 {
			return bad(key+".trace_every", "must be 0 or more rounds")
		}
		for j, h := range ts.Hosts {
			if err := h.validate(fmt.Sprintf("%s.hosts[%d]", key, j)); err != nil {
				return err
			}
		}
	}
	if err := c.canariesApart(); err != nil {
		return err
	}
	return c.validateSections()
}

// validateSections has each library section validate itself, naming the
// key from the top of the file, and checks what joins them.
func (c *Config) validateSections() error {
	if err := c.Collector.Validate(); err != nil {
		return inSection("collector", err)
	}
	if c.Collector.URL != "" && c.Store == "" {
		return &ConfigError{Key: "store", Msg: "a node that sends to a collector needs a local store, which keeps each record until the collector has it"}
	}
	if err := c.Serve.Validate(); err != nil {
		return inSection("serve", err)
	}
	if err := c.BGP.Validate(); err != nil {
		return inSection("bgp", err)
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
					return &ConfigError{Key: fmt.Sprintf("canaries[%d].addr", i), Msg: fmt.Sprintf(
						"%s is inside targets[%d].prefixes[%d] (%s): canaries must be stable hosts far away from the targets", h.Addr, j, k, s)}
				}
			}
			for k, t := range ts.Hosts {
				if netip.MustParseAddr(t.Addr).Unmap() == a {
					return &ConfigError{Key: fmt.Sprintf("canaries[%d].addr", i), Msg: fmt.Sprintf(
						"%s is targets[%d].hosts[%d]: canaries must be stable hosts far away from the targets", h.Addr, j, k)}
				}
			}
		}
	}
	return nil
}

func (h HostConfig) validate(key string) error {
	if _, err := netip.ParseAddr(h.Addr); err != nil {
		return &ConfigError{Key: key + ".addr", Msg: fmt.Sprintf("%q is not an IP address", h.Addr)}
	}
	for j, m := range h.Methods {
		if _, err := ParseMethod(m); err != nil {
			return &ConfigError{Key: fmt.Sprintf("%s.methods[%d]", key, j), Msg: err.Error()}
		}
	}
	return nil
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

// inSection makes the error of a library's configuration section (one with
// a Field method giving the key within the section) a ConfigError naming
// the key from the top of the file; section "" is the top itself.
func inSection(section string, err error) error {
	var f interface{ Field() (string, string) }
	if !errors.As(err, &f) {
		return &ConfigError{Key: section, Msg: err.Error()}
	}
	key, msg := f.Field()
	if section != "" {
		key = section + "." + key
	}
	return &ConfigError{Key: key, Msg: msg}
}

// BlocklistSet builds the blocklist this configuration asks for.
func (c *Config) BlocklistSet() *schedule.Blocklist {
	return schedule.NewBlocklist(c.blocked, c.allow)
}

// envPrefix begins every environment variable darkwatch reads.
const envPrefix = "DARKWATCH_"

// otherEnv are DARKWATCH_ variables that are not configuration keys: the
// configuration file, and those of the test suite and benchmarks.
var otherEnv = []string{"CONFIG", "TEST_POSTGRES", "ARTIFACTS", "UPDATE_GOLDEN", "BENCH_SECONDS", "ICMP_UNPRIV_CHILD",
	"STORE_HELPER_DB", "STORE_HELPER_START", "STORE_HELPER_VANTAGE"}

// envNames gives the DARKWATCH_ variable of every configuration key: the
// key path of Config's fields, upper case, joined by '_'.
func envNames() []string {
	var names []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			name := prefix + strings.ToUpper(tag)
			names = append(names, envPrefix+name)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, name+"_")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	for _, n := range otherEnv {
		names = append(names, envPrefix+n)
	}
	return names
}

// unknownEnv returns a warning for every DARKWATCH_ variable of environ that
// darkwatch does not read, naming the closest one it does: a misspelt
// variable would otherwise be ignored without a word.
func unknownEnv(environ []string) []string {
	known := envNames()
	var warns []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || slices.Contains(known, name) {
			continue
		}
		best, dist := "", -1
		for _, k := range known {
			if d := editDistance(name, k); dist < 0 || d < dist {
				best, dist = k, d
			}
		}
		w := fmt.Sprintf("environment variable %s is not a darkwatch setting and is ignored", name)
		if dist <= max(3, len(name)/4) {
			w += fmt.Sprintf("; did you mean %s?", best)
		}
		warns = append(warns, w)
	}
	return warns
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// localSource refuses a source address that is not one of this host's
// interfaces: raw sockets would send it, spoofed, at full rate, and the
// replies would go to whoever holds it.
func localSource(ad netip.Addr) error {
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

// v4 and v6 are the set's prefixes of each family, masked.
func (ts TargetSet) v4() []netip.Prefix { return ts.family(true) }
func (ts TargetSet) v6() []netip.Prefix { return ts.family(false) }

func (ts TargetSet) family(v4 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ts.Prefixes {
		if p := netip.MustParsePrefix(s).Masked(); p.Addr().Is4() == v4 {
			out = append(out, p)
		}
	}
	return out
}
