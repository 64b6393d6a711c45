package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"darkwatch/results"
)

// Daemon plays rounds of probes until its context ends, SIGTERM or SIGINT
// arrives, or Rounds rounds are done; SIGHUP reloads its configuration. A
// round probes every target set's prefixes with their methods (the census
// blocks of ICMP adaptively, see BlockRound), their known hosts and the
// canaries, and gives every record to Emit; Commit makes them durable after
// every round and once more at the end, so a shutdown loses no record that
// was taken: probes already sent are waited for, sweeps read replies for
// their cooldown.
type Daemon struct {
	// Prober sends the probes.
	Prober Prober
	// Store holds the census blocks and the blocks' beliefs; nil: no
	// adaptive probing, every prefix is swept.
	Store Store
	// Emit takes every record, from many goroutines at once.
	Emit func(results.Record)
	// Commit makes the records emitted so far durable. Its error stops the
	// daemon: records that cannot be kept must not be taken.
	Commit func(ctx context.Context) error
	// AfterRound, when set, runs after a round is committed (the verdicts of
	// a node on its own); its error is logged and counted.
	AfterRound func(ctx context.Context, since, until time.Time) error
	// Reload reads the configuration again on SIGHUP; nil: there is nothing
	// to reload. A refused configuration leaves the old one in force.
	Reload func() (*Config, error)
	// Log and Metrics may be nil: nothing is logged, or counted where no one
	// reads.
	Log     *slog.Logger
	Metrics *Metrics
	// Length is the round length; 0: the configuration's round.
	Length time.Duration
	// Cooldown is how long sweeps read replies after their last probe; 0:
	// the configuration's probe timeout.
	Cooldown time.Duration
	// Rounds stops the daemon after so many rounds; 0: never.
	Rounds int
	// NoAlign starts the first round at once instead of on the round grid.
	NoAlign bool

	cfg      *Config
	bl       *Blocklist
	adaptive adaptive
	// resolver resolves the named target sets at every round; resolved is
	// its last resolution.
	resolver Resolver
	resolved *Resolution
	// k and start are the number and start of the round being played;
	// failures are what failed since the last were saved.
	k        int64
	start    time.Time
	mu       sync.Mutex
	failures []results.Failure
}

// ErrInterrupted is wrapped by the error of work that a signal or the end
// of its context cut short before it was complete.
var ErrInterrupted = errors.New("interrupted")

