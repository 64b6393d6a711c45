package bgp

import (
	"net/netip"
	"slices"
	"time"
)

// State is the control plane of a prefix in a time bin. Its values are the
// control_plane strings of darkwatch's verdicts.
type State string

// States of the control plane.
const (
	// Announced: more than half of the full-feed peers see the prefix.
	Announced State = "announced"
	// Withdrawn: there are full-feed peers, and at most half see it.
	Withdrawn State = "withdrawn"
	// Unknown: no BGP data for that time (before the first route, after
	// Config.Until, or no full-feed peer at all).
	Unknown State = "unknown"
)

// IODA's full-feed thresholds: a peer that sends more prefixes than these
// has a full table.
const (
	FullFeedIPv4 = 400000
	FullFeedIPv6 = 10000
)

// Config tunes visibility.
type Config struct {
	// FullFeedIPv4 and FullFeedIPv6: a peer is a full-feed peer of a family
	// when it sends more prefixes of it than this (0: any peer that sends
	// one). IODA uses 400,000 and 10,000; a lab or a small feed needs less.
	FullFeedIPv4, FullFeedIPv6 int
	// Until, when set, is the end of the BGP data: later bins are Unknown
	// (an MRT update file says nothing of the time after it).
	Until time.Time
}

// DefaultConfig is IODA's thresholds.
func DefaultConfig() Config {
	return Config{FullFeedIPv4: FullFeedIPv4, FullFeedIPv6: FullFeedIPv6}
}

// Visibility is one prefix in one time bin.
type Visibility struct {
	Time   time.Time
	Prefix netip.Prefix
	State  State
	// Peers is how many full-feed peers see Prefix itself; FullFeed how
	// many full-feed peers of its family there are.
	Peers, FullFeed int
	// Covering is the most specific less-specific prefix that is
	// Announced in the bin (invalid when none is), and CoveringPeers how
	// many full-feed peers see it: a withdrawn /24 under an announced /16
	// may still be reached through the /16.
	Covering      netip.Prefix
	CoveringPeers int
}

// peerKey names a peer: the same address under another AS is another
// session.
type peerKey struct {
	addr netip.Addr
	as   uint32
}

// peerRIB is what one peer announces: its prefixes (with the ADD-PATH path
// identifiers that carry each) and how many of each family.
type peerRIB struct {
	prefixes       map[netip.Prefix]map[uint32]struct{}
	count4, count6 int
}

// View replays routes in time order and answers, at any point, how visible
// a prefix is. Feed it with Apply; ask with Visibility. The zero View is not
// usable: use NewView.
type View struct {
	cfg   Config
	peers map[peerKey]*peerRIB
	// seen counts, per prefix, the peers that announce it.
	seen  map[netip.Prefix]int
	first time.Time
	last  time.Time
}

// NewView returns an empty View.
func NewView(cfg Config) *View {
	return &View{cfg: cfg, peers: map[peerKey]*peerRIB{}, seen: map[netip.Prefix]int{}}
}

// Apply adds one route: an announcement or RIB entry adds the prefix to the
// peer's table, a withdrawal removes it, and a session leaving Established
// (BGP FSM state 6) empties the peer's table, as a session going down
// withdraws everything it announced.
func (v *View) Apply(r Route) {
	if v.first.IsZero() || r.Time.Before(v.first) {
		v.first = r.Time
	}
	if r.Time.After(v.last) {
		v.last = r.Time
	}
	k := peerKey{r.Peer, r.PeerAS}
	rib := v.peers[k]
	switch r.Kind {
	case Announce, RIB:
		if !r.Prefix.IsValid() {
			return
		}
		if rib == nil {
			rib = &peerRIB{prefixes: map[netip.Prefix]map[uint32]struct{}{}}
			v.peers[k] = rib
		}
		p := r.Prefix.Masked()
		ids := rib.prefixes[p]
		if ids == nil {
			ids = map[uint32]struct{}{}
			rib.prefixes[p] = ids
			v.seen[p]++
			if p.Addr().Is4() {
				rib.count4++
			} else {
				rib.count6++
			}
		}
		ids[r.PathID] = struct{}{}
	case Withdraw:
		if rib == nil || !r.Prefix.IsValid() {
			return
		}
		p := r.Prefix.Masked()
		ids := rib.prefixes[p]
		if ids == nil {
			return
		}
		delete(ids, r.PathID)
		if len(ids) == 0 {
			v.drop(rib, p)
		}
	case StateChange:
		if rib != nil && r.NewState != 6 {
			for p := range rib.prefixes {
				v.drop(rib, p)
			}
		}
	}
}

