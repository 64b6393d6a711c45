package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/schedule"
)

// runFlags are the flags of `darkwatch run`.
type runFlags struct {
	round    time.Duration
	out      string
	metrics  string
	rounds   int
	cooldown time.Duration
	noAlign  bool
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [--round D] [--out FILE] [flags]",
		Short: "The daemon: a round of probes every --round until SIGTERM",
		Long: `Run probes the configuration's targets in rounds until SIGTERM or SIGINT: every
round sweeps the target sets' prefixes with their methods (icmp, tcp:PORT; trace
every trace_every rounds), probes their known hosts and the canaries with theirs,
and writes one JSON record per probe to the store (--store or store: in the config),
to --out (appended), or to stdout when neither is given.

Rounds are aligned to multiples of the round length since the Unix epoch, so every
vantage point runs round N at the same time and numbers it alike.

SIGTERM or SIGINT stops sending, reads replies for the cooldown, writes every record
taken and exits 0. SIGHUP reloads the configuration file; a bad new configuration is
refused with a message and the old one kept. Prometheus metrics are served on the
address of --metrics (config key metrics).`,
		Example: `  darkwatch run --config /etc/darkwatch/darkwatch.yaml --out /var/lib/darkwatch/records.jsonl
  darkwatch run --config configs/lab.yaml --round 10s --metrics 127.0.0.1:9108`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runDaemon(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.round, "round", 0, "round length (default: config round, 11m)")
	fl.StringVarP(&f.out, "out", "o", "", "append JSON records to `FILE` (default: stdout)")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on `addr` (default: config metrics; \"off\" for none)")
	fl.IntVar(&f.rounds, "rounds", 0, "stop after this many rounds (default: until SIGTERM)")
	fl.DurationVar(&f.cooldown, "cooldown", 0, "read replies this long after a sweep's last probe (default: config probe.timeout)")
	fl.BoolVar(&f.noAlign, "no-align", false, "start the first round now instead of at the next multiple of the round length (a run restarted within the same round slot then reuses its number)")
	return cmd
}

func (a *app) runDaemon(cmd *cobra.Command, f *runFlags) error {
	ctx := cmd.Context()
	if f.round != 0 && f.round < time.Second {
		return usageErr("--round %v: at least 1s", f.round)
	}
	sink := &lockedWriter{}
	closeOut := func() error { return nil }
	var st store.Store
	var fwd *forwarder // the way to the collector (collector.go); nil without one
	if a.cfg.Store != "" {
		var err error
		if st, err = a.openStore(cmd); err != nil {
			return err
		}
		defer st.Close()
		sink.keep = true
		a.log.Info("records go to the store", "store", store.Redact(a.cfg.Store))
	}
	if f.out != "" || st == nil {
		out, closer, err := a.recordSink(f.out)
		if err != nil {
			return err
		}
		closeOut = closer
		defer closeOut()
		sink.w = results.NewWriter(out, true)
		sink.w.Batch = true
	}
	// save writes the round's records: flushed to --out, committed to the store.
	save := func() error {
		if err := sink.flush(); err != nil {
			return fmt.Errorf("writing records: %w", err)
		}
		if st == nil {
			return nil
		}
		recs := sink.take()
		for i := 0; i < len(recs); i += importBatch {
			if _, err := fwd.ingest(context.WithoutCancel(ctx), st, recs[i:min(i+importBatch, len(recs))]); err != nil {
				return fmt.Errorf("storing records: %w", err)
			}
		}
		return nil
	}

	m := newMetrics()
	addr := f.metrics
	if addr == "" {
		addr = a.cfg.Metrics
	}
	if addr == "off" {
		addr = ""
	}
	if bound, err := m.serve(ctx, addr); err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("metrics on %s: %w", addr, err)}
	} else if bound != nil {
		a.log.Info("serving metrics", "addr", "http://"+bound.String()+"/metrics")
	}
	fwd, err := a.startForwarder(ctx, st, m)
	if err != nil {
		return err
	}
	defer fwd.close(a.log)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = os.Getenv("DARKWATCH_CONFIG")
	}

	cfg := a.cfg
	ad := &adaptive{}
	var lastStart time.Time
	for n := 0; f.rounds == 0 || n < f.rounds; n++ {
		rounds := schedule.Rounds{Length: pick(f.round, cfg.Round), Align: !f.noAlign}
		// Aligned rounds start on the round grid; free-running ones the round
		// length after the last (the first at once). Either way a round's
		// number is its slot on the grid, so it is never used twice.
		var start time.Time
		switch {
		case rounds.Align:
			start = rounds.Next(time.Now(), cfg.Vantage)
		case n == 0:
			start = time.Now()
		default:
			start = lastStart.Add(rounds.Length)
			if now := time.Now(); now.After(start) {
				start = now
			}
			if rounds.Number(start) == rounds.Number(lastStart) {
				start = rounds.Start(rounds.Number(lastStart)+1, cfg.Vantage)
			}
		}
		lastStart = start
		if !a.waitUntil(ctx, start, hup, file, m) {
			break
		}
		cfg = a.cfg // a SIGHUP may have replaced it
		k := rounds.Number(start)
		m.round.Set(float64(k))
		a.log.Info("round", "round", k, "vantage", cfg.Vantage)
		began := time.Now()
		a.doRound(ctx, k, pick(f.cooldown, cfg.Probe.Timeout), sink, m, st, ad)
		took := time.Since(began)
		m.roundDuration.Observe(took.Seconds())
		if took > rounds.Length {
			a.log.Warn("round took longer than the round length: the next starts late or is skipped",
				"round", k, "took", took.Round(time.Millisecond), "length", rounds.Length)
		} else {
			a.log.Debug("round done", "round", k, "took", took.Round(time.Millisecond))
		}
		m.rounds.Inc()
		if err := save(); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		if ctx.Err() != nil {
			break
		}
		if st != nil && fwd == nil {
			// A node on its own keeps its store's verdicts and events
			// current: the last two rounds' are (re)computed, with their
			// history. With a collector, the collector does it for all.
			if _, _, err := a.analyze(ctx, st, start.Add(-rounds.Length), time.Now()); err != nil {
				a.log.Warn("verdicts not updated", "err", err)
			}
		}
	}
	if err := save(); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if err := closeOut(); err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("writing records: %w", err)}
	}
	a.log.Info("stopped; every record taken is written")
	return nil
}

