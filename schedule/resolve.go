package schedule

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"darkwatch/results/bgp"
	"darkwatch/results/geo"
	"darkwatch/results/store"
)

// EntitySource is where named target sets find their prefixes: the routes
// of the control plane and the RIR delegations (results/store's stores are
// EntitySources).
type EntitySource interface {
	EachRoute(ctx context.Context, q store.RouteQuery, fn func(bgp.Route) error) error
	RoutesStored(ctx context.Context) (int64, error)
	Delegations(ctx context.Context, q store.DelegationQuery) ([]store.Delegation, error)
}

// How a target set gets its prefixes.
const (
	// FromConfig: the prefixes the configuration lists.
	FromConfig = "config"
	// FromBGP: the prefixes its asn originates, by the routes in the store.
	FromBGP = "bgp"
	// FromGeo: the prefixes delegated to its country, by the RIR
	// statistics files in the store.
	FromGeo = "geo"
)

// Named reports whether the set takes its prefixes from the store: it lists
// none and no hitlist, and names an asn (the prefixes the AS originates) or
// else a country (the prefixes delegated to it). A hitlist set's asn and
// country only say what its blocks roll up into.
func (ts TargetSet) Named() bool {
	return len(ts.Prefixes) == 0 && ts.Hitlist == "" && (ts.ASN != 0 || ts.Country != "")
}

// By is where the set's prefixes come from: FromConfig, FromBGP or FromGeo
// (its from: when it names both an asn and a country).
func (ts TargetSet) By() string {
	switch {
	case !ts.Named():
		return FromConfig
	case ts.From != "":
		return ts.From
	case ts.ASN != 0:
		return FromBGP
	}
	return FromGeo
}

// validateFrom checks from:, which only a set without prefixes may have,
// and which needs what it names: an asn for bgp, a country for geo.
func (ts TargetSet) validateFrom(key string) error {
	switch {
	case ts.From == "":
		return nil
	case ts.From != FromBGP && ts.From != FromGeo:
		return bad(key+".from", "%q is not one of bgp (the prefixes asn originates) and geo (the prefixes delegated to country)", ts.From)
	case len(ts.Prefixes) > 0 || ts.Hitlist != "":
		return bad(key+".from", "a set with prefixes or a hitlist probes those: from: goes only with a set that takes its prefixes from the store")
	case ts.From == FromBGP && ts.ASN == 0:
		return bad(key+".from", "bgp needs the asn whose prefixes the set probes")
	case ts.From == FromGeo && ts.Country == "":
		return bad(key+".from", "geo needs the country whose prefixes the set probes")
	}
	return nil
}

// Origin says where one prefix of a resolved target set came from.
type Origin struct {
	By string `json:"by"` // FromConfig, FromBGP or FromGeo
	// ASN, Peers and Origins: the origin AS, how many peers route the
	// prefix to it, and every AS that originates it (more than one: MOAS).
	// Within is the announced prefix this one is part of when more-specifics
	// of other ASes are carved out of it.
	ASN     uint32       `json:"asn,omitempty"`
	Peers   int          `json:"peers,omitempty"`
	Origins []uint32     `json:"origins,omitempty"`
	Within  netip.Prefix `json:"within,omitzero"`
	// Registry, Country, Date and Status are the delegation's; Source and
	// Serial the statistics file's name and serial.
	Registry string `json:"registry,omitempty"`
	Country  string `json:"country,omitempty"`
	Date     string `json:"date,omitempty"`
	Status   string `json:"status,omitempty"`
	Source   string `json:"source,omitempty"`
	Serial   string `json:"serial,omitempty"`
}

