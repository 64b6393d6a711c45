package main

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/recfile"
	"darkwatch/schedule"
)

// sweepFlags are the flags of `darkwatch sweep`: most set the SweepJob
// straight away, over the configuration's defaults.
type sweepFlags struct {
	job                       schedule.SweepJob
	shard                     schedule.Shard
	targets                   []string
	method, out, lock, source string
}

func (a *app) sweepCommand() *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:     "sweep [--targets CIDR,...] [--method icmp|tcp:PORT|trace] [flags]",
		Short:   "One round over whole address spaces, for cron: stateless, rate-capped, sharded",
		Long:    help("sweep"),
		Example: help("sweep.example"),
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.runSweep(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.targets, "targets", "t", nil, "target `CIDR`s, addresses or @FILE, comma-separated (default: the config's targets)")
	fl.StringVarP(&f.method, "method", "M", "icmp", "probe method: icmp, tcp:PORT or trace[:icmp|udp|tcp]")
	fl.IntVarP(&f.job.Rate, "rate", "r", -1, "packets per second, 0 = as fast as the machine allows (default: config rate.pps)")
	fl.IntVar(&f.job.PerBlock, "per-block-rate", -1, "packets per second to any one /24 (default: config rate.per_block_pps; 0 = no cap)")
	fl.DurationVar(&f.job.Cooldown, "cooldown", 2*time.Second, "how long to keep reading replies after the last probe")
	fl.Uint64Var(&f.shard.Count, "shards", 1, "split the sweep into this many disjoint shards (with --shard and the same --seed on every machine)")
	fl.Uint64Var(&f.shard.Index, "shard", 0, "which shard this run takes, 0 .. shards-1")
	fl.Uint64Var(&f.shard.Seed, "seed", 0, "seed of the random order (default: random; give the same on every shard)")
	fl.IntVar(&f.job.Retries, "retries", 0, "extra passes over the targets (replies beyond the first are counted as duplicates)")
	fl.StringVarP(&f.out, "out", "o", "", "append JSON records to `FILE` (default: stdout with --json)")
	fl.StringVar(&f.lock, "lock", "", "lock `file` that keeps two sweeps from overlapping (default: per vantage, in the runtime dir)")
	fl.BoolVar(&f.job.All, "all", false, "also write a timeout record for every target that did not answer")
	fl.Int64Var(&f.job.Round, "round", -1, "round number in the records (default: Unix time / config round length)")
	fl.StringVarP(&f.source, "source", "S", "", "source `address` (default: the kernel's choice)")
	fl.IntVarP(&f.job.Parallel, "parallel", "P", schedule.DefaultTraceParallel, "traces in flight at once (trace)")
	return cmd
}

// runSweep sweeps, under the lock, the shard of the space that the flags
// and the configuration name, writing the records as they come.
func (a *app) runSweep(cmd *cobra.Command, f *sweepFlags) error {
	ctx, c, job := cmd.Context(), a.cfg, &f.job
	m, err := schedule.ParseMethod(f.method)
	if err != nil {
		return cli.Usagef("--method: %v", err)
	}
	job.Method = m
	if job.Source, err = schedule.ParseSource(f.source); err != nil {
		return cli.Usagef("--source: %v", err)
	}
	space, err := a.sweepSpaceOf(cmd, f.targets)
	if err != nil {
		return err
	}
	if err := job.Prepare(&c.Config, space, f.shard); err != nil {
		return cli.Usagef("%v", err)
	}
	job.Permit = a.bl.Check
	lk, err := schedule.AcquireLock(cmp.Or(f.lock, schedule.DefaultLockPath(c.Vantage)))
	if err != nil {
		return cli.Exit(cli.Failure, err)
	}
	defer lk.Release()
	rw, closeOut, err := a.recordSink(f.out, a.json || f.out != "")
	if err != nil {
		return err
	}
	sink := &recfile.Sink{W: rw}
	targets := space.Size() / f.shard.Count
	prog := schedule.NewProgressBar(os.Stderr, targets*uint64(1+job.Retries))
	st, err := schedule.Sweep(ctx, job, sink.Write, prog)
	prog.Done()
	if err != nil {
		sink.Flush()
		closeOut()
		return cli.Exit(cli.Failure, err)
	}
	werr := sink.Flush()
	cerr := closeOut()
	fmt.Fprint(os.Stderr, schedule.SweepSummary(job.Method, targets, st))
	if werr != nil || cerr != nil {
		return cli.Exit(cli.Failure, fmt.Errorf("writing records: %v", errors.Join(werr, cerr)))
	}
	if ctx.Err() != nil {
		return cli.Exit(cli.Some, errors.New("interrupted: sending stopped early; every reply taken was written"))
	}
	if st.Hits < targets {
		return cli.Exit(cli.Some, nil)
	}
	return nil
}

// sweepSpaceOf is the space of --targets (or of the configuration) less
// the blocklist, saying on stderr how much the blocklist took.
func (a *app) sweepSpaceOf(cmd *cobra.Command, specs []string) (*schedule.Space, error) {
	prefixes, err := a.sweepTargets(cmd, specs)
	if err != nil {
		return nil, err
	}
	space, err := schedule.NewSpace(prefixes, a.bl)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	if space.Size() == 0 {
		return nil, cli.Usagef("no target left to sweep: %d addresses given, all blocklisted (see --allow)", space.Blocked())
	}
	if space.Blocked() > 0 {
		fmt.Fprintf(os.Stderr, "sweep: %d of the %d addresses given are on the blocklist and are not probed (see --allow, blocklist:)\n",
			space.Blocked(), space.Blocked()+space.Size())
	}
	return space, nil
}

// sweepTargets gives the prefixes of --targets, or else of the configuration
// (its named target sets resolved from the store).
func (a *app) sweepTargets(cmd *cobra.Command, specs []string) ([]netip.Prefix, error) {
	if len(specs) > 0 {
		ps, err := schedule.ParseTargets(specs)
		if err != nil {
			return nil, cli.Usagef("--targets: %v", err)
		}
		return ps, nil
	}
	ps, err := a.cfg.TargetPrefixes()
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	if a.cfg.Named() {
		st, err := a.openStore(cmd)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		cfg, err := a.resolved(cmd.Context(), st, time.Time{})
		if err != nil {
			return nil, err
		}
		if ps, err = cfg.TargetPrefixes(); err != nil {
			return nil, cli.Usagef("%v", err)
		}
	}
	if len(ps) == 0 {
		return nil, cli.Usagef("nothing to sweep: give --targets CIDR,... or target sets in --config")
	}
	return ps, nil
}

// recordSink opens where records go, --out FILE (appended to) or stdout, and
// a batching writer of them, JSON Lines or a table.
func (a *app) recordSink(path string, json bool) (*results.Writer, func() error, error) {
	w, closeOut, err := recfile.OpenOut(path, a.stdout, os.Stderr)
	if err != nil {
		return nil, nil, cli.Usagef("--out: %v", err)
	}
	rw := results.NewWriter(w, json)
	rw.Batch = true
	return rw, closeOut, nil
}
