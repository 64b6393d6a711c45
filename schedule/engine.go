package schedule

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
)

// round probes everything the configuration names once, as round k.
//
// With a census in the store, ICMP probing of the census blocks is adaptive
// (Trinocular): one periodic probe a block, more only while uncertain; the rest
// of the space, and the other methods, are swept.
func (d *Daemon) round(ctx context.Context, k int64) {
	// The census blocks of every set that probes ICMP this round are probed
	// adaptively in one go, beside the canaries; the sweeps and the hosts
	// follow, set by set.
	sets := d.targetSets(ctx, k)
	census, blocks := d.censusOfRound(ctx, k, sets)
	var beside sync.WaitGroup
	if len(blocks) > 0 {
		beside.Go(func() {
			n := d.adaptiveRound(ctx, k, blocks)
			d.Log.Debug("adaptive round", "blocks", n)
		})
	}
	beside.Go(func() { d.probeCanaries(ctx, k) })
	defer beside.Wait()
	for _, ts := range sets {
		if ctx.Err() != nil {
			return
		}
		d.probeSet(ctx, k, ts, census[ts.Name])
	}
}

// censusOfRound gives, per target set of sets that probes ICMP in round k,
// its census blocks assigned to this vantage, and all of them once.
func (d *Daemon) censusOfRound(ctx context.Context, k int64, sets []TargetSet) (map[string][]store.Block, []store.Block) {
	stored, err := VantageCensus(ctx, d.Store, d.cfg.Vantage)
	if err != nil {
		d.fail(StageCensus, "census not loaded: census blocks are swept this round, not probed adaptively", err, "round", k)
	}
	var all []store.Block
	census := map[string][]store.Block{}
	for _, ts := range sets {
		if len(stored) == 0 || !slices.Contains(MethodMix(ts.Methods, ts.TraceEvery, k), results.MethodICMP) {
			continue
		}
		census[ts.Name] = d.setCensus(stored, ts)
		for _, b := range census[ts.Name] {
			if !slices.ContainsFunc(all, func(o store.Block) bool { return o.Prefix == b.Prefix }) {
				all = append(all, b)
			}
		}
	}
	return census, all
}

// setCensus is the census blocks of stored that the set probes: those that
// overlap its IPv4 prefixes assigned to this vantage, and those that hold an
// address of its hitlist or of its narrow IPv6 prefixes.
func (d *Daemon) setCensus(stored []store.Block, ts TargetSet) []store.Block {
	out := CensusBlocks(stored, d.cfg.Assigned(ts.IPv4()))
	v6, _ := ts.Probed(false) // probeSet reports a hitlist it cannot read
	hit4, _ := ts.hitlistPrefixes(true)
	for _, b := range BlocksHolding(stored, append(v6, d.cfg.Assigned(hit4)...)) {
		if !slices.ContainsFunc(out, func(o store.Block) bool { return o.Prefix == b.Prefix }) {
			out = append(out, b)
		}
	}
	return out
}

// probeCanaries probes every canary with its methods (icmp by default).
func (d *Daemon) probeCanaries(ctx context.Context, k int64) {
	for _, c := range d.cfg.Canaries {
		methods := c.Methods
		if len(methods) == 0 {
			methods = []string{results.MethodICMP}
		}
		for _, name := range methods {
			meth, _ := ParseMethod(name)
			d.probeHosts(ctx, k, meth, []netip.Addr{netip.MustParseAddr(c.Addr)})
		}
	}
}

// probeSet sweeps one target set's IPv4 space with every method of round k
// (ICMP leaving blocks to the adaptive round), then its IPv6 space (its
// hitlist and narrow prefixes), then probes its known hosts.
func (d *Daemon) probeSet(ctx context.Context, k int64, ts TargetSet, blocks []store.Block) {
	v4, err := ts.Probed(true)
	if err != nil {
		d.fail(StageSpace, "hitlist not read: its addresses are skipped", err, "set", ts.Name, "round", k)
	}
	v4 = d.cfg.Assigned(v4)
	space4, err := NewSpace(v4, d.bl)
	if err != nil {
		d.fail(StageSpace, "target set skipped", err, "set", ts.Name, "round", k)
		return
	}
	icmpSpace := space4
	if len(blocks) > 0 {
		// Not through the blocklist: allow would let the census blocks
		// back in (the lab allows the whole target space).
		if icmpSpace, err = NewSpace(OutsideBlocks(v4, blocks), d.bl); err != nil {
			d.fail(StageSpace, "icmp sweep skipped", err, "set", ts.Name, "round", k)
			icmpSpace = &Space{}
		}
	}
	v6 := d.probed6(k, ts)
	space6, icmpSpace6 := d.space(k, ts.Name, v6, nil), d.space(k, ts.Name, v6, blocks)
	for _, name := range MethodMix(ts.Methods, ts.TraceEvery, k) {
		meth, _ := ParseMethod(name)
		if ctx.Err() != nil {
			return
		}
		if meth.Name == results.MethodDNS {
			continue // a question for name servers: configure it on hosts
		}
		space, sp6 := space4, space6
		if meth.Name == results.MethodICMP && len(blocks) > 0 {
			space, sp6 = icmpSpace, icmpSpace6
		}
		for _, sp := range []*Space{space, sp6} {
			if sp.Size() > 0 {
				d.sweep(ctx, k, ts.Name, meth, sp)
			}
		}
	}
	for _, h := range ts.Hosts {
		for _, name := range MethodMix(h.Methods, ts.TraceEvery, k) {
			meth, _ := ParseMethod(name)
			d.probeHosts(ctx, k, meth, []netip.Addr{netip.MustParseAddr(h.Addr)})
		}
	}
}

