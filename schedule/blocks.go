package schedule

import (
	"context"
	"net/netip"
	"slices"

	"darkwatch/results"
	"darkwatch/results/store"
)

// Store is what the scheduler keeps in a store (*store.Store has it all):
// the census, the blocks' beliefs, what failed in its rounds, and the routes
// and delegations that named target sets resolve from.
type Store interface {
	EntitySource
	Blocks(ctx context.Context) ([]store.Block, error)
	PutBlocks(ctx context.Context, bs []store.Block) error
	Beliefs(ctx context.Context, vantage string) ([]store.Belief, error)
	PutBelief(ctx context.Context, bs []store.Belief) error
	PutFailures(ctx context.Context, fs []results.Failure) error
}

// VantageCensus loads vantage's icmp census blocks from st: a census taken
// with another method says nothing of what an ICMP probe can expect. A nil
// st has none.
func VantageCensus(ctx context.Context, st Store, vantage string) ([]store.Block, error) {
	if st == nil {
		return nil, nil
	}
	all, err := st.Blocks(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Block
	for _, b := range all {
		if b.Vantage == vantage && b.Method == results.MethodICMP && !b.Prefix.IsSingleIP() && len(b.E) > 0 {
			out = append(out, b)
		}
	}
	return out, nil
}

// CensusBlocks returns the blocks of census inside ps.
func CensusBlocks(census []store.Block, ps []netip.Prefix) []store.Block {
	var out []store.Block
	for _, b := range census {
		if slices.ContainsFunc(ps, b.Prefix.Overlaps) {
			out = append(out, b)
		}
	}
	return out
}

// OutsideBlocks returns the parts of ps that lie in none of blocks (census
// blocks: IPv4 /24s, IPv6 blocks of any length): a prefix holding no block
// as it is, an IPv4 one holding some split into its other /24s, and one
// inside a block left out.
func OutsideBlocks(ps []netip.Prefix, blocks []store.Block) []netip.Prefix {
	in := make(map[netip.Prefix]bool, len(blocks))
	var lengths6 []int
	for _, b := range blocks {
		in[b.Prefix.Masked()] = true
		if b.Prefix.Addr().Is6() && !slices.Contains(lengths6, b.Prefix.Bits()) {
			lengths6 = append(lengths6, b.Prefix.Bits())
		}
	}
	var out []netip.Prefix
	for _, p := range ps {
		switch {
		case !p.Addr().Is4():
			if !insideAny(p, in, lengths6) {
				out = append(out, p)
			}
		case p.Bits() >= BlockBits4:
			if !in[BlockOf(p.Addr())] {
				out = append(out, p)
			}
		case !holdsAny(p, in):
			out = append(out, p)
		default:
			for _, b := range blocksOf(p) {
				if !in[b] {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// BlocksHolding returns the blocks of census (each once, in census order)
// that hold one of ps: the census blocks of a hitlist's addresses. It looks
// each prefix up once for every block length in census, not against every
// block.
func BlocksHolding(census []store.Block, ps []netip.Prefix) []store.Block {
	byPrefix := map[netip.Prefix]int{}
	var lengths []int
	for i, b := range census {
		byPrefix[b.Prefix.Masked()] = i
		if !slices.Contains(lengths, b.Prefix.Bits()) {
			lengths = append(lengths, b.Prefix.Bits())
		}
	}
	held := make([]bool, len(census))
	for _, p := range ps {
		for _, n := range lengths {
			if i, ok := byPrefix[netip.PrefixFrom(p.Addr(), n).Masked()]; ok && n <= p.Bits() {
				held[i] = true
			}
		}
	}
	var out []store.Block
	for i, b := range census {
		if held[i] {
			out = append(out, b)
		}
	}
	return out
}

// insideAny reports whether p lies inside one of the blocks of in, whose
// lengths are among lengths.
func insideAny(p netip.Prefix, in map[netip.Prefix]bool, lengths []int) bool {
	for _, n := range lengths {
		if n <= p.Bits() && in[netip.PrefixFrom(p.Addr(), n).Masked()] {
			return true
		}
	}
	return false
}

// holdsAny reports whether p contains one of the blocks of in.
func holdsAny(p netip.Prefix, in map[netip.Prefix]bool) bool {
	for b := range in {
		if p.Contains(b.Addr()) {
			return true
		}
	}
	return false
}

// FirstOfBlocks is the space of the first probe-able address of every /24 of
// s: where a round sends its one trace a block.
func FirstOfBlocks(s *Space, bl *Blocklist) (*Space, error) {
	var ps []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for i := uint64(0); i < s.Size(); i++ {
		ad := s.Index(i)
		b := BlockOf(ad)
		if !seen[b] {
			seen[b] = true
			ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
		}
	}
	return NewSpace(ps, bl)
}
