package schedule

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func vantageNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("vp-%02d", i+1)
	}
	return out
}

// testBlocks are n /24s spread over the IPv4 space.
func testBlocks(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		x := uint32(i) * 2654435761
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), 0}), 24)
	}
	return out
}

// TestWeightIsStable pins the hash: vantages running different versions must
// agree on who probes what. The values were checked against an independent
// implementation of FNV-1a 64 and splitmix64's mixer.
func TestWeightIsStable(t *testing.T) {
	tests := []struct {
		block, vantage string
		want           uint64
	}{
		{"175.45.176.0/24", "vp-fra1", 0x3c52a0d733666d7e},
		{"175.45.176.0/24", "vp-sin1", 0x9a5195d206beaba9},
		{"175.45.177.0/24", "vp-fra1", 0x7726ba50e68d9225},
		{"2001:db8:1::/56", "vp-fra1", 0xd68f69afa366c38c},
		{"0.0.0.0/24", "", 0x352e1a71a5101a68},
	}
	for _, tt := range tests {
		if got := weight(netip.MustParsePrefix(tt.block), tt.vantage); got != tt.want {
			t.Errorf("weight(%s, %q) = %#x, want %#x", tt.block, tt.vantage, got, tt.want)
		}
	}
}

func TestAssign(t *testing.T) {
	vps := []string{"vp-fra1", "vp-sin1", "vp-iad1", "vp-syd1"}
	block := netip.MustParsePrefix("175.45.176.0/24")
	tests := []struct {
		name     string
		block    string
		vantages []string
		k        int
		want     int // how many
	}{
		{"k=1", "175.45.176.0/24", vps, 1, 1},
		{"k=2", "175.45.176.0/24", vps, 2, 2},
		{"k=all", "175.45.176.0/24", vps, 4, 4},
		{"k>len", "175.45.176.0/24", vps, 9, 4},
		{"k=0", "175.45.176.0/24", vps, 0, 0},
		{"k<0", "175.45.176.0/24", vps, -1, 0},
		{"no vantages", "175.45.176.0/24", nil, 2, 0},
		{"duplicates count once", "175.45.176.0/24", []string{"a", "b", "a", "a", "b"}, 3, 2},
		{"duplicates k=2", "175.45.176.0/24", []string{"a", "a", "a", "b", "c"}, 2, 2},
		{"ipv6", "2001:db8:1::/56", vps, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := netip.MustParsePrefix(tt.block)
			got := Assign(b, tt.vantages, tt.k)
			if len(got) != tt.want {
				t.Fatalf("Assign(k=%d) = %v, want %d vantages", tt.k, got, tt.want)
			}
			seen := map[string]bool{}
			for i, v := range got {
				if seen[v] || !slices.Contains(tt.vantages, v) {
					t.Fatalf("Assign = %v: %q repeated or unknown", got, v)
				}
				seen[v] = true
				if i > 0 && weight(b, got[i-1]) < weight(b, v) {
					t.Fatalf("Assign = %v: not heaviest first", got)
				}
			}
			// Deterministic, and independent of the order of the list.
			shuffled := slices.Clone(tt.vantages)
			rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if again := Assign(b, shuffled, tt.k); !slices.Equal(again, got) {
				t.Fatalf("Assign gave %v, then %v for the list reordered", got, again)
			}
			// The top k are a prefix of the top k+1.
			if more := Assign(b, tt.vantages, tt.k+1); len(got) > 0 && !slices.Equal(more[:len(got)], got) {
				t.Fatalf("Assign(k=%d) = %v is not a prefix of Assign(k=%d) = %v", tt.k, got, tt.k+1, more)
			}
		})
	}
	// Any address of the block names the block.
	if a, b := Assign(block, vps, 2), Assign(netip.MustParsePrefix("175.45.176.99/24"), vps, 2); !slices.Equal(a, b) {
		t.Errorf("unmasked block: %v, masked: %v", b, a)
	}
}

func TestAssignAddVantage(t *testing.T) {
	blocks := testBlocks(10000)
	for n := 1; n <= 9; n++ {
		before, after := vantageNames(n), vantageNames(n+1)
		added := after[n]
		moved := 0
		for _, b := range blocks {
			was, is := Assign(b, before, 1)[0], Assign(b, after, 1)[0]
			if was != is {
				moved++
				if is != added {
					t.Fatalf("n=%d: block %v moved from %s to %s, not to the new %s", n, b, was, is, added)
				}
			}
		}
		frac, want := float64(moved)/float64(len(blocks)), 1/float64(n+1)
		if frac < 0.6*want || frac > 1.5*want {
			t.Errorf("n=%d: adding a vantage moved %.3f of the blocks, want about %.3f", n, frac, want)
		}
	}
}

func TestAssignAddVantageK3(t *testing.T) {
	before, after := vantageNames(6), vantageNames(7)
	for _, b := range testBlocks(2000) {
		was, is := Assign(b, before, 3), Assign(b, after, 3)
		// At most one vantage is replaced, and only by the new one.
		lost := 0
		for _, v := range was {
			if !slices.Contains(is, v) {
				lost++
			}
		}
		for _, v := range is {
			if !slices.Contains(was, v) && v != after[6] {
				t.Fatalf("block %v: %v became %v", b, was, is)
			}
		}
		if lost > 1 {
			t.Fatalf("block %v: %v became %v", b, was, is)
		}
	}
}

func TestAssignRemoveVantage(t *testing.T) {
	all := vantageNames(6)
	for gone := range all {
		rest := slices.Delete(slices.Clone(all), gone, gone+1)
		for _, b := range testBlocks(3000) {
			for _, k := range []int{1, 2} {
				was, is := Assign(b, all, k), Assign(b, rest, k)
				if !slices.Contains(was, all[gone]) && !slices.Equal(was, is) {
					t.Fatalf("removing %s moved block %v (k=%d) from %v to %v", all[gone], b, k, was, is)
				}
			}
		}
	}
}

func TestAssignBalanced(t *testing.T) {
	vps := vantageNames(8)
	blocks := testBlocks(16000)
	for _, k := range []int{1, 2} {
		load := map[string]int{}
		for _, b := range blocks {
			for _, v := range Assign(b, vps, k) {
				load[v]++
			}
		}
		mean := float64(len(blocks)*k) / float64(len(vps))
		for _, v := range vps {
			if d := float64(load[v])/mean - 1; d < -0.1 || d > 0.1 {
				t.Errorf("k=%d: %s has %d blocks, mean %.0f", k, v, load[v], mean)
			}
		}
	}
}

func BenchmarkAssign(b *testing.B) {
	vps := vantageNames(8)
	blocks := testBlocks(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Assign(blocks[i&1023], vps, 2)
	}
}
