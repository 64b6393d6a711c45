package schedule

import (
	"context"
	"net/netip"
	"slices"
)

// targetSets are the target sets of round k. Named sets are resolved from
// the store at every round, so that a set named by its AS follows routing:
// a prefix the AS starts to originate joins at the next round, one it
// stops originating (withdrawn, or originated by another AS) leaves. When
// the store fails, the last resolution stands.
func (d *Daemon) targetSets(ctx context.Context, k int64) []TargetSet {
	if !d.cfg.Named() {
		return d.cfg.Targets
	}
	var src EntitySource
	if d.Store != nil {
		src = d.Store
	}
	r, err := d.resolver.Resolve(ctx, src, d.cfg)
	if err != nil {
		d.fail(StageResolve, "named target sets not resolved: the last prefixes found stand", err, "round", k)
		if d.resolved == nil {
			return d.cfg.Targets
		}
		return d.resolved.Apply(d.cfg).Targets
	}
	d.logChanges(k, r)
	d.resolved = r
	for _, w := range r.CanariesInside(d.cfg) {
		d.Log.Warn("a canary lies inside a named target set: its failures would read as the vantage's own path failing", "canary", w.Canary,
			"set", w.Set, "prefix", w.Prefix)
	}
	return r.Apply(d.cfg).Targets
}

// CanaryInside is a canary inside a prefix a named set resolved to.
type CanaryInside struct {
	Canary netip.Addr
	Set    string
	Prefix netip.Prefix
}

// CanariesInside lists the canaries of c that lie inside the prefixes r
// resolved c's named sets to: Validate keeps canaries out of the prefixes a
// configuration lists, but cannot know those of named sets.
func (r *Resolution) CanariesInside(c *Config) []CanaryInside {
	var out []CanaryInside
	for _, h := range c.Canaries {
		a := netip.MustParseAddr(h.Addr).Unmap()
		for _, set := range r.Sets {
			if set.By == FromConfig {
				continue
			}
			for _, p := range set.Prefixes {
				if p.Prefix.Contains(a) {
					out = append(out, CanaryInside{a, set.Name, p.Prefix})
				}
			}
		}
	}
	return out
}

// logChanges logs, per named set, the prefixes that joined or left it
// since the last resolution (all of them the first time).
func (d *Daemon) logChanges(k int64, r *Resolution) {
	for _, set := range r.Sets {
		if set.By == FromConfig {
			continue
		}
		now := probedPrefixes(set)
		var before []netip.Prefix
		if d.resolved != nil {
			if i := slices.IndexFunc(d.resolved.Sets, func(s ResolvedSet) bool { return s.Name == set.Name }); i >= 0 {
				before = probedPrefixes(d.resolved.Sets[i])
			}
		}
		joined, left := difference(now, before), difference(before, now)
		if len(joined) == 0 && len(left) == 0 {
			continue
		}
		d.Log.Info("target set follows "+set.By, "set", set.Name, "round", k, "prefixes", len(now),
			"joined", joined, "left", left)
	}
}

// probedPrefixes are the prefixes of set that rounds probe.
func probedPrefixes(set ResolvedSet) []netip.Prefix {
	var ps []netip.Prefix
	for _, p := range set.Prefixes {
		if p.Probed {
			ps = append(ps, p.Prefix)
		}
	}
	return ps
}

// difference is the prefixes of a that are not in b.
func difference(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}
