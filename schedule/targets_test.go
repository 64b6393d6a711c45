package schedule

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		p, err := ParsePrefix(s)
		if err != nil {
			panic(err)
		}
		out[i] = p
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestParseTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hit := write("hit.txt", "# hitlist\n175.45.176.15\n\n  2001:db8:1::53  # ns\n175.45.178.0/23\n")
	bad := write("bad.txt", "175.45.176.15\n175.45.176.0/33\n")
	big := write("big.txt", "175.45.176.15\n# v6\n2001:db8::/48\n")

	tests := []struct {
		name    string
		specs   []string
		want    []string
		wantErr []string // substrings of the error
	}{
		{"one cidr", []string{"198.18.0.0/16"}, []string{"198.18.0.0/16"}, nil},
		{"comma list", []string{"198.18.0.0/16,198.19.0.1, 2001:db8::1"}, []string{"198.18.0.0/16", "198.19.0.1/32", "2001:db8::1/128"}, nil},
		{"several specs", []string{"198.18.0.0/16", "198.19.0.1"}, []string{"198.18.0.0/16", "198.19.0.1/32"}, nil},
		{"host bits masked", []string{"198.18.3.4/16"}, []string{"198.18.0.0/16"}, nil},
		{"mapped taken as ipv4", []string{"::ffff:198.18.0.0/112"}, []string{"198.18.0.0/16"}, nil},
		{"empty items", []string{"", " , ,198.18.0.1"}, []string{"198.18.0.1/32"}, nil},
		{"file", []string{"198.18.0.0/30,@" + hit}, []string{"198.18.0.0/30", "175.45.176.15/32", "2001:db8:1::53/128", "175.45.178.0/23"}, nil},
		{"ipv6 /96 is the limit", []string{"2001:db8::/96"}, []string{"2001:db8::/96"}, nil},
		{"ipv4 /0 is allowed", []string{"0.0.0.0/0"}, []string{"0.0.0.0/0"}, nil},
		{"not an address", []string{"198.18.0.0/16,kp"}, nil, []string{`"kp"`, "not an IP address"}},
		{"bad file line", []string{"@" + bad}, nil, []string{"bad.txt:2", "175.45.176.0/33"}},
		{"missing file", []string{"@" + filepath.Join(dir, "nope.txt")}, nil, []string{"nope.txt"}},
		{"bare @", []string{"@"}, nil, []string{"file name"}},
		{"ipv6 /48 too large", []string{"2001:db8::/48"}, nil, []string{"2001:db8::/48", "2^80", "/96 or longer", "hitlist"}},
		{"ipv6 /95 too large", []string{"2001:db8::/95"}, nil, []string{"2^33"}},
		{"too large in file names the line", []string{"@" + big}, nil, []string{"big.txt:3", "2001:db8::/48", "hitlist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTargets(tt.specs)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseTargets(%q) = %v, want an error", tt.specs, got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := prefixStrings(got); !slices.Equal(s, tt.want) {
				t.Fatalf("ParseTargets(%q) = %v, want %v", tt.specs, s, tt.want)
			}
		})
	}
}

func TestTooLargeIsErrPrefixTooLarge(t *testing.T) {
	if _, err := ParseTargets([]string{"2001:db8::/64"}); !errors.Is(err, ErrPrefixTooLarge) {
		t.Errorf("ParseTargets: want ErrPrefixTooLarge, got %v", err)
	}
	if _, err := NewSpace(prefixes("::/0"), nil); !errors.Is(err, ErrPrefixTooLarge) {
		t.Errorf("NewSpace: want ErrPrefixTooLarge, got %v", err)
	}
	if _, err := NewSpace([]netip.Prefix{{}}, nil); err == nil {
		t.Error("NewSpace accepted an invalid prefix")
	}
}

