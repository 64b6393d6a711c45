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