// waitUntil sleeps until t, reloading the configuration on SIGHUP. It returns
// false when ctx ends first.
func (a *app) waitUntil(ctx context.Context, t time.Time, hup <-chan os.Signal, file string, m *metrics) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-hup:
			a.reload(file, m)
		}
	}
}

// reload reads the configuration file again; a bad one is refused and the old
// one kept. Flags given on the command line keep their values.
func (a *app) reload(file string, m *metrics) {
	if file == "" {
		a.log.Warn("SIGHUP: no configuration file to reload")
		return
	}
	v := newConfigViper()
	for k, val := range a.flagSet {
		v.Set(k, val)
	}
	cfg, err := loadConfig(v, file)
	if err == nil && len(a.flagAllow) > 0 {
		cfg.Allow = append(cfg.Allow, a.flagAllow...)
		err = cfg.Validate()
	}
	if err != nil {
		m.reloads.WithLabelValues("refused").Inc()
		a.log.Error("SIGHUP: new configuration refused, keeping the old one", "err", err)
		return
	}
	a.cfg = cfg
	m.reloads.WithLabelValues("ok").Inc()
	a.log.Info("SIGHUP: configuration reloaded", "file", file)
}

// doRound probes everything the configuration names once, as round k.
//
// With a census in the store, ICMP probing of the census blocks is adaptive
// (Trinocular): one periodic probe a block, more only while uncertain; the rest
// of the space, and the other methods, are swept.
func (a *app) doRound(ctx context.Context, k int64, cooldown time.Duration, sink *lockedWriter, m *metrics, st store.Store, ad *adaptive) {
	cfg := a.cfg
	count := func(set string, method Method, sent, hits uint64, targets uint64) {
		m.sent.WithLabelValues(method.Name).Add(float64(sent))
		m.replies.WithLabelValues(method.Name).Add(float64(hits))
		if targets > 0 {
			m.hitRate.WithLabelValues(set, method.Name).Set(float64(hits) / float64(targets))
		}
	}
	// The census blocks of every set that probes ICMP this round are probed
	// adaptively in one go, beside the canaries; the sweeps and the hosts
	// follow, set by set.
	var adaptiveBlocks []store.Block
	census := map[string][]store.Block{}
	stored := vantageCensus(ctx, st, cfg.Vantage)
	for _, ts := range cfg.Targets {
		if len(stored) == 0 || !slices.Contains(schedule.MethodMix(ts.Methods, ts.TraceEvery, k), results.MethodICMP) {
			continue
		}
		census[ts.Name] = censusBlocks(stored, cfg.assigned(ts.v4()))
		for _, b := range census[ts.Name] {
			if !slices.ContainsFunc(adaptiveBlocks, func(o store.Block) bool { return o.Prefix == b.Prefix }) {
				adaptiveBlocks = append(adaptiveBlocks, b)
			}
		}
	}
	var beside sync.WaitGroup
	if len(adaptiveBlocks) > 0 {
		beside.Go(func() {
			n := ad.round(ctx, a, st, k, adaptiveBlocks, sink)
			a.log.Debug("adaptive round", "blocks", n)
		})
	}
	beside.Go(func() {
		for _, c := range cfg.Canaries {
			methods := c.Methods
			if len(methods) == 0 {
				methods = []string{"icmp"}
			}
			for _, name := range methods {
				meth, _ := ParseMethod(name)
				a.probeHosts(ctx, k, meth, []netip.Addr{netip.MustParseAddr(c.Addr)}, sink)
			}
		}
	})
	defer beside.Wait()
	for _, ts := range cfg.Targets {
		v4 := cfg.assigned(ts.v4())
		v6 := ts.v6()
		space4, err := schedule.NewSpace(v4, cfg.BlocklistSet())
		if err != nil {
			a.log.Error("target set skipped", "set", ts.Name, "err", err)
			continue
		}
		// Census blocks are probed adaptively for icmp; the sweep covers the rest.
		blocks := census[ts.Name]
		icmpSpace := space4
		if len(blocks) > 0 {
			// Not through the blocklist: allow would let the census
			// blocks back in (the lab allows the whole target space).
			icmpSpace, _ = schedule.NewSpace(outsideBlocks(v4, blocks), cfg.BlocklistSet())
		}
		for _, name := range schedule.MethodMix(ts.Methods, ts.TraceEvery, k) {
			meth, _ := ParseMethod(name)
			if ctx.Err() != nil {
				return
			}
			if meth.Name == results.MethodDNS {
				continue // a question for name servers: configure it on hosts
			}
			space := space4
			if meth.Name == results.MethodICMP && len(blocks) > 0 {
				space = icmpSpace
			}
			if space.Size() > 0 {
				job := &sweepJob{method: meth, space: space, round: k, cooldown: cooldown, all: true,
					rate: cfg.Rate.PPS, perBlock: cfg.Rate.PerBlockPPS,
					parallel: cfg.Probe.Parallel,
					perm: func() (*schedule.Permutation, error) {
						return schedule.NewPermutation(space.Size(), uint64(k)), nil
					}}
				if meth.Name == results.MethodTrace {
					// One trace per /24 block: its first address.
					job.space = firstOfBlocks(space4, cfg.BlocklistSet())
					job.perm = func() (*schedule.Permutation, error) {
						return schedule.NewPermutation(job.space.Size(), uint64(k)), nil
					}
				}
				ss, err := a.sweepSpace(ctx, job, sink, &progress{})
				if err != nil {
					a.log.Error("sweep failed", "set", ts.Name, "method", name, "err", err)
				}
				count(ts.Name, meth, ss.Sent, ss.Hits, job.space.Size())
				if meth.Name != results.MethodTrace {
					m.pps.Set(ss.PPS())
				}
			}
			if len(v6) > 0 {
				space6, err := schedule.NewSpace(v6, cfg.BlocklistSet())
				if err == nil && space6.Size() <= maxProbeTargets {
					var hosts []netip.Addr
					for i := range space6.Size() {
						hosts = append(hosts, space6.Index(i))
					}
					sent, hits := a.probeHosts(ctx, k, meth, hosts, sink)
					count(ts.Name, meth, sent, hits, uint64(len(hosts)))
				}
			}
		}
		for _, h := range ts.Hosts {
			for _, name := range schedule.MethodMix(h.Methods, ts.TraceEvery, k) {
				meth, _ := ParseMethod(name)
				a.probeHosts(ctx, k, meth, []netip.Addr{netip.MustParseAddr(h.Addr)}, sink)
			}
		}
	}
}