// String says where the prefix came from in one phrase: "config", "bgp:
// AS131279 via 12 peers, MOAS 131279/4837", "geo: apnic delegated
// 2010-01-22 (assigned)".
func (o Origin) String() string {
	switch o.By {
	case FromBGP:
		s := fmt.Sprintf("bgp: AS%d via %d peer", o.ASN, o.Peers)
		if o.Peers != 1 {
			s += "s"
		}
		if len(o.Origins) > 1 {
			as := make([]string, len(o.Origins))
			for i, a := range o.Origins {
				as[i] = strconv.FormatUint(uint64(a), 10)
			}
			s += ", MOAS " + strings.Join(as, "/")
		}
		if o.Within.IsValid() {
			s += fmt.Sprintf(", part of %v (more-specifics of other ASes carved out)", o.Within)
		}
		return s
	case FromGeo:
		s := fmt.Sprintf("geo: %s delegated", o.Registry)
		if o.Date != "" {
			s += " " + o.Date
		}
		return s + " (" + o.Status + ")"
	}
	return o.By
}

// ResolvedPrefix is one prefix of a resolved target set.
type ResolvedPrefix struct {
	Prefix netip.Prefix `json:"prefix"`
	From   Origin       `json:"from"`
	// Probed is false for a prefix rounds cannot probe address by
	// address: an IPv6 prefix wider than /MinIPv6Bits.
	Probed bool `json:"probed"`
}

// ResolvedSet is one target set with its prefixes and where each came from.
type ResolvedSet struct {
	Name     string           `json:"name"`
	By       string           `json:"by"`
	ASN      uint32           `json:"asn,omitempty"`
	Country  string           `json:"country,omitempty"`
	Prefixes []ResolvedPrefix `json:"prefixes"`
	// Hitlist is the set's hitlist file: the addresses probed in its IPv6
	// prefixes too wide to sweep.
	Hitlist string `json:"hitlist,omitempty"`
}

// Resolution is what a configuration's target sets resolve to at one time.
type Resolution struct {
	At   time.Time     `json:"at"`
	Sets []ResolvedSet `json:"sets"`
}

// Resolve gives every target set of c (a valid Config) its prefixes: a
// set's own, or, for a named set, those of the store at time at (zero: all
// it holds). A named set the store knows nothing of resolves to no
// prefixes; src may be nil when no set is named.
func Resolve(ctx context.Context, src EntitySource, c *Config, at time.Time) (*Resolution, error) {
	return resolve(ctx, src, c, at, func() (*bgp.Origins, error) { return replayRoutes(ctx, src, at) })
}

// Resolver resolves named target sets again and again, as Resolve does at
// the time of each call, and replays the store's routes again only when
// routes came since it last did. The zero Resolver is ready, and safe for
// concurrent use.
type Resolver struct {
	mu      sync.Mutex
	origins *bgp.Origins
	// routes is how many routes the store held when origins was built.
	routes int64
}

// Resolve is Resolve of c from src now, reusing the routes replayed last
// time when the store holds no new one.
func (rv *Resolver) Resolve(ctx context.Context, src EntitySource, c *Config) (*Resolution, error) {
	return resolve(ctx, src, c, time.Time{}, func() (*bgp.Origins, error) {
		if src == nil {
			return replayRoutes(ctx, src, time.Time{})
		}
		rv.mu.Lock()
		defer rv.mu.Unlock()
		n, err := src.RoutesStored(ctx)
		if err != nil {
			return nil, fmt.Errorf("resolving target sets by asn: %w", err)
		}
		if rv.origins != nil && n == rv.routes {
			return rv.origins, nil
		}
		o, err := replayRoutes(ctx, src, time.Time{})
		if err != nil {
			return nil, err
		}
		// Routes stored during the replay may be in it or not: the count
		// taken before it makes the next call replay them again.
		rv.origins, rv.routes = o, n
		return o, nil
	})
}

// resolve is Resolve with the routes replayed by replay, called once if a
// set is named by its AS.
func resolve(ctx context.Context, src EntitySource, c *Config, at time.Time, replay func() (*bgp.Origins, error)) (*Resolution, error) {
	r := &Resolution{At: at}
	var origins *bgp.Origins
	for _, ts := range c.Targets {
		set := ResolvedSet{Name: ts.Name, By: ts.By(), ASN: ts.ASN, Country: strings.ToUpper(ts.Country), Hitlist: ts.Hitlist}
		var err error
		switch set.By {
		case FromConfig:
			for _, s := range ts.Prefixes {
				set.Prefixes = append(set.Prefixes, ResolvedPrefix{Prefix: netip.MustParsePrefix(s).Masked(), From: Origin{By: FromConfig}})
			}
		case FromBGP:
			if origins == nil {
				if origins, err = replay(); err != nil {
					return nil, err
				}
			}
			set.Prefixes = originated(origins, ts.ASN)
		case FromGeo:
			if set.Prefixes, err = delegated(ctx, src, set.Country); err != nil {
				return nil, err
			}
		}
		for i := range set.Prefixes {
			set.Prefixes[i].Probed = probeable(set.Prefixes[i].Prefix)
		}
		r.Sets = append(r.Sets, set)
	}
	return r, nil
}