func TestNewSpace(t *testing.T) {
	// The public IPv4 space: 2^32 less every IPv4 range of DefaultBlocked.
	const publicV4 = 1<<32 - (3<<24 + 1<<22 + 1<<16 + 1<<20 + 5<<8 + 1<<16 + 1<<17 + 2<<28)
	tests := []struct {
		name    string
		targets []string
		bl      *Blocklist
		size    uint64
		blocked uint64
		want    []string // Prefixes(); nil: not checked
	}{
		{"empty", nil, nil, 0, 0, []string{}},
		{"duplicates and overlaps", []string{"175.45.176.0/24", "175.45.176.0/25", "175.45.176.5", "175.45.176.0/24"}, nil, 256, 0, []string{"175.45.176.0/24"}},
		{"adjacent merged", []string{"175.45.176.128/25", "175.45.176.0/25", "175.45.177.0/24"}, nil, 512, 0, []string{"175.45.176.0/23"}},
		{"adjacent hosts", []string{"175.45.176.3", "175.45.176.1", "175.45.176.2", "175.45.176.0"}, nil, 4, 0, []string{"175.45.176.0/30"}},
		{"not adjacent", []string{"175.45.176.0/24", "175.45.178.0/24"}, nil, 512, 0, []string{"175.45.176.0/24", "175.45.178.0/24"}},
		{"default blocklist removes its ranges", []string{"198.16.0.0/14"}, NewBlocklist(nil, nil), 1 << 17, 1 << 17, []string{"198.16.0.0/15"}},
		{"allowed part kept", []string{"198.18.0.0/15"}, NewBlocklist(nil, prefixes("198.18.0.0/16")), 1 << 16, 1 << 16, []string{"198.18.0.0/16"}},
		{"allowed host in blocked range", []string{"198.18.0.0/24"}, NewBlocklist(nil, prefixes("198.18.0.7")), 1, 255, []string{"198.18.0.7/32"}},
		{"extra block in the middle", []string{"175.45.176.0/22"}, NewBlocklist(prefixes("175.45.177.0/24"), nil), 768, 256, []string{"175.45.176.0/24", "175.45.178.0/23"}},
		{"one host blocked", []string{"175.45.176.0/24"}, NewBlocklist(prefixes("175.45.176.15"), nil), 255, 1,
			[]string{"175.45.176.0/29", "175.45.176.8/30", "175.45.176.12/31", "175.45.176.14/32", "175.45.176.16/28", "175.45.176.32/27", "175.45.176.64/26", "175.45.176.128/25"}},
		{"block covers the start", []string{"175.45.176.0/24"}, NewBlocklist(prefixes("175.45.175.0/24", "175.45.176.0/25"), nil), 128, 128, []string{"175.45.176.128/25"}},
		{"block covers all", []string{"175.45.176.0/24", "198.18.2.3"}, NewBlocklist(prefixes("175.45.0.0/16"), nil), 0, 257, []string{}},
		{"zero blocklist blocks nothing", []string{"198.18.0.0/15"}, &Blocklist{}, 1 << 17, 0, []string{"198.18.0.0/15"}},
		{"ipv4 before ipv6", []string{"2a00:1::/126", "175.45.176.0/30"}, nil, 8, 0, []string{"175.45.176.0/30", "2a00:1::/126"}},
		{"mapped is ipv4", []string{"::ffff:175.45.176.0/120", "175.45.177.0/24"}, nil, 512, 0, []string{"175.45.176.0/23"}},
		{"ipv6 across a 64-bit boundary", []string{"2a00:0:0:1:ffff:ffff:ffff:fff0/124", "2a00:0:0:2::/124"}, nil, 32, 0,
			[]string{"2a00::1:ffff:ffff:ffff:fff0/124", "2a00:0:0:2::/124"}},
		{"ipv6 default blocklist", []string{"2001:db8::/96", "2a00:1::1", "fe80::/96"}, NewBlocklist(nil, nil), 1, 2 << 32, []string{"2a00:1::1/128"}},
		{"ipv6 /96", []string{"2a00:1::/96"}, nil, 1 << 32, 0, []string{"2a00:1::/96"}},
		{"last addresses", []string{"255.255.255.255", "255.255.255.254/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, nil, 4, 0,
			[]string{"255.255.255.254/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"}},
		{"whole ipv4", []string{"0.0.0.0/0"}, nil, 1 << 32, 0, []string{"0.0.0.0/0"}},
		{"public ipv4", []string{"0.0.0.0/0"}, NewBlocklist(nil, nil), publicV4, 1<<32 - publicV4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSpace(prefixes(tt.targets...), tt.bl)
			if err != nil {
				t.Fatal(err)
			}
			if s.Size() != tt.size || s.Blocked() != tt.blocked {
				t.Errorf("Size, Blocked = %d, %d, want %d, %d", s.Size(), s.Blocked(), tt.size, tt.blocked)
			}
			if tt.want != nil {
				if got := prefixStrings(s.Prefixes()); !slices.Equal(got, tt.want) {
					t.Errorf("Prefixes = %v, want %v", got, tt.want)
				}
			}
			// Index is monotonic, starts at the first prefix and ends at the last.
			if s.Size() > 0 {
				ps := s.Prefixes()
				if got, want := s.Index(0), ps[0].Addr(); got != want {
					t.Errorf("Index(0) = %v, want %v", got, want)
				}
				last := s.Index(s.Size() - 1)
				if !ps[len(ps)-1].Contains(last) || !s.Contains(last) {
					t.Errorf("Index(Size-1) = %v, not in the last prefix %v", last, ps[len(ps)-1])
				}
			}
		})
	}
}