// Run plays rounds with cfg (a valid Config) until it is stopped, then
// commits what it took. Its error is a *ConfigError for a bad cfg, else
// Commit's.
func (d *Daemon) Run(ctx context.Context, cfg *Config) error {
	if err := d.setup(cfg); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var last time.Time
	for n := 0; d.Rounds == 0 || n < d.Rounds; n++ {
		rounds := Rounds{Length: pick(d.Length, d.cfg.Round), Align: !d.NoAlign}
		start := d.nextStart(rounds, n, last)
		last = start
		if !d.waitUntil(ctx, start, hup) {
			break
		}
		if err := d.play(ctx, rounds, start); err != nil {
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return d.commit(ctx)
}

// setup checks cfg and fills what the caller left out.
func (d *Daemon) setup(cfg *Config) error {
	if d.Length != 0 && d.Length < time.Second {
		return &ConfigError{Key: "round", Msg: fmt.Sprintf("%v: at least 1s", d.Length)}
	}
	bl, err := cfg.BlocklistSet()
	if err != nil {
		return err
	}
	d.cfg, d.bl = cfg, bl
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	if d.Emit == nil {
		d.Emit = func(results.Record) {}
	}
	return nil
}

// nextStart is when round n starts: aligned rounds on the round grid;
// free-running ones the round length after the last (the first at once).
// Either way a round's number is its slot on the grid, so it is never used
// twice.
func (d *Daemon) nextStart(rounds Rounds, n int, last time.Time) time.Time {
	switch {
	case rounds.Align:
		return rounds.Next(time.Now(), d.cfg.Vantage)
	case n == 0:
		return time.Now()
	}
	start := last.Add(rounds.Length)
	if now := time.Now(); now.After(start) {
		start = now
	}
	if rounds.Number(start) == rounds.Number(last) {
		start = rounds.Start(rounds.Number(last)+1, d.cfg.Vantage)
	}
	return start
}

// play plays the round that starts at start, commits it and runs AfterRound.
func (d *Daemon) play(ctx context.Context, rounds Rounds, start time.Time) error {
	k := rounds.Number(start)
	d.k, d.start = k, start
	d.Metrics.Round.Set(float64(k))
	d.Log.Info("round", "round", k, "vantage", d.cfg.Vantage)
	began := time.Now()
	d.round(ctx, k)
	took := time.Since(began)
	d.Metrics.RoundDuration.Observe(took.Seconds())
	if took > rounds.Length {
		d.Log.Warn("round took longer than the round length: the next starts late or is skipped",
			"round", k, "vantage", d.cfg.Vantage, "took", took.Round(time.Millisecond), "length", rounds.Length)
	} else {
		d.Log.Debug("round done", "round", k, "took", took.Round(time.Millisecond))
	}
	d.Metrics.Rounds.Inc()
	if err := d.commit(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil || d.AfterRound == nil {
		return nil
	}
	if err := d.AfterRound(ctx, start.Add(-rounds.Length), time.Now()); err != nil {
		d.fail(StageAnalysis, "verdicts not updated", err, "round", k)
	}
	return nil
}

// commit saves the failures of the round in the store and runs Commit,
// even when ctx has ended.
func (d *Daemon) commit(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	d.mu.Lock()
	fs := d.failures
	d.failures = nil
	d.mu.Unlock()
	if d.Store != nil && len(fs) > 0 {
		if err := d.Store.PutFailures(ctx, fs); err != nil {
			d.Metrics.Errors.WithLabelValues(StageFailures).Inc()
			d.Log.Error("failures of the round not stored", "vantage", d.cfg.Vantage, "err", err)
		}
	}
	if d.Commit == nil {
		return nil
	}
	return d.Commit(ctx)
}

// waitUntil sleeps until t, reloading the configuration on SIGHUP. It returns
// false when ctx ends first.
func (d *Daemon) waitUntil(ctx context.Context, t time.Time, hup <-chan os.Signal) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-hup:
			d.reload()
		}
	}
}

// reload puts a new configuration in force; a bad one is refused and the old
// one kept.
func (d *Daemon) reload() {
	if d.Reload == nil {
		d.Log.Warn("SIGHUP: no configuration file to reload")
		return
	}
	cfg, err := d.Reload()
	var bl *Blocklist
	if err == nil {
		bl, err = cfg.BlocklistSet()
	}
	if err != nil {
		d.Metrics.Reloads.WithLabelValues("refused").Inc()
		d.Log.Error("SIGHUP: new configuration refused, keeping the old one", "vantage", d.cfg.Vantage, "err", err)
		return
	}
	d.cfg, d.bl = cfg, bl
	d.Metrics.Reloads.WithLabelValues("ok").Inc()
	d.Log.Info("SIGHUP: configuration reloaded", "vantage", cfg.Vantage)
}

// fail logs and counts a failure of stage that the round goes on without,
// and keeps it for the store (results.Failure), where `verdict --level
// vantage` shows it.
func (d *Daemon) fail(stage, msg string, err error, attrs ...any) {
	d.Metrics.Errors.WithLabelValues(stage).Inc()
	d.Log.Error(msg, append([]any{"stage", stage, "vantage", d.cfg.Vantage, "err", err}, attrs...)...)
	f := results.Failure{Vantage: d.cfg.Vantage, Round: d.k, Time: d.start, Stage: stage, Message: fmt.Sprintf("%s: %v", msg, err)}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A round keeps one failure a stage, which says all that went wrong in it.
	i := slices.IndexFunc(d.failures, func(o results.Failure) bool { return o.Round == f.Round && o.Stage == stage })
	if i < 0 {
		d.failures = append(d.failures, f)
	} else if !strings.Contains(d.failures[i].Message, f.Message) {
		d.failures[i].Message += "; " + f.Message
	}
}

// pick returns v unless it is zero, else def.
func pick[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