// replayRoutes replays the routes of src up to at (zero: all of them).
func replayRoutes(ctx context.Context, src EntitySource, at time.Time) (*bgp.Origins, error) {
	if src == nil {
		return nil, fmt.Errorf("target sets named by asn take their prefixes from the routes in a store: name one with --store or the store key")
	}
	o := bgp.NewOrigins()
	q := store.RouteQuery{}
	if !at.IsZero() {
		q.Until = at.Add(time.Nanosecond)
	}
	err := src.EachRoute(ctx, q, func(r bgp.Route) error {
		o.Apply(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolving target sets by asn: %w", err)
	}
	return o, nil
}

// originated is what asn originates: each announced prefix less the
// more-specifics other ASes originate.
func originated(o *bgp.Origins, asn uint32) []ResolvedPrefix {
	var out []ResolvedPrefix
	for _, org := range o.Of(asn) {
		from := Origin{By: FromBGP, ASN: asn, Peers: org.Peers, Origins: org.Origins}
		if len(org.Carved) > 0 {
			from.Within = org.Prefix
		}
		for _, p := range org.Space() {
			out = append(out, ResolvedPrefix{Prefix: p, From: from})
		}
	}
	return out
}

// delegated is what the registries delegated to country.
func delegated(ctx context.Context, src EntitySource, country string) ([]ResolvedPrefix, error) {
	if src == nil {
		return nil, fmt.Errorf("target sets named by country take their prefixes from the RIR delegations in a store: name one with --store or the store key")
	}
	var out []ResolvedPrefix
	for _, typ := range []string{geo.TypeIPv4, geo.TypeIPv6} {
		ds, err := src.Delegations(ctx, store.DelegationQuery{Country: country, Type: typ})
		if err != nil {
			return nil, fmt.Errorf("resolving target sets by country: %w", err)
		}
		for _, d := range ds {
			if !d.Delegated() {
				continue
			}
			from := Origin{By: FromGeo, Registry: d.Registry, Country: d.Country, Date: d.Date, Status: d.Status,
				Source: d.Source, Serial: d.Serial}
			for _, p := range d.Prefixes {
				out = append(out, ResolvedPrefix{Prefix: p, From: from})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b ResolvedPrefix) int { return a.Prefix.Compare(b.Prefix) })
	return out, nil
}

// probeable reports whether rounds can probe p: IPv4, or IPv6 of
// /MinIPv6Bits or longer.
func probeable(p netip.Prefix) bool {
	return p.Addr().Is4() || p.Bits() >= MinIPv6Bits
}

// Named reports whether any target set of c is named (see TargetSet.Named).
func (c *Config) Named() bool {
	return slices.ContainsFunc(c.Targets, TargetSet.Named)
}

// Apply returns a copy of c whose named target sets list the prefixes r
// resolved them to that rounds can probe (sets r does not know keep
// theirs). c itself is not changed.
func (r *Resolution) Apply(c *Config) *Config {
	out := *c
	out.Targets = slices.Clone(c.Targets)
	for i, ts := range out.Targets {
		if !ts.Named() {
			continue
		}
		j := slices.IndexFunc(r.Sets, func(s ResolvedSet) bool { return s.Name == ts.Name })
		if j < 0 {
			continue
		}
		var ps []string
		for _, p := range r.Sets[j].Prefixes {
			if p.Probed {
				ps = append(ps, p.Prefix.String())
			}
		}
		out.Targets[i].Prefixes = ps
	}
	return &out
}
