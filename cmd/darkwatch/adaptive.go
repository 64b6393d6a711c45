package main

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
)

// adaptive is the state of Trinocular probing across rounds of `run`: per
// census block, the belief the last round ended with. It is loaded from the
// store when there is one and saved after every round, so a restarted run
// continues.
type adaptive struct {
	mu      sync.Mutex
	beliefs map[netip.Prefix]results.Belief
	loaded  bool
}

// vantageCensus loads this vantage's icmp census blocks from the store, once
// a round: a census taken with another method says nothing of what an ICMP
// probe can expect.
func vantageCensus(ctx context.Context, st store.Store, vantage string) []store.Block {
	if st == nil {
		return nil
	}
	all, err := st.Blocks(ctx)
	if err != nil {
		return nil
	}
	var out []store.Block
	for _, b := range all {
		if b.Vantage == vantage && b.Method == results.MethodICMP && !b.Prefix.IsSingleIP() && len(b.E) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// censusBlocks returns the blocks of census inside ps.
func censusBlocks(census []store.Block, ps []netip.Prefix) []store.Block {
	var out []store.Block
	for _, b := range census {
		if slices.ContainsFunc(ps, b.Prefix.Overlaps) {
			out = append(out, b)
		}
	}
	return out
}

// round plays one Trinocular round over blocks: per block a periodic probe to
// a random ever-responsive address, more while the belief is uncertain (at most
// results.ProbeBudget), recovery probing with backoff for blocks that are down.
// Every probe is a record in sink. It returns the blocks probed.
func (ad *adaptive) round(ctx context.Context, a *app, st store.Store, k int64, blocks []store.Block, sink *lockedWriter) int {
	cfg := a.cfg
	if !ad.loaded && st != nil {
		ad.beliefs = map[netip.Prefix]results.Belief{}
		if bs, err := st.Beliefs(ctx, cfg.Vantage); err == nil {
			for _, b := range bs {
				ad.beliefs[b.Block] = results.Belief{BU: b.BU, DownRounds: b.Backoff}
			}
		}
		ad.loaded = true
	}
	if ad.beliefs == nil {
		ad.beliefs = map[netip.Prefix]results.Belief{}
	}
	icmp, err := probe.NewICMP(probe.Config{Vantage: cfg.Vantage, Round: k, Count: 1, Timeout: cfg.Probe.Timeout,
		TTL: cfg.Probe.TTL, Contact: cfg.Contact, Permit: cfg.BlocklistSet().Check})
	if err != nil {
		a.log.Error("adaptive probing", "err", err)
		return 0
	}
	defer icmp.Close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var saved []store.Belief
	var savedMu sync.Mutex
	for _, b := range blocks {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ad.mu.Lock()
			prior := ad.beliefs[b.Prefix]
			ad.mu.Unlock()
			seq := 0
			// A batch of follow-ups goes out at once: a round costs a
			// few probe timeouts, not one a probe.
			res := results.BlockRound{A: b.A, E: b.E, Prior: prior}.RunBatch(func(addrs []netip.Addr) []bool {
				recs := make([][]results.Record, len(addrs))
				var pw sync.WaitGroup
				for i, addr := range addrs {
					pw.Go(func() { recs[i] = icmp.Probe(context.WithoutCancel(ctx), probe.Target{Addr: addr}) })
				}
				pw.Wait()
				answered := make([]bool, len(addrs))
				for i := range addrs {
					for _, r := range recs[i] {
						seq++
						r.Seq = seq
						sink.write(r)
						answered[i] = answered[i] || r.Answered()
					}
				}
				return answered
			})
			ad.mu.Lock()
			ad.beliefs[b.Prefix] = res.Belief
			ad.mu.Unlock()
			savedMu.Lock()
			saved = append(saved, store.Belief{Vantage: cfg.Vantage, Block: b.Prefix, Round: k, BU: res.Belief.Value(),
				State: res.State, Backoff: res.Belief.DownRounds})
			savedMu.Unlock()
		}()
	}
	wg.Wait()
	if st != nil && len(saved) > 0 {
		if err := st.PutBelief(context.WithoutCancel(ctx), saved); err != nil {
			a.log.Error("saving beliefs", "err", err)
		}
	}
	return len(blocks)
}
