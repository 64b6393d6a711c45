package bgp

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
)

// Origins replays routes, like View, and tells which prefixes an AS
// originates: those whose AS path, from at least one peer, ends in it.
// Feed it with Apply in time order; ask with Of. Of may be called from
// several goroutines at once, Apply only while nothing else runs. The zero
// Origins is not usable: use NewOrigins.
type Origins struct {
	// peers holds, per peer, the origin AS of each route it has (0 for a
	// path that ends in an AS_SET or is empty).
	peers map[peerKey]map[pathKey]uint32
	// index is what Of reads, built on first use after a change.
	mu    sync.Mutex
	index map[netip.Prefix]map[uint32]int
}

// pathKey is one route of a peer: a prefix and its ADD-PATH identifier.
type pathKey struct {
	prefix netip.Prefix
	id     uint32
}

// NewOrigins returns an empty Origins.
func NewOrigins() *Origins {
	return &Origins{peers: map[peerKey]map[pathKey]uint32{}}
}

// Apply adds one route: an announcement or RIB entry sets the peer's route
// to the prefix, a withdrawal removes it, and a session leaving
// Established (BGP FSM state 6) removes all of the peer's routes.
func (o *Origins) Apply(r Route) {
	k := peerKey{r.Peer, r.PeerAS}
	routes := o.peers[k]
	switch r.Kind {
	case Announce, RIB:
		if !r.Prefix.IsValid() {
			return
		}
		if routes == nil {
			routes = map[pathKey]uint32{}
			o.peers[k] = routes
		}
		routes[pathKey{r.Prefix.Masked(), r.PathID}] = r.Attrs.OriginAS()
	case Withdraw:
		if routes != nil && r.Prefix.IsValid() {
			delete(routes, pathKey{r.Prefix.Masked(), r.PathID})
		}
	case StateChange:
		if r.NewState != 6 {
			delete(o.peers, k)
		}
	default:
		return
	}
	o.index = nil
}

// Origination is a prefix that an AS originates as the routes applied so
// far have it.
type Origination struct {
	Prefix netip.Prefix
	ASN    uint32
	// Peers is how many peers have a route to Prefix that ends in ASN.
	Peers int
	// Origins are every AS that originates Prefix through some peer,
	// ascending: more than one is a multiple-origin (MOAS) prefix.
	Origins []uint32
	// Carved are the more-specific prefixes of Prefix that are announced
	// and that ASN does not originate, the widest of them: the most
	// specific route to their addresses leads to another AS.
	Carved []netip.Prefix
}

// MOAS reports whether more than one AS originates the prefix.
func (o Origination) MOAS() bool { return len(o.Origins) > 1 }

// Space is the prefix less its carved more-specifics, as the fewest CIDR
// prefixes: the addresses whose most specific route ASN originates (or
// one of asn's own more-specifics, which Of lists on their own).
func (o Origination) Space() []netip.Prefix {
	out := []netip.Prefix{o.Prefix}
	for _, c := range o.Carved {
		var next []netip.Prefix
		for _, p := range out {
			next = append(next, without(p, c)...)
		}
		out = next
	}
	return out
}

// without returns p less q as CIDR prefixes: p itself when they do not
// overlap, nothing when q covers p.
func without(p, q netip.Prefix) []netip.Prefix {
	switch {
	case !p.Overlaps(q):
		return []netip.Prefix{p}
	case q.Bits() <= p.Bits():
		return nil
	}
	// Split p in halves until q is one of them; keep the other halves.
	var out []netip.Prefix
	for cur := p; cur.Bits() < q.Bits(); {
		lo := netip.PrefixFrom(cur.Addr(), cur.Bits()+1)
		hi := netip.PrefixFrom(upperHalf(cur), cur.Bits()+1)
		if lo.Overlaps(q) {
			out, cur = append(out, hi), lo
		} else {
			out, cur = append(out, lo), hi
		}
	}
	slices.SortFunc(out, netip.Prefix.Compare)
	return out
}

// upperHalf is the first address of the upper half of p.
func upperHalf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bit := p.Bits()
	b[bit/8] |= 1 << (7 - bit%8)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Of returns the prefixes asn originates, by prefix.
func (o *Origins) Of(asn uint32) []Origination {
	if asn == 0 {
		return nil
	}
	idx := o.built()
	var out []Origination
	for p, origins := range idx {
		if peers, ok := origins[asn]; ok {
			out = append(out, Origination{Prefix: p, ASN: asn, Peers: peers, Origins: sortedKeys(origins)})
		}
	}
	slices.SortFunc(out, func(a, b Origination) int { return a.Prefix.Compare(b.Prefix) })
	// A prefix that asn does not originate is carved out of every prefix
	// of asn's that covers it: its addresses' most specific route leads
	// elsewhere (a prefix of asn's under it is listed on its own).
	for q, origins := range idx {
		if _, ok := origins[asn]; ok {
			continue
		}
		for bits := q.Bits() - 1; bits >= 0; bits-- {
			parent := netip.PrefixFrom(q.Addr(), bits).Masked()
			i, found := slices.BinarySearchFunc(out, parent, func(o Origination, p netip.Prefix) int { return o.Prefix.Compare(p) })
			if found {
				out[i].Carved = append(out[i].Carved, q)
			}
		}
	}
	for i := range out {
		out[i].Carved = widest(out[i].Carved)
	}
	return out
}

// built is the index of who originates what, through how many peers.
func (o *Origins) built() map[netip.Prefix]map[uint32]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.index != nil {
		return o.index
	}
	o.index = map[netip.Prefix]map[uint32]int{}
	for _, routes := range o.peers {
		// One peer counts once for a prefix and origin, whatever its
		// ADD-PATH paths.
		seen := map[netip.Prefix]map[uint32]bool{}
		for k, origin := range routes {
			if origin == 0 || seen[k.prefix][origin] {
				continue
			}
			if seen[k.prefix] == nil {
				seen[k.prefix] = map[uint32]bool{}
			}
			seen[k.prefix][origin] = true
			if o.index[k.prefix] == nil {
				o.index[k.prefix] = map[uint32]int{}
			}
			o.index[k.prefix][origin]++
		}
	}
	return o.index
}

func sortedKeys(m map[uint32]int) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// widest sorts ps and drops those another of ps covers.
func widest(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return cmp.Or(a.Addr().Compare(b.Addr()), a.Bits()-b.Bits()) })
	var out []netip.Prefix
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Bits() <= p.Bits() && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}
