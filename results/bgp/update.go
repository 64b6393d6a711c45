package bgp

import (
	"net/netip"
	"time"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// UpdateRoute turns one prefix of a BGP UPDATE received at t from peer (AS
// peerAS) into a Route: a withdrawal, or an announcement with the update's
// path attributes. It reports false for NLRI that is not an IP prefix.
func UpdateRoute(t time.Time, peer netip.Addr, peerAS, pathID uint32, nlri bgp.NLRI, attrs []bgp.PathAttributeInterface, withdrawal bool) (Route, bool) {
	prefix, ok := nlriPrefix(nlri)
	if !ok {
		return Route{}, false
	}
	r := Route{Time: t.UTC(), Record: "BGP4MP", Peer: peer, PeerAS: peerAS, Prefix: prefix, PathID: pathID}
	if withdrawal {
		r.Kind = Withdraw
		return r, true
	}
	r.Kind = Announce
	r.Attrs = attrsOf(attrs, true)
	r.NextHop = r.Attrs.NextHop
	for _, a := range attrs {
		if mp, ok := a.(*bgp.PathAttributeMpReachNLRI); ok {
			r.NextHop = mp.Nexthop
		}
	}
	return r, true
}