// assigned keeps the /24 blocks of ps that rendezvous hashing gives this
// vantage point (all of them when no redundancy is configured).
func (c *Config) assigned(ps []netip.Prefix) []netip.Prefix {
	if c.Redundancy <= 0 || len(c.Vantages) == 0 {
		return ps
	}
	var out []netip.Prefix
	for _, p := range ps {
		if p.Bits() > schedule.BlockBits4 {
			if slices.Contains(schedule.Assign(schedule.BlockOf(p.Addr()), c.Vantages, c.Redundancy), c.Vantage) {
				out = append(out, p)
			}
			continue
		}
		step := uint32(1) << (32 - schedule.BlockBits4)
		a4 := p.Addr().As4()
		first := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8
		for i := uint32(0); i < 1<<(schedule.BlockBits4-p.Bits()); i++ {
			v := first + i*step
			b := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), schedule.BlockBits4)
			if slices.Contains(schedule.Assign(b, c.Vantages, c.Redundancy), c.Vantage) {
				out = append(out, b)
			}
		}
	}
	return out
}

// outsideBlocks returns the parts of ps that lie in none of blocks (census
// blocks, /24s): a prefix holding no block as it is, one holding some split
// into its other /24s, and one inside a block left out.
func outsideBlocks(ps []netip.Prefix, blocks []store.Block) []netip.Prefix {
	in := make(map[netip.Prefix]bool, len(blocks))
	for _, b := range blocks {
		in[b.Prefix.Masked()] = true
	}
	var out []netip.Prefix
	for _, p := range ps {
		if !p.Addr().Is4() {
			out = append(out, p)
			continue
		}
		if p.Bits() >= schedule.BlockBits4 {
			if !in[schedule.BlockOf(p.Addr())] {
				out = append(out, p)
			}
			continue
		}
		holds := false
		for b := range in {
			if p.Contains(b.Addr()) {
				holds = true
				break
			}
		}
		if !holds {
			out = append(out, p)
			continue
		}
		a4 := p.Masked().Addr().As4()
		first := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8
		for i := uint32(0); i < 1<<(schedule.BlockBits4-p.Bits()); i++ {
			v := first + i<<(32-schedule.BlockBits4)
			b := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), schedule.BlockBits4)
			if !in[b] {
				out = append(out, b)
			}
		}
	}
	return out
}

