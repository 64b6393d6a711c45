package main

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"darkwatch/results"
	"darkwatch/results/bgp"
	"darkwatch/results/store"
)

// maxBlocksPerSet caps how many blocks of one configured prefix are looked up
// one by one in the control plane; a wider prefix's blocks take its own.
const maxBlocksPerSet = 1 << 16

// controlPlane returns the control plane the store's BGP routes (from `bgp
// import` or the live collector) give for an analysis of the rounds from
// from to until, or nil when the store holds no routes up to until.
//
// An entity's control plane is its own prefix's visibility when BGP carries
// that prefix. Otherwise it is announced when any more-specific BGP carries is
// announced, or, failing those, when a covering less-specific is; withdrawn
// when such prefixes exist and none is visible; and unknown when BGP says
// nothing of the entity's addresses.
func (a *app) controlPlane(ctx context.Context, st store.Store, an *results.Analysis, from, until time.Time) (func(netip.Prefix, time.Time) string, error) {
	round := an.Round
	if round <= 0 {
		round = time.Minute
	}
	// The entities whose control plane is asked: configured prefixes,
	// their blocks and the known hosts.
	var wanted []netip.Prefix
	for _, set := range an.Sets {
		for _, p := range set.Prefixes {
			wanted = append(wanted, p)
			bits := 24
			if p.Addr().Is6() {
				bits = 48
			}
			if p.Bits() < bits && bits-p.Bits() <= 16 {
				n := 1 << (bits - p.Bits())
				b := netip.PrefixFrom(p.Addr(), bits)
				for range min(n, maxBlocksPerSet) {
					wanted = append(wanted, b)
					b = nextPrefix(b)
				}
			}
		}
	}
	for _, h := range an.Hosts {
		wanted = append(wanted, netip.PrefixFrom(h, h.BitLen()))
	}

	var routes []bgp.Route
	related := map[netip.Prefix]bool{} // prefixes in BGP that overlap an entity
	err := st.EachRoute(ctx, store.RouteQuery{Until: until.Add(round)}, func(r bgp.Route) error {
		routes = append(routes, r)
		if r.Prefix.IsValid() {
			p := r.Prefix.Masked()
			if _, ok := related[p]; !ok {
				related[p] = overlapsAny(p, wanted)
			}
		}
		return nil
	})
	if err != nil || len(routes) == 0 {
		return nil, err
	}
	var inBGP []netip.Prefix
	asked := slices.Clone(wanted)
	for p, ok := range related {
		if ok {
			inBGP = append(inBGP, p)
			asked = append(asked, p)
		}
	}
	slices.SortFunc(asked, netip.Prefix.Compare)
	bins := bgp.Bins(from.Add(round), until.Add(round), round)
	vis := bgp.ControlPlane(routes, bins, slices.Compact(asked), a.cfg.BGP.visibility())

	return func(p netip.Prefix, t time.Time) string {
		if len(bins) == 0 {
			return results.ControlUnknown
		}
		// The state at the end of the round that begins at t.
		i := int(t.Add(round).Sub(bins[0]) / round)
		i = min(max(i, 0), len(bins)-1)
		at := func(q netip.Prefix) bgp.State {
			if v := vis[q]; i < len(v) {
				return v[i].State
			}
			return bgp.Unknown
		}
		if related[p] {
			return string(at(p))
		}
		state := bgp.Unknown
		// More-specifics that BGP carries speak for p first, then the
		// covering less-specifics, the most specific first.
		var cover netip.Prefix
		for _, q := range inBGP {
			switch s := at(q); {
			case q.Bits() > p.Bits() && p.Contains(q.Addr()):
				if s == bgp.Announced {
					return results.ControlAnnounced
				}
				if s == bgp.Withdrawn {
					state = bgp.Withdrawn
				}
			case q.Bits() < p.Bits() && q.Contains(p.Addr()) && (!cover.IsValid() || q.Bits() > cover.Bits()):
				cover = q
			}
		}
		if state == bgp.Unknown && cover.IsValid() {
			state = at(cover)
		}
		return string(state)
	}, nil
}

// overlapsAny reports whether p overlaps one of ps.
func overlapsAny(p netip.Prefix, ps []netip.Prefix) bool {
	for _, q := range ps {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}

// nextPrefix is the prefix of p's length right after p (wrapping at the end
// of the address space).
func nextPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().AsSlice()
	carry := 1 << (7 - (p.Bits()-1)%8)
	for i := (p.Bits() - 1) / 8; i >= 0 && carry > 0; i-- {
		sum := int(a[i]) + carry
		a[i], carry = byte(sum), sum>>8
	}
	addr, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(addr, p.Bits())
}