// TestSpaceMatchesBlocklist checks NewSpace against brute force: every address of
// the targets, in order, that Blocklist.Check lets through.
func TestSpaceMatchesBlocklist(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Random prefixes in a /20 (IPv4) or the last 12 bits of an IPv6 /116.
	randPrefix := func(v6 bool) netip.Prefix {
		x := rng.IntN(1 << 12)
		bits := 20 + rng.IntN(13)
		if v6 {
			a := netip.AddrFrom16([16]byte{0x2a, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, byte(x >> 8), byte(x)})
			return netip.PrefixFrom(a, bits+96).Masked()
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{175, 45, 0xf0 | byte(x>>8), byte(x)}), bits).Masked()
	}
	for trial := 0; trial < 300; trial++ {
		var targets, extra, allow []netip.Prefix
		for i := rng.IntN(6); i >= 0; i-- {
			targets = append(targets, randPrefix(rng.IntN(3) == 0))
		}
		for i := rng.IntN(5); i > 0; i-- {
			extra = append(extra, randPrefix(rng.IntN(3) == 0))
		}
		for i := rng.IntN(3); i > 0; i-- {
			allow = append(allow, randPrefix(rng.IntN(3) == 0))
		}
		bl := NewBlocklist(extra, allow)
		s, err := NewSpace(targets, bl)
		if err != nil {
			t.Fatal(err)
		}
		// Brute force: the sorted union of the targets, then Check.
		seen := map[netip.Addr]bool{}
		var want []netip.Addr
		var union uint64
		for _, p := range targets {
			for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
				if !seen[a] {
					seen[a] = true
					union++
					if bl.Check(a) == nil {
						want = append(want, a)
					}
				}
			}
		}
		slices.SortFunc(want, netip.Addr.Compare)
		if s.Size() != uint64(len(want)) || s.Blocked() != union-uint64(len(want)) {
			t.Fatalf("trial %d: targets %v extra %v allow %v: Size, Blocked = %d, %d, want %d, %d",
				trial, targets, extra, allow, s.Size(), s.Blocked(), len(want), union-uint64(len(want)))
		}
		for i, a := range want {
			if got := s.Index(uint64(i)); got != a {
				t.Fatalf("trial %d: targets %v extra %v allow %v: Index(%d) = %v, want %v", trial, targets, extra, allow, i, got, a)
			}
			if !s.Contains(a) {
				t.Fatalf("trial %d: Contains(%v) = false", trial, a)
			}
		}
		// Addresses outside the space, blocked ones included.
		for _, p := range append(extra, randPrefix(false), randPrefix(true)) {
			a := p.Addr()
			if got, want := s.Contains(a), seen[a] && bl.Check(a) == nil; got != want {
				t.Fatalf("trial %d: Contains(%v) = %v, want %v", trial, a, got, want)
			}
		}
		// Prefixes cover exactly the same addresses.
		var n uint64
		for _, p := range s.Prefixes() {
			n += 1 << (p.Addr().BitLen() - p.Bits())
			if !s.Contains(p.Addr()) {
				t.Fatalf("trial %d: prefix %v not in the space", trial, p)
			}
		}
		if n != s.Size() {
			t.Fatalf("trial %d: Prefixes hold %d addresses, Size is %d", trial, n, s.Size())
		}
	}
}