// firstOfBlocks is the space of the first probe-able address of every /24 of s.
func firstOfBlocks(s *schedule.Space, bl *schedule.Blocklist) *schedule.Space {
	var ps []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for i := uint64(0); i < s.Size(); i++ {
		ad := s.Index(i)
		b := schedule.BlockOf(ad)
		if !seen[b] {
			seen[b] = true
			ps = append(ps, netip.PrefixFrom(ad, ad.BitLen()))
		}
	}
	out, _ := schedule.NewSpace(ps, bl)
	return out
}

// probeHosts probes single addresses with one method through the per-target
// probers and returns how many probes went out and how many targets answered.
func (a *app) probeHosts(ctx context.Context, k int64, meth Method, hosts []netip.Addr, sink *lockedWriter) (sent, hits uint64) {
	cfg := a.cfg
	bl := cfg.BlocklistSet()
	pc := probe.Config{Vantage: cfg.Vantage, Round: k, Count: 1, Timeout: cfg.Probe.Timeout,
		TTL: cfg.Probe.TTL, Contact: cfg.Contact, Proto: meth.Proto, Permit: bl.Check}
	if cfg.Probe.Source != "" {
		pc.Source = netip.MustParseAddr(cfg.Probe.Source)
	}
	p, err := probe.Methods[meth.Name](pc)
	if err != nil {
		a.log.Error("prober", "method", meth.Name, "err", err)
		return 0, 0
	}
	defer p.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Probe.Parallel)
	for _, h := range hosts {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// The round's own context is not used: a probe already sent is
			// waited for, so SIGTERM never loses its answer.
			recs := p.Probe(context.WithoutCancel(ctx), probe.Target{Addr: h, Port: meth.Port, Qname: meth.Qname, Qtype: meth.Qtype})
			mu.Lock()
			defer mu.Unlock()
			sent += uint64(len(recs))
			if anyAnswered(recs) {
				hits++
			}
			for _, r := range recs {
				sink.write(r)
			}
		}()
	}
	wg.Wait()
	return sent, hits
}
