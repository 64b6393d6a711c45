package schedule

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"darkwatch/results"
)

// entitiesConfig has two target sets, one with a known host, and a canary.
func entitiesConfig() *Config {
	return &Config{Quorum: 2, Round: 11 * time.Minute,
		Targets: []TargetSet{
			{Name: "kp", ASN: 131279, Country: "KP", Prefixes: []string{"175.45.176.7/22"},
				Hosts: []HostConfig{{Addr: "175.45.176.15"}, {Addr: "2001:db8::53"}}},
			{Name: "lab", Prefixes: []string{"198.18.0.0/24", "2001:db8:1::/120"}},
		},
		Canaries: []HostConfig{{Addr: "198.51.100.1"}},
	}
}

func TestTargetPrefixes(t *testing.T) {
	want := []netip.Prefix{
		netip.MustParsePrefix("175.45.176.0/22"),
		netip.MustParsePrefix("175.45.176.15/32"),
		netip.MustParsePrefix("2001:db8::53/128"),
		netip.MustParsePrefix("198.18.0.0/24"),
		netip.MustParsePrefix("2001:db8:1::/120"),
	}
	if got, err := entitiesConfig().TargetPrefixes(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("TargetPrefixes = %v, %v; want %v", got, err, want)
	}
	if got, err := (&Config{}).TargetPrefixes(); got != nil || err != nil {
		t.Errorf("no targets: %v, %v", got, err)
	}
}

func TestAnalysis(t *testing.T) {
	want := results.Analysis{Quorum: 2, Round: 11 * time.Minute, BlockBits6: DefaultIPv6BlockBits,
		Sets: []results.TargetSet{
			{Name: "kp", ASN: 131279, Country: "KP", Prefixes: []netip.Prefix{netip.MustParsePrefix("175.45.176.0/22")}},
			{Name: "lab", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:db8:1::/120")}},
		},
		Hosts:    []netip.Addr{netip.MustParseAddr("175.45.176.15"), netip.MustParseAddr("2001:db8::53")},
		Canaries: []netip.Addr{netip.MustParseAddr("198.51.100.1")},
	}
	if got := entitiesConfig().Analysis(); !reflect.DeepEqual(got, want) {
		t.Errorf("Analysis = %+v\nwant %+v", got, want)
	}
}