func TestSpaceContainsEdges(t *testing.T) {
	s, err := NewSpace(prefixes("175.45.176.0/24", "2a00:1::/120"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"175.45.176.0":         true,
		"175.45.176.255":       true,
		"175.45.175.255":       false,
		"175.45.177.0":         false,
		"::ffff:175.45.176.9":  true,
		"::af2d:b009":          false, // IPv6, not mapped
		"2a00:1::":             true,
		"2a00:1::ff":           true,
		"2a00:1::100":          false,
		"1.2.3.4":              false,
		"ffff::1":              false,
		"2a00:0:ffff:ffff::ff": false,
	} {
		if got := s.Contains(netip.MustParseAddr(a)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", a, got, want)
		}
	}
	if s.Contains(netip.Addr{}) {
		t.Error("Contains(invalid) = true")
	}
}

func TestSpaceIndexPanicsOutOfRange(t *testing.T) {
	s, _ := NewSpace(prefixes("175.45.176.0/30"), nil)
	defer func() {
		if recover() == nil {
			t.Fatal("Index(Size) did not panic")
		}
	}()
	s.Index(4)
}

func TestSpaceIndexDoesNotAllocate(t *testing.T) {
	s, _ := NewSpace(prefixes("175.45.176.0/22", "2a00:1::/100", "2a00:2::1"), nil)
	n := testing.AllocsPerRun(100, func() {
		_ = s.Index(5)
		_ = s.Index(s.Size() - 1)
	})
	if n != 0 {
		t.Errorf("Index allocates %v times", n)
	}
}

func FuzzReadTargets(f *testing.F) {
	f.Add("# hitlist\n175.45.176.15\n175.45.178.0/23 # x\n2001:db8::/96\n")
	f.Add("::ffff:1.2.3.0/120\n")
	f.Add("2001:db8::/48\n")
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ReadTargets(strings.NewReader(in), "fuzz.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.txt") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		s, err := NewSpace(ps, nil)
		if err != nil {
			t.Fatalf("NewSpace refused what ReadTargets accepted: %v", err)
		}
		for _, p := range ps {
			if !s.Contains(p.Addr()) {
				t.Fatalf("space lost %v", p)
			}
		}
		if s.Size() > 0 && !s.Contains(s.Index(s.Size()-1)) {
			t.Fatal("last address not contained")
		}
	})
}

func BenchmarkSpaceIndex(b *testing.B) {
	// 4096 scattered /24s and hosts: many spans to search.
	rng := rand.New(rand.NewPCG(3, 4))
	var ps []netip.Prefix
	for range 4096 {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		ps = append(ps, netip.PrefixFrom(a, 24+rng.IntN(2)*8))
	}
	s, err := NewSpace(ps, NewBlocklist(nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]uint64, 1024)
	for i := range idx {
		idx[i] = rng.Uint64N(s.Size())
	}
	b.ReportAllocs()
	var sink netip.Addr
	for i := 0; b.Loop(); i++ {
		sink = s.Index(idx[i&1023])
	}
	_ = sink
}
