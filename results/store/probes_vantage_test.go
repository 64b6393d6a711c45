package store

import (
	"strings"
	"testing"
)

// TestCompareVantages: when compareVantages decides, it decides as the
// records' IDs, which begin with the vantage point and a slash, compare.
func TestCompareVantages(t *testing.T) {
	names := []string{"", "a", "b", "vp1", "vp2", "vp1/x", "vp10", "vp1.", "vp1\x00", "vp"}
	for _, a := range names {
		for _, b := range names {
			for _, rest := range [][2]string{{"1/icmp", "1/icmp"}, {"1/icmp", "2/icmp"}, {"x", ""}} {
				want := strings.Compare(a+"/"+rest[0], b+"/"+rest[1])
				if c, ok := compareVantages(a, b); ok && c != want {
					t.Errorf("compareVantages(%q, %q) = %d, want %d", a, b, c, want)
				}
			}
		}
	}
	if _, ok := compareVantages("vp1", "vp2"); !ok {
		t.Error("vp1 and vp2 left undecided")
	}
}
