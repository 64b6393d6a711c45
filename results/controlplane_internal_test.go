package results

import (
	"net/netip"
	"testing"
)

func TestNextPrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"198.18.0.0/24", "198.18.1.0/24"},
		{"198.18.255.0/24", "198.19.0.0/24"},
		{"198.18.0.128/25", "198.18.1.0/25"},
		{"2001:db8:1::/48", "2001:db8:2::/48"},
		{"2001:db8:ffff::/48", "2001:db9::/48"},
		{"255.255.255.0/24", "0.0.0.0/24"},
	} {
		if got := nextPrefix(netip.MustParsePrefix(c.in)); got.String() != c.want {
			t.Errorf("nextPrefix(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
