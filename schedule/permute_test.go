package schedule

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIsPrime(t *testing.T) {
	// Against a sieve.
	const limit = 100000
	composite := make([]bool, limit)
	for i := 2; i < limit; i++ {
		if !composite[i] {
			for j := 2 * i; j < limit; j += i {
				composite[j] = true
			}
		}
		if got := isPrime(uint64(i)); got != !composite[i] {
			t.Fatalf("isPrime(%d) = %v", i, got)
		}
	}
	for _, n := range []uint64{0, 1} {
		if isPrime(n) {
			t.Errorf("isPrime(%d) = true", n)
		}
	}
	for n, want := range map[uint64]bool{
		4294967291:           true,  // largest prime below 2^32
		4294967311:           true,  // smallest prime above 2^32
		2305843009213693951:  true,  // 2^61-1
		18446744073709551557: true,  // 2^64-59, the largest 64-bit prime
		561:                  false, // Carmichael number
		3215031751:           false, // strong pseudoprime to bases 2, 3, 5, 7
		3825123056546413051:  false, // strong pseudoprime to bases 2..23
		4294967297:           false, // 2^32+1 = 641 · 6700417
		18446744073709551615: false, // 2^64-1
	} {
		if got := isPrime(n); got != want {
			t.Errorf("isPrime(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestMulmod(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		m := rng.Uint64() | 1
		a, b := rng.Uint64N(m), rng.Uint64N(m)
		want := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
		want.Mod(want, new(big.Int).SetUint64(m))
		if got := mulmod(a, b, m); got != want.Uint64() {
			t.Fatalf("mulmod(%d, %d, %d) = %d, want %d", a, b, m, got, want)
		}
	}
}

func TestPrimeFactors(t *testing.T) {
	check := func(n uint64) {
		t.Helper()
		fs := primeFactors(n)
		m := n
		for _, f := range fs {
			if !isPrime(f) || m%f != 0 {
				t.Fatalf("primeFactors(%d) = %v: %d is not a prime factor", n, fs, f)
			}
			for m%f == 0 {
				m /= f
			}
		}
		if m != 1 {
			t.Fatalf("primeFactors(%d) = %v leaves %d", n, fs, m)
		}
	}
	for n := uint64(1); n < 5000; n++ {
		check(n)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		check(rng.Uint64() >> rng.IntN(40))
	}
	check(4294967311 - 1)
	check(18446744073709551557 - 1)
	check(4294967291 * 4294967279) // two primes above 2^12: Pollard's rho
	got := primeFactors(2305843009213693951 - 1)
	slices.Sort(got)
	if want := []uint64{2, 3, 5, 7, 11, 13, 31, 41, 61, 151, 331, 1321}; !slices.Equal(got, want) {
		t.Errorf("primeFactors(2^61-2) = %v, want %v", got, want)
	}
}

func TestPrimitiveRootGeneratesTheGroup(t *testing.T) {
	for _, p := range []uint64{2, 3, 5, 7, 11, 13, 257, 65537, 65521, 7919} {
		for seed := range uint64(20) {
			rng := seed
			g := primitiveRoot(p, &rng)
			// The order of g is p-1: its powers hit 1 only at p-1.
			x, order := g%p, uint64(1)
			for x != 1 {
				x = x * g % p
				order++
			}
			if order != p-1 {
				t.Fatalf("p=%d seed=%d: g=%d has order %d, want %d", p, seed, g, order, p-1)
			}
		}
	}
}

// drain returns every index a permutation yields and checks that it then stays
// exhausted.
func drain(t *testing.T, p *Permutation) []uint64 {
	t.Helper()
	var out []uint64
	for {
		i, ok := p.Next()
		if !ok {
			break
		}
		out = append(out, i)
	}
	if _, ok := p.Next(); ok {
		t.Fatal("Next returned an index after it returned false")
	}
	return out
}

// exactlyOnce fails unless idx holds every index in [0, n) once.
func exactlyOnce(t *testing.T, idx []uint64, n uint64) {
	t.Helper()
	if uint64(len(idx)) != n {
		t.Fatalf("got %d indices, want %d", len(idx), n)
	}
	seen := make([]bool, n)
	for _, i := range idx {
		if i >= n {
			t.Fatalf("index %d out of [0, %d)", i, n)
		}
		if seen[i] {
			t.Fatalf("index %d returned twice", i)
		}
		seen[i] = true
	}
}

func TestPermutationEveryIndexOnce(t *testing.T) {
	// Primes and p-1 cases: 257 and 65537 are prime, so n = 256 and 65536 use the
	// whole group; n = 65521 is prime, the next prime being 65537.
	for _, n := range []uint64{0, 1, 2, 3, 4, 5, 6, 7, 255, 256, 257, 1000, 4095, 65519, 65520, 65521, 65535, 65536, 65537, 100003} {
		for _, seed := range []uint64{0, 1, 42, 0xdeadbeef, 1 << 63} {
			t.Run(fmt.Sprintf("n=%d/seed=%d", n, seed), func(t *testing.T) {
				exactlyOnce(t, drain(t, NewPermutation(n, seed)), n)
			})
		}
	}
}

func TestPermutationDeterministicAndSeeded(t *testing.T) {
	first := func(n, seed uint64, k int) []uint64 {
		p := NewPermutation(n, seed)
		out := make([]uint64, k)
		for i := range out {
			out[i], _ = p.Next()
		}
		return out
	}
	for _, n := range []uint64{256, 65536, 1 << 24, 1 << 32} {
		a, b := first(n, 1, 64), first(n, 1, 64)
		if !slices.Equal(a, b) {
			t.Errorf("n=%d: the same seed gave two orders", n)
		}
		for seed := uint64(2); seed < 10; seed++ {
			if c := first(n, seed, 64); slices.Equal(a, c) {
				t.Errorf("n=%d: seeds 1 and %d gave the same order %v", n, seed, c[:8])
			}
		}
	}
}

func TestShardsDisjointAndCovering(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 256, 1000, 65537} {
		for shards := uint64(1); shards <= 7; shards++ {
			for _, seed := range []uint64{0, 99} {
				t.Run(fmt.Sprintf("n=%d/shards=%d/seed=%d", n, shards, seed), func(t *testing.T) {
					var all []uint64
					for i := range shards {
						p, err := NewShard(n, seed, i, shards)
						if err != nil {
							t.Fatal(err)
						}
						all = append(all, drain(t, p)...)
					}
					exactlyOnce(t, all, n)
				})
			}
		}
	}
}

// TestShardsSplitTheCycle checks that shard i takes elements i, i+N, ... of the
// whole permutation's cycle: interleaving the shards round-robin gives back the
// whole permutation's order when no element is skipped (n = p-1).
func TestShardsSplitTheCycle(t *testing.T) {
	const n = 65536 // p = 65537: no element is skipped
	whole := drain(t, NewPermutation(n, 7))
	for shards := uint64(2); shards <= 7; shards++ {
		parts := make([][]uint64, shards)
		for i := range shards {
			p, _ := NewShard(n, 7, i, shards)
			parts[i] = drain(t, p)
		}
		for k, want := range whole {
			part := parts[uint64(k)%shards]
			if got := part[uint64(k)/shards]; got != want {
				t.Fatalf("shards=%d: element %d is %d in shard %d, want %d", shards, k, got, uint64(k)%shards, want)
			}
		}
	}
}

func TestNewShardRejectsBadShard(t *testing.T) {
	for _, c := range [][2]uint64{{0, 0}, {1, 1}, {7, 3}} {
		if _, err := NewShard(100, 1, c[0], c[1]); err == nil {
			t.Errorf("NewShard(shard %d of %d) accepted", c[0], c[1])
		}
	}
}

// TestNoBlockBursts: the first 1024 addresses of a /16 fall in many /24s; 4 a
// block is the mean, more than 16 would be a burst.
func TestNoBlockBursts(t *testing.T) {
	for seed := range uint64(300) {
		p := NewPermutation(1<<16, seed)
		var perBlock [256]int
		same := 0
		prev := uint64(1 << 20)
		for range 1024 {
			i, _ := p.Next()
			perBlock[i>>8]++
			if i>>8 == prev>>8 {
				same++
			}
			prev = i
		}
		if m := slices.Max(perBlock[:]); m > 16 {
			t.Errorf("seed %d: a /24 got %d of the first 1024 probes", seed, m)
		}
		if same > 40 { // 4 expected
			t.Errorf("seed %d: %d consecutive probes to the same /24", seed, same)
		}
	}
}

func TestPermutationLargeN(t *testing.T) {
	// p > 2^32: products need 128 bits.
	for _, n := range []uint64{1 << 32, 1<<40 + 3, 1 << 63} {
		for shards := uint64(1); shards <= 3; shards++ {
			seen := map[uint64]bool{}
			for i := range shards {
				p, err := NewShard(n, 11, i, shards)
				if err != nil {
					t.Fatal(err)
				}
				for range 20000 {
					x, ok := p.Next()
					if !ok || x >= n || seen[x] {
						t.Fatalf("n=%d shard %d/%d: Next = %d, %v (seen: %v)", n, i, shards, x, ok, seen[x])
					}
					seen[x] = true
				}
			}
		}
	}
}

func TestPermutationNextDoesNotAllocate(t *testing.T) {
	for _, n := range []uint64{1 << 16, 1 << 32} {
		p := NewPermutation(n, 1)
		if a := testing.AllocsPerRun(1000, func() { p.Next() }); a != 0 {
			t.Errorf("n=%d: Next allocates %v times", n, a)
		}
	}
}

func BenchmarkPermutationNext(b *testing.B) {
	for _, n := range []uint64{1 << 24, 1 << 32} {
		b.Run(fmt.Sprintf("n=2^%d", bitsLen(n)-1), func(b *testing.B) {
			p := NewPermutation(n, 1)
			b.ReportAllocs()
			var sink uint64
			for b.Loop() {
				i, ok := p.Next()
				if !ok {
					p = NewPermutation(n, 1)
				}
				sink += i
			}
			_ = sink
		})
	}
}

func BenchmarkNewPermutation(b *testing.B) {
	b.ReportAllocs()
	for seed := uint64(0); b.Loop(); seed++ {
		NewPermutation(1<<32, seed)
	}
}

func bitsLen(n uint64) int {
	l := 0
	for ; n > 0; n >>= 1 {
		l++
	}
	return l
}
