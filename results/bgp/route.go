// Package bgp holds darkwatch's control-plane view: routes read from MRT
// dumps (RouteViews, RIPE RIS, or any collector writing RFC 6396 files) or
// learnt live by a passive BGP route collector, printed the way bgpdump -m
// prints them, and turned into per-prefix visibility: how many full-feed
// peers see a prefix in a time bin, and whether it is announced or withdrawn.
//
// It also owns the bgp: section of the configuration (Section), prints MRT
// files (DumpFiles), loads them, once or as they come (ImportFile,
// ImportFiles, Watch), into a RouteStore, and prints a prefix's visibility
// over time (Timeline, WriteTimeline).
//
// It knows BGP and MRT, and nothing of probes, SQL, configuration files or
// verdicts: callers hand it typed values (file names, addresses,
// thresholds, a RouteStore) and get typed values back.
package bgp

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kind says what a Route is.
type Kind uint8

// Kinds of route events.
const (
	// Announce is a route announced in a BGP UPDATE (bgpdump's "A").
	Announce Kind = iota + 1
	// Withdraw is a route withdrawn in a BGP UPDATE (bgpdump's "W").
	Withdraw
	// RIB is a route in a routing-table dump (bgpdump's "B").
	RIB
	// StateChange is a change of a BGP session's state (bgpdump's
	// "STATE"); it has no prefix.
	StateChange
)

// String returns the letter bgpdump -m prints for k.
func (k Kind) String() string {
	switch k {
	case Announce:
		return "A"
	case Withdraw:
		return "W"
	case RIB:
		return "B"
	case StateChange:
		return "STATE"
	}
	return "?" + strconv.Itoa(int(k))
}

// ParseKind parses what Kind.String returns.
func ParseKind(s string) (Kind, bool) {
	for k := Announce; k <= StateChange; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Route is one event of the control plane: one prefix announced, withdrawn
// or found in a table dump by one peer, or one peer's session changing state.
type Route struct {
	// Time is when the collector saw it (the dump's time for a RIB entry),
	// UTC; to the microsecond for BGP4MP_ET records, else to the second.
	Time time.Time
	// Record names the MRT record the route came from as bgpdump -m does:
	// TABLE_DUMP, TABLE_DUMP2, TABLE_DUMP2_AP, BGP4MP, BGP4MP_ET,
	// BGP4MP_LOCAL, BGP4MP_AP, ... ("BGP4MP" for a live session).
	Record string
	Kind   Kind
	// Peer and PeerAS are the BGP neighbour the route was learnt from.
	Peer   netip.Addr
	PeerAS uint32
	// Prefix is the route's destination (invalid for StateChange).
	Prefix netip.Prefix
	// PathID is the ADD-PATH path identifier (RFC 7911), when AddPath.
	PathID  uint32
	AddPath bool
	// NextHop is the route's next hop: the NEXT_HOP attribute for IPv4
	// NLRI, the MP_REACH_NLRI next hop for multiprotocol NLRI. Invalid when
	// the message carried none.
	NextHop netip.Addr
	// Attrs are the path attributes, shared by all routes of one message;
	// nil for withdrawals and state changes.
	Attrs *Attrs
	// OldState and NewState are a StateChange route's BGP FSM states (1 Idle ...
	// 6 Established).
	OldState, NewState uint16
}

// Attrs are the path attributes of an announcement or a RIB entry.
type Attrs struct {
	// Origin is 0 (IGP), 1 (EGP) or 2 (INCOMPLETE); -1 when absent.
	Origin int
	// ASPath is the AS path as bgpdump writes it: ASNs separated by
	// spaces, AS_SETs as {a,b}, confederation sequences as (a b) and sets
	// as [a,b]. For a 2-byte-AS session with an AS4_PATH, the merged path.
	ASPath    string
	HasASPath bool
	// NextHop is the NEXT_HOP attribute; invalid when absent.
	NextHop netip.Addr
	// MPNextHop is the MP_REACH_NLRI next hop, in a RIB entry whose
	// abbreviated MP_REACH_NLRI gives one; invalid otherwise.
	MPNextHop  netip.Addr
	HasMPReach bool

	LocalPref    uint32
	HasLocalPref bool
	MED          uint32
	HasMED       bool
	// Communities are the COMMUNITIES attribute's values.
	Communities    []uint32
	HasCommunities bool

	AtomicAggregate bool
	// AggregatorAS and AggregatorAddr are the AGGREGATOR attribute
	// (AggregatorAddr invalid when absent).
	AggregatorAS   uint32
	AggregatorAddr netip.Addr
}

// OriginAS returns the last AS of the AS path (the origin), or 0 when the
// path is empty or ends in an AS_SET.
func (a *Attrs) OriginAS() uint32 {
	if a == nil {
		return 0
	}
	p := strings.TrimSpace(a.ASPath)
	if i := strings.LastIndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	n, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// OriginName returns the ORIGIN attribute as bgpdump names it.
func OriginName(origin int) string {
	switch origin {
	case 0:
		return "IGP"
	case 1:
		return "EGP"
	}
	return "INCOMPLETE"
}
