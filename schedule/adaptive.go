package schedule

import (
	"context"
	"net/netip"
	"sync"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
)

// adaptive is the state of Trinocular probing across rounds: per census
// block, the belief the last round ended with. It is loaded from the store
// when there is one and saved after every round, so a restarted daemon
// continues.
type adaptive struct {
	mu      sync.Mutex
	beliefs map[netip.Prefix]results.Belief
	loaded  bool
}

// adaptiveRound plays one Trinocular round over blocks: per block a periodic
// probe to a random ever-responsive address, more while the belief is
// uncertain (at most results.ProbeBudget), recovery probing with backoff for
// blocks that are down. Every probe is a record given to Emit. It returns the
// blocks probed.
func (d *Daemon) adaptiveRound(ctx context.Context, k int64, blocks []store.Block) int {
	cfg := d.cfg
	d.loadBeliefs(ctx, k)
	icmp, err := d.Prober.Open(results.MethodICMP, probe.Config{Vantage: cfg.Vantage, Round: k, Count: 1,
		Timeout: cfg.Probe.Timeout, TTL: cfg.Probe.TTL, Contact: cfg.Contact, Permit: d.bl.Check})
	if err != nil {
		d.fail(StageBlocks, "adaptive probing skipped", err, "round", k, "blocks", len(blocks))
		return 0
	}
	defer icmp.Close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	saved := make([]store.Belief, 0, len(blocks))
	var savedMu sync.Mutex
	for _, b := range blocks {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			bel := d.playBlock(ctx, icmp, k, b)
			savedMu.Lock()
			saved = append(saved, bel)
			savedMu.Unlock()
		})
	}
	wg.Wait()
	if d.Store != nil && len(saved) > 0 {
		if err := d.Store.PutBelief(context.WithoutCancel(ctx), saved); err != nil {
			d.fail(StageBeliefs, "beliefs not saved: a restart starts these blocks afresh", err, "round", k, "blocks", len(saved))
		}
	}
	return len(blocks)
}

// loadBeliefs loads the beliefs of the blocks from the store, until it once
// succeeds; what this run learnt already is kept.
func (d *Daemon) loadBeliefs(ctx context.Context, k int64) {
	ad := &d.adaptive
	ad.mu.Lock()
	defer ad.mu.Unlock()
	if ad.beliefs == nil {
		ad.beliefs = map[netip.Prefix]results.Belief{}
	}
	if ad.loaded || d.Store == nil {
		return
	}
	bs, err := d.Store.Beliefs(ctx, d.cfg.Vantage)
	if err != nil {
		d.fail(StageBeliefs, "beliefs not loaded: the blocks start afresh this round", err, "round", k)
		return
	}
	for _, b := range bs {
		if _, ok := ad.beliefs[b.Block]; !ok {
			ad.beliefs[b.Block] = results.Belief{BU: b.BU, DownRounds: b.Backoff}
		}
	}
	ad.loaded = true
}

// playBlock plays round k of one block with icmp and returns the belief to
// keep.
func (d *Daemon) playBlock(ctx context.Context, icmp probe.Prober, k int64, b store.Block) store.Belief {
	ad := &d.adaptive
	ad.mu.Lock()
	prior := ad.beliefs[b.Prefix]
	ad.mu.Unlock()
	seq := 0
	// A batch of follow-ups goes out at once: a round costs a few probe
	// timeouts, not one a probe.
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
				d.Emit(r)
				answered[i] = answered[i] || r.Answered()
			}
		}
		return answered
	})
	ad.mu.Lock()
	ad.beliefs[b.Prefix] = res.Belief
	ad.mu.Unlock()
	return store.Belief{Vantage: d.cfg.Vantage, Block: b.Prefix, Round: k, BU: res.Belief.Value(),
		State: res.State, Backoff: res.Belief.DownRounds}
}