// probed6 is what the set probes of IPv6: its hitlist's IPv6 addresses
// and its prefixes of /MinIPv6Bits or longer, every one by every vantage.
// The stateless engine sweeps them as it does IPv4.
func (d *Daemon) probed6(k int64, ts TargetSet) []netip.Prefix {
	v6, err := ts.Probed(false)
	if err != nil {
		d.fail(StageSpace, "hitlist not read: its addresses are skipped", err, "set", ts.Name, "round", k)
	}
	return v6
}

// space is the space of IPv6 targets ps outside the census blocks that the
// adaptive round probes (none when blocks is empty).
func (d *Daemon) space(k int64, set string, ps []netip.Prefix, blocks []store.Block) *Space {
	if len(blocks) > 0 {
		ps = OutsideBlocks(ps, blocks)
	}
	sp, err := NewSpace(ps, d.bl)
	if err != nil {
		d.fail(StageSpace, "IPv6 targets skipped", err, "set", set, "round", k)
		return &Space{}
	}
	return sp
}

// sweep sweeps space with meth (a trace: one trace to the first address of
// every /24 of it) and counts what it did.
func (d *Daemon) sweep(ctx context.Context, k int64, set string, meth Method, space *Space) {
	if meth.Name == results.MethodTrace {
		first, err := FirstOfBlocks(space, d.bl)
		if err != nil {
			d.fail(StageSpace, "traces skipped", err, "set", set, "round", k)
			return
		}
		space = first
	}
	cfg := d.cfg
	job := &SweepJob{Method: meth, Space: space, Vantage: cfg.Vantage, Round: k, Cooldown: pick(d.Cooldown, cfg.Probe.Timeout),
		Timeout: cfg.Probe.Timeout, TTL: cfg.Probe.TTL, Contact: cfg.Contact, Permit: d.bl.Check,
		Rate: cfg.Rate.PPS, PerBlock: cfg.Rate.PerBlockPPS, All: true, Parallel: cfg.Probe.Parallel,
		Perm: func() (*Permutation, error) { return NewPermutation(space.Size(), uint64(k)), nil }}
	ss, err := d.Prober.Sweep(ctx, job, d.Emit)
	if err != nil {
		d.fail(StageSweep, "sweep failed", err, "set", set, "method", meth.Name, "round", k)
	}
	d.count(set, meth, ss.Sent, ss.Hits, space.Size())
	if meth.Name != results.MethodTrace {
		d.Metrics.PPS.Set(ss.PPS())
	}
}

// probeHosts probes single addresses with one method through the per-target
// probers, many at once, and returns how many probes went out and how many
// targets answered.
func (d *Daemon) probeHosts(ctx context.Context, k int64, meth Method, hosts []netip.Addr) (sent, hits uint64) {
	cfg := d.cfg
	pc := probe.Config{Vantage: cfg.Vantage, Round: k, Count: 1, Timeout: cfg.Probe.Timeout,
		TTL: cfg.Probe.TTL, Contact: cfg.Contact, Proto: meth.Proto, Permit: d.bl.Check,
		DNS: probe.DNSOptions{NSID: cfg.Probe.NSID}}
	if cfg.Probe.Source != "" {
		pc.Source = netip.MustParseAddr(cfg.Probe.Source)
	}
	p, err := d.Prober.Open(meth.Name, pc)
	if err != nil {
		d.fail(StageProber, meth.Name+" prober not opened: its hosts are not probed this round", err, "method", meth.Name, "round", k)
		return 0, 0
	}
	defer p.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(cfg.Probe.Parallel, 1))
	for _, h := range hosts {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			// The round's own context is not used: a probe already sent is
			// waited for, so SIGTERM never loses its answer.
			recs := p.Probe(context.WithoutCancel(ctx), probe.Target{Addr: h, Port: meth.Port, Qname: meth.Qname, Qtype: meth.Qtype})
			mu.Lock()
			defer mu.Unlock()
			sent += uint64(len(recs))
			answered := false
			for _, r := range recs {
				answered = answered || r.Answered()
				d.Emit(r)
			}
			if answered {
				hits++
			}
		})
	}
	wg.Wait()
	return sent, hits
}

// count adds a set's sweep or probes with meth to the metrics.
func (d *Daemon) count(set string, meth Method, sent, hits, targets uint64) {
	d.Metrics.Sent.WithLabelValues(meth.Name).Add(float64(sent))
	d.Metrics.Replies.WithLabelValues(meth.Name).Add(float64(hits))
	if targets > 0 {
		d.Metrics.HitRate.WithLabelValues(set, meth.Name).Set(float64(hits) / float64(targets))
	}
}
