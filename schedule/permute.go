package schedule

import (
	"fmt"
	"math/bits"
)

// Permutation yields every index in [0, n) exactly once, in a pseudo-random
// order, in O(1) memory, as zmap orders its targets: it walks the cyclic
// multiplicative group of integers modulo p, the smallest prime above n, from
// a start element by repeated multiplication with a primitive root g. The
// group's elements are 1..p-1, so element x stands for index x-1 and the few
// elements above n are skipped. Consecutive indices land far apart, so no /24
// gets a burst when the indices address a Space.
//
// The order depends only on n and the seed. Shards of the same (n, seed), on
// as many machines, split the cycle between them without coordination (see
// NewShard). A Permutation is not safe for concurrent use.
type Permutation struct {
	n     uint64 // indices are [0, n): elements 1..n
	p     uint64 // prime > n
	g     uint64 // primitive root mod p
	step  uint64 // g^shards mod p
	x     uint64 // the next element
	left  uint64 // elements of this shard's part of the cycle still to visit
	small bool   // p < 2^32: products fit in a uint64
}

// NewPermutation returns the whole permutation of [0, n) for seed: shard 0 of 1.
// n may be at most 2^63.
func NewPermutation(n, seed uint64) *Permutation {
	p, _ := NewShard(n, seed, 0, 1)
	return p
}

// NewShard returns shard i of shards of the permutation of [0, n) for seed:
// the elements i, i+shards, i+2·shards, ... of the cycle that
// NewPermutation(n, seed) walks, so that the shards of one (n, seed) are
// disjoint and together cover [0, n), each in O(1) memory — zmap's
// --shards/--shard. n may be at most 2^63.
func NewShard(n, seed, i, shards uint64) (*Permutation, error) {
	if shards == 0 || i >= shards {
		return nil, fmt.Errorf("schedule: shard %d of %d: the shard must be at least 0 and less than the number of shards", i, shards)
	}
	if n > 1<<63 {
		panic(fmt.Sprintf("schedule: NewPermutation(%d): at most 2^63 indices", n))
	}
	if n == 0 {
		return &Permutation{}, nil
	}
	rng := seed
	perm := &Permutation{n: n, p: nextPrime(n)}
	perm.small = perm.p < 1<<32
	perm.g = primitiveRoot(perm.p, &rng)
	start := 1 + splitmix64(&rng)%(perm.p-1)
	// Shard i starts i steps into the cycle and then takes every shards-th step.
	perm.x = perm.mulmod(start, powmod(perm.g, i%(perm.p-1), perm.p))
	perm.step = powmod(perm.g, shards%(perm.p-1), perm.p)
	if cycle := perm.p - 1; i < cycle {
		perm.left = (cycle-1-i)/shards + 1
	}
	return perm, nil
}

// Next returns the next index, or false when every index of this permutation
// (or shard) has been returned.
func (perm *Permutation) Next() (uint64, bool) {
	for perm.left > 0 {
		x := perm.x
		perm.x = perm.mulmod(x, perm.step)
		perm.left--
		if x <= perm.n {
			return x - 1, true
		}
	}
	return 0, false
}

func (perm *Permutation) mulmod(a, b uint64) uint64 {
	if perm.small {
		return a * b % perm.p
	}
	return mulmod(a, b, perm.p)
}

// mulmod is a·b mod m for a, b < m, without overflow.
func mulmod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi, lo, m) // hi < m because a, b < m
	return r
}

// powmod is b^e mod m, for b < m.
func powmod(b, e, m uint64) uint64 {
	r := uint64(1) % m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulmod(r, b, m)
		}
		b = mulmod(b, b, m)
	}
	return r
}

// isPrime is a deterministic Miller-Rabin test for all 64-bit n: these bases
// suffice below 3.3·10^24.
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	witnesses := [...]uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}
	for _, q := range witnesses {
		if n%q == 0 {
			return n == q
		}
	}
	d, s := n-1, 0
	for d%2 == 0 {
		d, s = d/2, s+1
	}
next:
	for _, a := range witnesses {
		x := powmod(a, d, n)
		if x == 1 || x == n-1 {
			continue
		}
		for range s - 1 {
			x = mulmod(x, x, n)
			if x == n-1 {
				continue next
			}
		}
		return false
	}
	return true
}

// nextPrime is the smallest prime above n, for n < 2^64-59.
func nextPrime(n uint64) uint64 {
	for p := n + 1; ; p++ {
		if isPrime(p) {
			return p
		}
	}
}

// primeFactors returns the distinct prime factors of n > 0, in no particular
// order: trial division by small primes, then Pollard's rho for what remains.
func primeFactors(n uint64) []uint64 {
	var fs []uint64
	for d := uint64(2); d < 1<<12 && d*d <= n; d++ {
		if n%d == 0 {
			fs = append(fs, d)
			for n%d == 0 {
				n /= d
			}
		}
	}
	var split func(m uint64)
	split = func(m uint64) {
		switch {
		case m == 1:
		case isPrime(m):
			for _, f := range fs {
				if f == m {
					return
				}
			}
			fs = append(fs, m)
		default:
			d := pollardRho(m)
			split(d)
			split(m / d)
		}
	}
	split(n)
	return fs
}

// pollardRho returns a non-trivial factor of an odd composite n (Pollard's rho
// with Floyd's cycle detection, retrying with another constant on failure).
func pollardRho(n uint64) uint64 {
	for c := uint64(1); ; c++ {
		f := func(x uint64) uint64 { return (mulmod(x, x, n) + c) % n }
		x, y, d := uint64(2), uint64(2), uint64(1)
		for d == 1 {
			x = f(x)
			y = f(f(y))
			d = gcd(absDiff(x, y), n)
		}
		if d != n {
			return d
		}
	}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// primitiveRoot returns a generator of the multiplicative group mod the prime p,
// drawn at random from rng: g is one when g^((p-1)/q) ≠ 1 for every prime q
// dividing p-1.
func primitiveRoot(p uint64, rng *uint64) uint64 {
	if p <= 3 {
		return p - 1 // 1 generates {1}; 2 generates {1, 2}
	}
	fs := primeFactors(p - 1)
	for {
		g := 2 + splitmix64(rng)%(p-3) // 2..p-2: 1 and p-1 never generate
		ok := true
		for _, q := range fs {
			if powmod(g, (p-1)/q, p) == 1 {
				ok = false
				break
			}
		}
		if ok {
			return g
		}
	}
}

// splitmix64 advances the state and returns the next of its well-mixed outputs
// (Steele, Lea and Flood's SplittableRandom).
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	return mix64(*state)
}

// mix64 is splitmix64's finaliser: a bijection of uint64 with good avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
