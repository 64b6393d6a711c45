package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"darkwatch/config"
	"darkwatch/internal/cli"
	"darkwatch/results/recfile"
	"darkwatch/results/store"
	"darkwatch/results/transport"
	"darkwatch/schedule"
)

// runFlags are the flags of `darkwatch run`: most set the Daemon straight
// away.
type runFlags struct {
	d            schedule.Daemon
	out, metrics string
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:     "run [--round D] [--out FILE] [flags]",
		Short:   "The daemon: a round of probes every --round until SIGTERM",
		Long:    help("run"),
		Example: help("run.example"),
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.runDaemon(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.d.Length, "round", 0, "round length (default: config round, 11m)")
	fl.StringVarP(&f.out, "out", "o", "", "append JSON records to `FILE` (default: stdout)")
	fl.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on `addr` (default: config metrics; \"off\" for none)")
	fl.IntVar(&f.d.Rounds, "rounds", 0, "stop after this many rounds (default: until SIGTERM)")
	fl.DurationVar(&f.d.Cooldown, "cooldown", 0, "read replies this long after a sweep's last probe (default: config probe.timeout)")
	fl.BoolVar(&f.d.NoAlign, "no-align", false, "start the first round now instead of at the next multiple of the round length (a run restarted within the same round slot then reuses its number)")
	return cmd
}

// runDaemon turns run's flags and the configuration into a schedule.Daemon
// with its outputs (the store, --out, the collector, /metrics) and runs it.
func (a *app) runDaemon(cmd *cobra.Command, f *runFlags) error {
	ctx, d := cmd.Context(), &f.d
	if d.Length != 0 && d.Length < time.Second {
		return cli.Usagef("--round %v: at least 1s", d.Length)
	}
	out, err := a.openRunOutput(cmd, f.out)
	if err != nil {
		return err
	}
	defer out.close()
	if out.st != nil {
		defer a.expire(ctx, out.st)()
	}
	m := schedule.NewMetrics()
	reg := m.Registry()
	if err := a.serveMetrics(ctx, reg, f.metrics); err != nil {
		return err
	}
	fwd, err := a.startForwarder(ctx, out.st, reg)
	if err != nil {
		return err
	}
	if fwd != nil {
		// Records go into the store and the collector's queue together.
		out.to = fwd
		defer fwd.Close()
	}
	d.Prober, d.Emit, d.Commit = schedule.NetProber{}, out.sink.Write, out.save
	if out.st != nil {
		d.Store = out.st
	}
	d.Reload, d.Log, d.Metrics = a.reloader(cmd), a.log, m
	if out.st != nil && fwd == nil {
		// A node on its own keeps its store's verdicts and events current:
		// the last two rounds' are (re)computed, with their history. With a
		// collector, the collector does it for all.
		d.AfterRound = func(ctx context.Context, since, until time.Time) error {
			_, _, err := a.analyze(ctx, out.st, since, until)
			return err
		}
	}
	if err := d.Run(ctx, &a.cfg.Config); err != nil {
		return err
	}
	if err := out.closeFile(); err != nil {
		return cli.Exit(cli.Failure, fmt.Errorf("writing records: %w", err))
	}
	a.log.Info("stopped; every record taken is written")
	return nil
}

// runOutput is where run's records go: the store (and through it the
// collector), --out or stdout.
type runOutput struct {
	sink      *recfile.Sink
	st        *store.Store
	to        recfile.Ingester // st, or the forwarder to the collector; nil without a store
	closeFile func() error
}

// openRunOutput opens the store of the configuration, if any, and --out (or
// stdout when there is no store).
func (a *app) openRunOutput(cmd *cobra.Command, path string) (*runOutput, error) {
	o := &runOutput{sink: &recfile.Sink{}, closeFile: func() error { return nil }}
	if a.cfg.Store != "" {
		st, err := a.openStore(cmd)
		if err != nil {
			return nil, err
		}
		o.st, o.to = st, st
		o.sink.Keep = true
		a.log.Info("records go to the store", "store", store.Redact(a.cfg.Store))
	}
	if path != "" || o.st == nil {
		w, closer, err := a.recordSink(path, true)
		if err != nil {
			o.close()
			return nil, err
		}
		o.sink.W, o.closeFile = w, closer
	}
	return o, nil
}

// save writes the records taken so far: flushed to --out, committed to the
// store.
func (o *runOutput) save(ctx context.Context) error { return o.sink.Save(ctx, o.to, recfile.Batch) }

// close closes the file (a second close is harmless) and the store.
func (o *runOutput) close() {
	_ = o.closeFile()
	if o.st != nil {
		o.st.Close()
	}
}

// startForwarder starts sending st's records to the configured collector
// (results/transport's Forwarder), if any, and registers the node's metrics
// in reg; nil without a collector.
func (a *app) startForwarder(ctx context.Context, st *store.Store, reg *prometheus.Registry) (*transport.Forwarder, error) {
	c := a.cfg.Collector
	if c.URL == "" {
		return nil, nil
	}
	if st == nil {
		return nil, &config.Error{Key: "store", Msg: "a node that sends to a collector needs a local store"}
	}
	f, err := transport.StartForwarder(ctx, c, a.cfg.Vantage, version, st, a.log)
	if err != nil {
		return nil, config.InSection("collector", err)
	}
	reg.MustRegister(f.Metrics()...)
	return f, nil
}

// serveMetrics serves /metrics on --metrics, else the configuration's
// metrics address ("off": none).
func (a *app) serveMetrics(ctx context.Context, reg *prometheus.Registry, flag string) error {
	addr := a.cfg.MetricsAddr(flag)
	bound, err := schedule.ServeMetrics(ctx, reg, addr)
	if err != nil {
		return cli.Exit(cli.Failure, fmt.Errorf("metrics on %s: %w", addr, err))
	}
	if bound != nil {
		a.log.Info("serving metrics", "addr", "http://"+bound.String()+"/metrics")
	}
	return nil
}

// reloader reads the configuration file again for a SIGHUP, keeping what
// the command line set; nil when there is no file. A configuration it
// returns is in force for the rest of the command too; one that changes what
// the daemon keeps from its start (config.FixedAtStart) is refused.
func (a *app) reloader(cmd *cobra.Command) func() (*schedule.Config, error) {
	file := configFile(cmd)
	if file == "" {
		return nil
	}
	return func() (*schedule.Config, error) {
		cfg, err := a.cfg.Reload(file, a.flagSet, a.flagAllow)
		if err != nil {
			return nil, err
		}
		a.cfg = cfg
		return &cfg.Config, nil
	}
}
