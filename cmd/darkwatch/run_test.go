package main

import (
	"net/netip"
	"slices"
	"testing"

	"darkwatch/results/store"
	"darkwatch/schedule"
)

// TestOutsideBlocks: the ICMP sweep of run leaves the census blocks to the
// adaptive rounds, whatever allow says.
func TestOutsideBlocks(t *testing.T) {
	pfx := netip.MustParsePrefix
	blocks := []store.Block{{Prefix: pfx("198.18.1.0/24")}, {Prefix: pfx("198.18.3.0/24")}, {Prefix: pfx("198.18.9.0/24")}}
	for _, c := range []struct {
		in, want []netip.Prefix
	}{
		{[]netip.Prefix{pfx("198.18.0.0/22")}, []netip.Prefix{pfx("198.18.0.0/24"), pfx("198.18.2.0/24")}},
		{[]netip.Prefix{pfx("198.18.4.0/22")}, []netip.Prefix{pfx("198.18.4.0/22")}},
		{[]netip.Prefix{pfx("198.18.9.0/24"), pfx("198.18.10.0/24")}, []netip.Prefix{pfx("198.18.10.0/24")}},
		{[]netip.Prefix{pfx("198.18.9.128/25"), pfx("198.18.8.7/32")}, []netip.Prefix{pfx("198.18.8.7/32")}},
		{[]netip.Prefix{pfx("2001:db8:1::/48")}, []netip.Prefix{pfx("2001:db8:1::/48")}},
	} {
		if got := outsideBlocks(c.in, blocks); !slices.Equal(got, c.want) {
			t.Errorf("outsideBlocks(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	// With the lab's allow, which exempts the whole target space from the
	// blocklist, the census blocks stay out of the sweep.
	c := &Config{}
	c.allow = []netip.Prefix{pfx("198.18.0.0/15")}
	s, err := schedule.NewSpace(outsideBlocks([]netip.Prefix{pfx("198.18.0.0/22")}, blocks), c.BlocklistSet())
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != 512 {
		t.Errorf("the sweep of 198.18.0.0/22 less two census blocks has %d addresses, want 512", s.Size())
	}
}
