package schedule

import (
	"net/netip"
	"slices"
)

// Assign returns the k vantage points that probe block, chosen by rendezvous
// (highest-random-weight) hashing: each vantage's weight for the block is a
// stable hash of the two, and the k heaviest win, heaviest first. Every node
// computes the same answer from the same list, without coordination, and
// changing the list moves few blocks: adding a vantage to n moves about
// 1/(n+1) of the blocks, each to the new vantage; removing one moves only the
// blocks it had. Duplicate names count once, so a block gets min(k, distinct
// vantages) of them; k <= 0 gives none. The order of vantages does not matter.
//
// The weights (FNV-1a 64 of the vantage name and the block, finished with
// splitmix64's mixer) are part of the contract: vantages running different
// versions must agree, so the hash never changes.
func Assign(block netip.Prefix, vantages []string, k int) []string {
	if k <= 0 || len(vantages) == 0 {
		return nil
	}
	type weighted struct {
		name string
		w    uint64
	}
	ws := make([]weighted, 0, len(vantages))
	for _, v := range vantages {
		ws = append(ws, weighted{v, weight(block, v)})
	}
	slices.SortFunc(ws, func(a, b weighted) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	out := make([]string, 0, min(k, len(ws)))
	for i, x := range ws {
		if i > 0 && x.name == ws[i-1].name {
			continue // duplicates have equal weights, so they sort together
		}
		if out = append(out, x.name); len(out) == k {
			break
		}
	}
	return out
}

// weight is the rendezvous weight of vantage for block (see Assign). The block
// is masked first, so any address of it names the same block.
func weight(block netip.Prefix, vantage string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(vantage); i++ {
		h = (h ^ uint64(vantage[i])) * prime
	}
	h = (h ^ 0xff) * prime // ends the name: 0xff is not UTF-8
	block = block.Masked()
	a := block.Addr().As16()
	for _, b := range a {
		h = (h ^ uint64(b)) * prime
	}
	h = (h ^ uint64(uint8(block.Bits()))) * prime
	if block.Addr().Is4() {
		h = (h ^ 4) * prime
	}
	return mix64(h)
}

// Assigned keeps the /24 blocks of ps that rendezvous hashing (Assign) gives
// this vantage point, c.Vantage, among c.Vantages with c.Redundancy: a prefix
// longer than a /24 stays whole when its block is this vantage's, a shorter
// one is split into its /24s. Without redundancy or vantages every prefix
// stays. IPv6 prefixes are kept as they are.
func (c *Config) Assigned(ps []netip.Prefix) []netip.Prefix {
	if c.Redundancy <= 0 || len(c.Vantages) == 0 {
		return ps
	}
	mine := func(b netip.Prefix) bool {
		return slices.Contains(Assign(b, c.Vantages, c.Redundancy), c.Vantage)
	}
	var out []netip.Prefix
	for _, p := range ps {
		switch {
		case !p.Addr().Is4():
			out = append(out, p)
		case p.Bits() > BlockBits4:
			if mine(BlockOf(p.Addr())) {
				out = append(out, p)
			}
		default:
			for _, b := range blocksOf(p) {
				if mine(b) {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// blocksOf splits an IPv4 prefix of a /24 or shorter into its /24s.
func blocksOf(p netip.Prefix) []netip.Prefix {
	a4 := p.Masked().Addr().As4()
	first := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8
	n := uint32(1) << (BlockBits4 - p.Bits())
	out := make([]netip.Prefix, 0, n)
	for i := range n {
		v := first + i<<(32-BlockBits4)
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), BlockBits4))
	}
	return out
}