func (v *View) drop(rib *peerRIB, p netip.Prefix) {
	delete(rib.prefixes, p)
	if v.seen[p]--; v.seen[p] <= 0 {
		delete(v.seen, p)
	}
	if p.Addr().Is4() {
		rib.count4--
	} else {
		rib.count6--
	}
}

// fullFeed reports whether a peer's table is a full feed of p's family.
func (v *View) fullFeed(rib *peerRIB, p netip.Prefix) bool {
	if p.Addr().Is4() {
		return rib.count4 > 0 && rib.count4 > v.cfg.FullFeedIPv4
	}
	return rib.count6 > 0 && rib.count6 > v.cfg.FullFeedIPv6
}

// count returns how many full-feed peers of p's family there are and how
// many of them announce p.
func (v *View) count(p netip.Prefix) (seeing, full int) {
	for _, rib := range v.peers {
		if !v.fullFeed(rib, p) {
			continue
		}
		full++
		if _, ok := rib.prefixes[p]; ok {
			seeing++
		}
	}
	return seeing, full
}

// Visibility returns p's visibility at time t, after the routes applied so
// far (which should be those up to t).
func (v *View) Visibility(p netip.Prefix, t time.Time) Visibility {
	p = p.Masked()
	vis := Visibility{Time: t, Prefix: p, State: Unknown}
	if v.first.IsZero() || t.Before(v.first) || (!v.cfg.Until.IsZero() && t.After(v.cfg.Until)) {
		return vis
	}
	vis.Peers, vis.FullFeed = v.count(p)
	switch {
	case vis.FullFeed == 0:
		return vis
	case 2*vis.Peers > vis.FullFeed:
		vis.State = Announced
	default:
		vis.State = Withdrawn
	}
	for bits := p.Bits() - 1; bits >= 0; bits-- {
		q := netip.PrefixFrom(p.Addr(), bits).Masked()
		if v.seen[q] == 0 {
			continue
		}
		if seeing, full := v.count(q); 2*seeing > full {
			vis.Covering, vis.CoveringPeers = q, seeing
			break
		}
	}
	return vis
}

// Bins returns times width apart on multiples of width (:00, :05, ... for
// 5 minutes), from the last at or before t0 to the first at or after t1.
func Bins(t0, t1 time.Time, width time.Duration) []time.Time {
	if width <= 0 || t1.Before(t0) {
		return nil
	}
	var bins []time.Time
	for t := t0.Truncate(width); ; t = t.Add(width) {
		bins = append(bins, t)
		if !t.Before(t1) {
			return bins
		}
	}
}

// ControlPlane answers "what is the control plane of prefix P at time bin
// T" for every prefix and bin: routes (in any order) are replayed in time
// order, and each bin is the state at the instant T, after every route up
// to and including T (for bins named by their start, pass their ends to
// see the routes within them). The
// result has, per prefix, one Visibility per bin, in the order of bins
// (sorted by the call).
func ControlPlane(routes []Route, bins []time.Time, prefixes []netip.Prefix, cfg Config) map[netip.Prefix][]Visibility {
	rs := slices.Clone(routes)
	slices.SortStableFunc(rs, func(a, b Route) int { return a.Time.Compare(b.Time) })
	bins = slices.Clone(bins)
	slices.SortFunc(bins, time.Time.Compare)
	prefixes = slices.Clone(prefixes)
	slices.SortFunc(prefixes, netip.Prefix.Compare)
	prefixes = slices.Compact(prefixes) // one series per prefix, however often asked
	out := make(map[netip.Prefix][]Visibility, len(prefixes))
	v := NewView(cfg)
	i := 0
	for _, t := range bins {
		for ; i < len(rs) && !rs[i].Time.After(t); i++ {
			v.Apply(rs[i])
		}
		for _, p := range prefixes {
			out[p] = append(out[p], v.Visibility(p, t))
		}
	}
	return out
}
