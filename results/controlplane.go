package results

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"darkwatch/results/bgp"
)

// maxBlocksPerSet caps how many blocks of one configured prefix are looked up
// one by one in the control plane; a wider prefix's blocks take its own.
const maxBlocksPerSet = 1 << 16

// RouteSource is where the control plane's routes come from (results/store:
// store.AnalysisSource).
type RouteSource interface {
	// RoutesUntil calls fn with each route before until, by time.
	RoutesUntil(ctx context.Context, until time.Time, fn func(bgp.Route) error) error
}

// JoinControlPlane returns the control plane the routes of src give for an
// analysis of the rounds from from to until, as Analysis.ControlPlane takes
// it, or nil when src holds no routes up to until. vis says which peers are
// full-feed peers.
//
// An entity's control plane is its own prefix's visibility when BGP carries
// that prefix. Otherwise it is announced when any more-specific BGP carries is
// announced, or, failing those, when a covering less-specific is; withdrawn
// when such prefixes exist and none is visible; and unknown when BGP says
// nothing of the entity's addresses.
func (an *Analysis) JoinControlPlane(ctx context.Context, src RouteSource, vis bgp.Config, from, until time.Time) (func(netip.Prefix, time.Time) string, error) {
	round := an.Round
	if round <= 0 {
		round = time.Minute
	}
	wanted := an.controlEntities()
	var routes []bgp.Route
	related := map[netip.Prefix]bool{} // prefixes in BGP that overlap an entity
	err := src.RoutesUntil(ctx, until.Add(round), func(r bgp.Route) error {
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
	j := controlJoin{round: round, related: related}
	asked := slices.Clone(wanted)
	for p, ok := range related {
		if ok {
			j.inBGP = append(j.inBGP, p)
			asked = append(asked, p)
		}
	}
	slices.SortFunc(asked, netip.Prefix.Compare)
	j.bins = bgp.Bins(from.Add(round), until.Add(round), round)
	j.vis = bgp.ControlPlane(routes, j.bins, slices.Compact(asked), vis)
	return j.state, nil
}

// controlEntities are the entities whose control plane an analysis asks:
// the configured prefixes, their blocks and the known hosts.
func (an *Analysis) controlEntities() []netip.Prefix {
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
	return wanted
}

// controlJoin is the control plane of the prefixes BGP carries, per bin,
// that JoinControlPlane answers from.
type controlJoin struct {
	round   time.Duration
	bins    []time.Time
	vis     map[netip.Prefix][]bgp.Visibility
	related map[netip.Prefix]bool // prefixes in BGP, and whether they overlap an entity
	inBGP   []netip.Prefix        // those that do
}

// at is q's state in bin i.
func (j *controlJoin) at(q netip.Prefix, i int) bgp.State {
	if v := j.vis[q]; i < len(v) {
		return v[i].State
	}
	return bgp.Unknown
}

// state is p's control plane at the end of the round that begins at t.
func (j *controlJoin) state(p netip.Prefix, t time.Time) string {
	if len(j.bins) == 0 {
		return ControlUnknown
	}
	i := int(t.Add(j.round).Sub(j.bins[0]) / j.round)
	i = min(max(i, 0), len(j.bins)-1)
	if j.related[p] {
		return string(j.at(p, i))
	}
	state := bgp.Unknown
	// More-specifics that BGP carries speak for p first, then the
	// covering less-specifics, the most specific first.
	var cover netip.Prefix
	for _, q := range j.inBGP {
		switch s := j.at(q, i); {
		case q.Bits() > p.Bits() && p.Contains(q.Addr()):
			if s == bgp.Announced {
				return ControlAnnounced
			}
			if s == bgp.Withdrawn {
				state = bgp.Withdrawn
			}
		case q.Bits() < p.Bits() && q.Contains(p.Addr()) && (!cover.IsValid() || q.Bits() > cover.Bits()):
			cover = q
		}
	}
	if state == bgp.Unknown && cover.IsValid() {
		state = j.at(cover, i)
	}
	return string(state)
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
