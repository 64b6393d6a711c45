package schedule

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"darkwatch/results"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestReadHitlist(t *testing.T) {
	tests := []struct {
		name, in string
		want     []netip.Addr
		err      string // "" = no error; else in the message
	}{
		{"addresses", "2001:db8:1::1\n2001:db8:1:0:0:0:0:2\n", addrs("2001:db8:1::1", "2001:db8:1::2"), ""},
		{"as /128", "2001:db8:1::1/128\n", addrs("2001:db8:1::1"), ""},
		{"comments and blanks", "# TUM hitlist\n\n  2001:db8:1::1  # a router\n", addrs("2001:db8:1::1"), ""},
		{"IPv4 too", "198.18.0.1\n198.18.0.2/32\n", addrs("198.18.0.1", "198.18.0.2"), ""},
		{"IPv4-mapped as IPv4", "::ffff:198.18.0.1\n", addrs("198.18.0.1"), ""},
		{"each once, file order", "2001:db8:1::2\n2001:db8:1::1\n2001:db8:1::2\n", addrs("2001:db8:1::2", "2001:db8:1::1"), ""},
		{"zone dropped", "fe80::1%eth0\n", addrs("fe80::1"), ""},
		{"empty", "# nothing\n", []netip.Addr{}, ""},
		{"a range", "2001:db8:1::/48\n", nil, "hitlist.txt:1: \"2001:db8:1::/48\" is a range, not an address"},
		{"not an address", "2001:db8:1::1\nrouter.example\n", nil, "hitlist.txt:2: \"router.example\" is not an address"},
		{"bad prefix length", "2001:db8:1::1/129\n", nil, "is not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadHitlist(strings.NewReader(tt.in), "hitlist.txt")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ReadHitlist = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// FuzzReadHitlist: whatever the file holds, the reader does not panic, and
// what it returns are valid, zoneless, unmapped addresses, each once.
func FuzzReadHitlist(f *testing.F) {
	for _, s := range []string{"2001:db8:1::1\n", "2001:db8::/128 # x\n", "::ffff:1.2.3.4/128", "1.2.3.4/24", "fe80::1%lo", "\x00/\n#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadHitlist(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		seen := map[netip.Addr]bool{}
		for _, a := range got {
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() || seen[a] {
				t.Fatalf("ReadHitlist(%q) gave %v", in, got)
			}
			seen[a] = true
		}
	})
}

// writeHitlist writes lines into a hitlist file in the test's directory.
func writeHitlist(t *testing.T, lines ...string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "hitlist.txt")
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestHitlistSet: a set with a hitlist probes its addresses, may name an
// IPv6 prefix of any length for the roll-up (which is not swept), and rolls
// its addresses up through their blocks.
func TestHitlistSet(t *testing.T) {
	hl := writeHitlist(t, "2001:db8:1::1", "2001:db8:1:ff00::2", "2001:db8:2::3/128", "198.18.5.5")
	c := validConfig()
	c.Targets[0].Prefixes = []string{"198.18.0.0/22", "2001:db8:1::/48", "2001:db8:9::/120"}
	c.Targets[0].Hitlist = hl
	c.Targets[0].ASN = 64511
	if err := c.Validate(); err != nil {
		t.Fatalf("a /48 beside a hitlist is refused: %v", err)
	}
	if c.Named() {
		t.Error("a hitlist set with an asn is taken as named")
	}
	p := netip.MustParsePrefix
	got, err := c.TargetPrefixes()
	want := []netip.Prefix{p("198.18.0.0/22"), p("198.18.5.5/32"), p("2001:db8:9::/120"),
		p("2001:db8:1::1/128"), p("2001:db8:1:ff00::2/128"), p("2001:db8:2::3/128")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("TargetPrefixes = %v, %v; want %v", got, err, want)
	}
	for _, tc := range []struct {
		bits int
		want []netip.Prefix
	}{
		{0, []netip.Prefix{p("198.18.5.0/24"), p("2001:db8:1::/48"), p("2001:db8:2::/48")}},
		{56, []netip.Prefix{p("198.18.5.0/24"), p("2001:db8:1::/56"), p("2001:db8:1:ff00::/56"), p("2001:db8:2::/56")}},
	} {
		c.IPv6BlockBits = tc.bits
		an := c.Analysis()
		if got := an.Sets[0].Blocks; !reflect.DeepEqual(got, tc.want) || an.BlockBits6 != cmpBits(tc.bits) {
			t.Errorf("ipv6_block_bits %d: blocks %v (bits %d), want %v", tc.bits, got, an.BlockBits6, tc.want)
		}
		h := results.NewHierarchy(an.Sets)
		parents := h.Parents(results.BlockOf(netip.MustParseAddr("2001:db8:2::3"), an.BlockBits6))
		if !slices.Contains(parents, results.EntityRef{Level: results.LevelASN, Entity: results.ASEntity(64511)}) {
			t.Errorf("ipv6_block_bits %d: the block of 2001:db8:2::3, in no prefix, does not roll up to the set's AS: %v", tc.bits, parents)
		}
	}
	c.Targets[0].Hitlist = filepath.Join(t.TempDir(), "gone.txt")
	if _, err := c.TargetPrefixes(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a hitlist gone: %v", err)
	}
}

func cmpBits(b int) int {
	if b == 0 {
		return DefaultIPv6BlockBits
	}
	return b
}

func TestHitlistEmptyRefused(t *testing.T) {
	c := validConfig()
	c.Targets[0].Hitlist = writeHitlist(t, "# nothing yet")
	var ce *ConfigError
	if err := c.Validate(); !errors.As(err, &ce) || ce.Key != "targets[0].hitlist" || !strings.Contains(ce.Msg, "lists no address") {
		t.Errorf("an empty hitlist: %v", err)
	}
}
