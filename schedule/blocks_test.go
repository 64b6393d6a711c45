package schedule

import (
	"net/netip"
	"slices"
	"testing"

	"darkwatch/results/store"
)

// TestOutsideBlocks: the ICMP sweep of a round leaves the census blocks to
// the adaptive rounds, whatever allow says.
func TestOutsideBlocks(t *testing.T) {
	pfx := netip.MustParsePrefix
	blocks := []store.Block{{Prefix: pfx("198.18.1.0/24")}, {Prefix: pfx("198.18.3.0/24")}, {Prefix: pfx("198.18.9.0/24")},
		{Prefix: pfx("2001:db8:5::/48")}, {Prefix: pfx("2001:db8:6:100::/56")}}
	for _, c := range []struct {
		in, want []netip.Prefix
	}{
		{[]netip.Prefix{pfx("198.18.0.0/22")}, []netip.Prefix{pfx("198.18.0.0/24"), pfx("198.18.2.0/24")}},
		{[]netip.Prefix{pfx("198.18.4.0/22")}, []netip.Prefix{pfx("198.18.4.0/22")}},
		{[]netip.Prefix{pfx("198.18.9.0/24"), pfx("198.18.10.0/24")}, []netip.Prefix{pfx("198.18.10.0/24")}},
		{[]netip.Prefix{pfx("198.18.9.128/25"), pfx("198.18.8.7/32")}, []netip.Prefix{pfx("198.18.8.7/32")}},
		{[]netip.Prefix{pfx("2001:db8:1::/48")}, []netip.Prefix{pfx("2001:db8:1::/48")}},
		// Hitlist addresses inside an IPv6 census block are the adaptive round's.
		{[]netip.Prefix{pfx("2001:db8:5::1/128"), pfx("2001:db8:5:ff::/120"), pfx("2001:db8:1::1/128"),
			pfx("2001:db8:6:100::9/128"), pfx("2001:db8:6:200::9/128")},
			[]netip.Prefix{pfx("2001:db8:1::1/128"), pfx("2001:db8:6:200::9/128")}},
	} {
		if got := OutsideBlocks(c.in, blocks); !slices.Equal(got, c.want) {
			t.Errorf("OutsideBlocks(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	// With the lab's allow, which exempts the whole target space from the
	// blocklist, the census blocks stay out of the sweep.
	bl := NewBlocklist(nil, []netip.Prefix{pfx("198.18.0.0/15")})
	s, err := NewSpace(OutsideBlocks([]netip.Prefix{pfx("198.18.0.0/22")}, blocks), bl)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != 512 {
		t.Errorf("the sweep of 198.18.0.0/22 less two census blocks has %d addresses, want 512", s.Size())
	}
}

// TestFirstOfBlocks: one trace a /24, to its first address that may be
// probed.
func TestFirstOfBlocks(t *testing.T) {
	pfx := netip.MustParsePrefix
	bl := NewBlocklist([]netip.Prefix{pfx("198.18.1.0/25")}, []netip.Prefix{pfx("198.18.0.0/15")})
	s, err := NewSpace([]netip.Prefix{pfx("198.18.0.0/22")}, bl)
	if err != nil {
		t.Fatal(err)
	}
	first, err := FirstOfBlocks(s, bl)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range first.Size() {
		got = append(got, first.Index(i).String())
	}
	want := []string{"198.18.0.0", "198.18.1.128", "198.18.2.0", "198.18.3.0"}
	if !slices.Equal(got, want) {
		t.Errorf("FirstOfBlocks = %v, want %v", got, want)
	}
}

// TestBlocksHolding: the census blocks of a hitlist are those holding one
// of its addresses, whatever their length, each once.
func TestBlocksHolding(t *testing.T) {
	pfx := netip.MustParsePrefix
	census := []store.Block{{Prefix: pfx("2001:db8:1::/48")}, {Prefix: pfx("2001:db8:2::/48")},
		{Prefix: pfx("2001:db8:3:100::/56")}, {Prefix: pfx("198.18.1.0/24")}}
	hit := []netip.Prefix{pfx("2001:db8:1::1/128"), pfx("2001:db8:1::2/128"), pfx("2001:db8:3:100::1/128"),
		pfx("2001:db8:3:200::1/128"), pfx("198.18.1.7/32"), pfx("2001:db8::/32")}
	got := BlocksHolding(census, hit)
	want := []store.Block{census[0], census[2], census[3]}
	if !slices.EqualFunc(got, want, func(a, b store.Block) bool { return a.Prefix == b.Prefix }) {
		t.Errorf("BlocksHolding = %v, want %v", got, want)
	}
}
