package schedule

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"text/tabwriter"
	"time"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
)

// Census sweeps the configured IPv4 prefixes, the hitlists' addresses (and
// known hosts) assigned to this vantage point Passes times with one method
// and stores, per block (an IPv4 /24, an IPv6 /48 or as ipv6_block_bits
// says), the ever-responsive addresses E(b) and their availability A, merged with
// the earlier censuses of the same method: each method has a census of its
// own, named as configured ("icmp", "tcp:80").
type Census struct {
	Prober Prober
	Store  Store
	Method Method
	// Passes is how many sweeps A is measured over.
	Passes   int
	Cooldown time.Duration
	// OnPass, when set, is told after every pass how many of the space's
	// addresses answered.
	OnPass func(pass int, stats probe.SweepStats, size uint64)
}

// censusName is how the census of m is named in the store: "icmp" or
// "tcp:PORT".
func (m Method) censusName() string {
	if m.Name == results.MethodTCP {
		return fmt.Sprintf("%s:%d", m.Name, m.Port)
	}
	return m.Name
}

// Run takes the census with cfg and returns the blocks it stored for this
// vantage point. A census cut short by ctx is not stored: its error wraps
// ErrInterrupted. Nothing to census is a *ConfigError.
//
// Named target sets are resolved from the store first.
func (c *Census) Run(ctx context.Context, cfg *Config) ([]store.Block, error) {
	bl, err := cfg.BlocklistSet()
	if err != nil {
		return nil, err
	}
	if cfg.Named() {
		var src EntitySource
		if c.Store != nil {
			src = c.Store
		}
		r, err := Resolve(ctx, src, cfg, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("census: %w", err)
		}
		cfg = r.Apply(cfg)
	}
	ps, hosts, err := censusTargets(cfg)
	if err != nil {
		return nil, err
	}
	space, err := NewSpace(cfg.Assigned(ps), bl)
	if err != nil {
		return nil, &ConfigError{Key: "targets", Msg: err.Error()}
	}
	if space.Size() == 0 {
		return nil, &ConfigError{Key: "targets", Msg: "nothing to census: no IPv4 target prefix or hitlist in the configuration (or all blocklisted)"}
	}
	var mu sync.Mutex
	var recs []results.Record
	emit := func(r results.Record) { mu.Lock(); recs = append(recs, r); mu.Unlock() }
	round := time.Now().Unix() / int64(cfg.Round/time.Second)
	for pass := range c.Passes {
		job := &SweepJob{Method: c.Method, Space: space, Vantage: cfg.Vantage, Round: round, Cooldown: c.Cooldown,
			Timeout: cfg.Probe.Timeout, TTL: cfg.Probe.TTL, Contact: cfg.Contact, Permit: bl.Check,
			Rate: cfg.Rate.PPS, PerBlock: cfg.Rate.PerBlockPPS, All: true,
			Perm: func() (*Permutation, error) { return NewPermutation(space.Size(), uint64(time.Now().UnixNano())), nil }}
		s, err := c.Prober.Sweep(ctx, job, emit)
		if err != nil {
			return nil, err
		}
		if c.OnPass != nil {
			c.OnPass(pass, s, space.Size())
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: census not stored", ErrInterrupted)
		}
	}
	return c.store(ctx, cfg.Vantage, results.CensusIn(recs, hosts, cfg.IPv6Blocks()))
}

// censusTargets gives the configuration's IPv4 prefixes and its hitlists'
// addresses (as /32s and /128s), its IPv4 known hosts among them as /32s,
// and those hosts. The error, a *ConfigError, is a hitlist's that cannot be
// read.
func censusTargets(cfg *Config) (ps []netip.Prefix, hosts []netip.Addr, err error) {
	for i, ts := range cfg.Targets {
		ps = append(ps, ts.IPv4()...)
		addrs, err := ts.HitlistAddrs()
		if err != nil {
			return nil, nil, bad(fmt.Sprintf("targets[%d].hitlist", i), "%v", err)
		}
		for _, a := range addrs {
			ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
		}
		for _, h := range ts.Hosts {
			if ad := netip.MustParseAddr(h.Addr); ad.Is4() {
				hosts = append(hosts, ad)
				ps = append(ps, netip.PrefixFrom(ad, 32))
			}
		}
	}
	return ps, hosts, nil
}

// store merges cur with the earlier censuses of the method and stores the
// blocks of vantage.
func (c *Census) store(ctx context.Context, vantage string, cur []results.BlockStat) ([]store.Block, error) {
	method := c.Method.censusName()
	for i := range cur {
		cur[i].Method = method
	}
	old, err := c.Store.Blocks(ctx)
	if err != nil {
		return nil, err
	}
	// Merged only with the earlier censuses of this method.
	var prev []results.BlockStat
	count := map[[2]string]int{}
	for _, b := range old {
		if b.Method != method {
			continue
		}
		prev = append(prev, results.BlockStat{Vantage: b.Vantage, Method: b.Method, Block: b.Prefix, E: b.E, A: b.A, Sparse: b.Sparse, Host: b.Prefix.IsSingleIP()})
		count[[2]string{b.Vantage, b.Prefix.String()}] = b.Censuses
	}
	merged := results.MergeCensus(prev, cur, results.DefaultCensusWindow)
	now := time.Now().UTC()
	var out []store.Block
	for _, b := range merged {
		if b.Vantage != vantage {
			continue
		}
		out = append(out, store.Block{Prefix: b.Block, Vantage: b.Vantage, Method: method, E: b.E, A: b.A, Sparse: b.Sparse,
			Censuses: count[[2]string{b.Vantage, b.Block.String()}] + 1, Updated: now})
	}
	if err := c.Store.PutBlocks(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// WriteCensus prints census blocks on w as a table with a header: block,
// vantage, method, |E|, A, whether sparse, and how many censuses.
func WriteCensus(w io.Writer, blocks []store.Block) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BLOCK\tVANTAGE\tMETHOD\t|E|\tA\tSPARSE\tCENSUSES")
	for _, b := range blocks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%v\t%d\n", b.Prefix, b.Vantage, b.Method, len(b.E), b.A, b.Sparse, b.Censuses)
	}
	return tw.Flush()
}
