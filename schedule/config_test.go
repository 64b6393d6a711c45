package schedule

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// validConfig is a configuration that Validate accepts.
func validConfig() *Config {
	return &Config{Vantage: "vp1", Round: time.Minute, Quorum: 1, Allow: []string{"198.18.0.0/15"},
		Probe:   ProbeConfig{Timeout: time.Second, Count: 1, Parallel: 4},
		Targets: []TargetSet{{Name: "lab", Prefixes: []string{"198.18.0.0/22", "2001:db8:1::/120"}, Methods: []string{"icmp"}}}}
}

// TestValidateChangesNothing: Validate checks and leaves the configuration
// as it was; the blocklist is built by BlocklistSet.
func TestValidateChangesNothing(t *testing.T) {
	c := validConfig()
	c.Blocklist = []string{"198.18.2.0/24"}
	before := *c
	before.Blocklist = slices.Clone(c.Blocklist)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, before) {
		t.Errorf("Validate changed the configuration:\n%+v\nwas\n%+v", *c, before)
	}
	bl, err := c.BlocklistSet()
	if err != nil {
		t.Fatal(err)
	}
	if bl.Check(netip.MustParseAddr("198.18.3.4")) != nil || bl.Check(netip.MustParseAddr("198.18.2.9")) == nil {
		t.Error("the blocklist does not allow 198.18.3.4 (allow: 198.18.0.0/15) or does not block 198.18.2.9 (blocklist: 198.18.2.0/24)")
	}
}

// TestValidateRefuses: every refusal names its key in one line.
func TestValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		key  string
		want string
	}{
		{"ipv6 prefix too large", func(c *Config) { c.Targets[0].Prefixes[1] = "2001:db8:1::/48" }, "targets[0].prefixes[1]", "too large an IPv6 prefix"},
		{"ipv6 prefix just too large", func(c *Config) { c.Targets[0].Prefixes[1] = "2001:db8:1::/111" }, "targets[0].prefixes[1]", "/112 or longer"},
		{"ipv6 prefix too large names hitlist", func(c *Config) { c.Targets[0].Prefixes[1] = "2001:db8:1::/48" }, "targets[0].prefixes[1]", "hitlist: FILE"},
		{"missing hitlist", func(c *Config) { c.Targets[0].Hitlist = "/nonexistent/hitlist.txt" }, "targets[0].hitlist", "no such file"},
		{"ipv6 blocks too long", func(c *Config) { c.IPv6BlockBits = 65 }, "ipv6_block_bits", "/16 to a /64"},
		{"ipv6 blocks too short", func(c *Config) { c.IPv6BlockBits = 8 }, "ipv6_block_bits", "/16 to a /64"},
		{"bad prefix", func(c *Config) { c.Targets[0].Prefixes[0] = "198.18.0.0/33" }, "targets[0].prefixes[0]", "not a CIDR prefix"},
		{"bad allow", func(c *Config) { c.Allow = []string{"nope"} }, "allow[0]", "nope"},
		{"missing blocklist file", func(c *Config) { c.BlocklistFile = "/nonexistent/blocklist" }, "blocklist_file", "no such file"},
		{"bad method", func(c *Config) { c.Targets[0].Methods = []string{"tcp:http"} }, "targets[0].methods[0]", "tcp:http"},
		{"short round", func(c *Config) { c.Round = time.Millisecond }, "round", "at least 1s"},
		{"vantage with a dot", func(c *Config) { c.Vantage = "vp.1" }, "vantage", "'.'"},
		{"twice the same set", func(c *Config) { c.Targets = append(c.Targets, c.Targets[0]) }, "targets[1].name", "used twice"},
		{"parallel 0", func(c *Config) { c.Probe.Parallel = 0 }, "probe.parallel", "at least 1"},
		{"from what", func(c *Config) { c.Targets[0] = TargetSet{Name: "as", ASN: 64511, From: "rir"} }, "targets[0].from", `"rir" is not one of bgp`},
		{"from with prefixes", func(c *Config) { c.Targets[0].From, c.Targets[0].ASN = "bgp", 64511 }, "targets[0].from", "a set with prefixes or a hitlist probes those"},
		{"from bgp without asn", func(c *Config) { c.Targets[0] = TargetSet{Name: "cc", Country: "ZZ", From: "bgp"} }, "targets[0].from", "bgp needs the asn"},
		{"from geo without country", func(c *Config) { c.Targets[0] = TargetSet{Name: "as", ASN: 64511, From: "geo"} }, "targets[0].from", "geo needs the country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConfigError", err)
			}
			if ce.Key != tt.key || !strings.Contains(ce.Msg, tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q (key %q), want one line for %s mentioning %q", err, ce.Key, tt.key, tt.want)
			}
		})
	}
	c := validConfig()
	c.Targets[0].Prefixes[1] = "2001:db8:1::/112"
	if err := c.Validate(); err != nil {
		t.Errorf("a /112 is refused: %v", err)
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in   string
		want Method
		err  bool
	}{
		{"icmp", Method{Name: "icmp"}, false},
		{"tcp:80", Method{Name: "tcp", Port: 80}, false},
		{"dns:kp./SOA", Method{Name: "dns", Qname: "kp.", Qtype: "SOA"}, false},
		{"dns:example.org", Method{Name: "dns", Qname: "example.org.", Qtype: "A"}, false},
		{"trace", Method{Name: "trace", Proto: "icmp"}, false},
		{"trace:udp", Method{Name: "trace", Proto: "udp"}, false},
		{"tcp", Method{}, true},
		{"tcp:0", Method{}, true},
		{"tcp:65536", Method{}, true},
		{"dns:", Method{}, true},
		{"dns:kp./BOGUS", Method{}, true},
		{"trace:sctp", Method{}, true},
		{"icmp:1", Method{}, true},
		{"http", Method{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMethod(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseMethod(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("ParseMethod(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAssignedBlocks(t *testing.T) {
	vantages := []string{"vp1", "vp2", "vp3"}
	prefixes := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/20"), netip.MustParsePrefix("198.18.99.7/32")}
	count := map[netip.Prefix]int{}
	for _, v := range vantages {
		c := &Config{Vantage: v, Vantages: vantages, Redundancy: 2}
		for _, p := range c.Assigned(prefixes) {
			count[p]++
		}
	}
	// 16 blocks of the /20 and the single host: each probed by exactly 2 vantages.
	if len(count) != 17 {
		t.Fatalf("%d entities assigned, want 17: %v", len(count), count)
	}
	for p, n := range count {
		if n != 2 {
			t.Errorf("%s probed by %d vantages, want 2", p, n)
		}
	}
	all := (&Config{Vantage: "vp1"}).Assigned(prefixes)
	if len(all) != 2 {
		t.Errorf("without redundancy every prefix stays: %v", all)
	}
}
