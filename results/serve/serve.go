// Package serve holds the collector of a deployment of several vantage
// points as a library: it takes the nodes' records over NATS into the store
// (results/transport), keeps verdicts and events current, runs the passive
// BGP collector when asked (results/bgp/live), and serves the dashboard and
// API (results/dashboard) behind bearer tokens, with /metrics and /healthz.
// It owns the serve: section of the configuration (Config).
//
// It knows nothing of flags, configuration files, exit statuses or how
// verdicts are reached: the caller hands it typed values, the store, and
// the function that recomputes the analysis.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"darkwatch/results/alert"
	"darkwatch/results/bgp/live"
	"darkwatch/results/dashboard"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// maxRequestBytes caps a request's headers; the API takes no body.
const maxRequestBytes = 16 << 10

// Options are what Run serves with.
type Options struct {
	Config Config
	// HTTPListen and NATSListen are the addresses to listen on (see
	// Config.HTTPAddr and transport.ServeNATS.ListenAddr).
	HTTPListen, NATSListen string
	// Round is the rounds' length, the default refresh.
	Round time.Duration
	// Store takes the records and routes and feeds the dashboard;
	// StoreName names it in the log.
	Store     *store.Store
	StoreName string
	// Targets and Vantages are the configured ones, for the dashboard.
	Targets  []dashboard.Target
	Vantages []string
	// BGP, when set, is the passive route collector to run.
	BGP *live.Config
	// Alerts, when set, sends the events to Alertmanagers and webhooks
	// (results/alert) after each refresh; Run adds the log.
	Alerts *alert.Options
	// Analyze recomputes and stores the verdicts and events of the rounds
	// from since to now.
	Analyze func(ctx context.Context, since time.Time) error
	Log     *slog.Logger
}

// ErrHTTP wraps the error of an HTTP server that stopped by itself.
var ErrHTTP = errors.New("http")

// Run is the collector until ctx ends: then it stores what was taken and
// returns nil. Bad secrets are *ConfigError naming their key (those of the
// alerts: section *alert.ConfigError).
func Run(ctx context.Context, o Options) error {
	tokens, err := ReadTokens(o.Config.Tokens)
	if err != nil {
		return err
	}
	alerts, err := o.notifier()
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		o.Log.Warn("serve.tokens is empty: the API and the dashboard's data are refused to everyone")
	}
	nc, shutdown, err := transport.ConnectCollector(o.Config.NATS, o.NATSListen, o.Log.With("part", "nats"))
	if err != nil {
		return within("nats", err)
	}
	defer shutdown()
	board := &vantageBoard{hb: map[string]transport.Heartbeat{}, configured: o.Vantages}
	n := o.Config.NATS
	col, err := transport.NewCollector(ctx, nc, transport.CollectorConfig{Store: o.Store, Replicas: n.Replicas,
		MaxBytes: n.MaxBytes, MaxAge: n.MaxAge, OnHeartbeat: board.heartbeat, Log: o.Log.With("part", "collector")})
	if err != nil {
		return err
	}
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(ctx) }()
	bgpDone := o.collectRoutes(ctx)
	alertsDone := make(chan struct{})
	go func() {
		defer close(alertsDone)
		if alerts != nil {
			alerts.Run(ctx)
		}
	}()
	refreshDone := o.refresh(ctx, col, alerts)

	srv := o.httpServer(col, nc, board, tokens, alerts)
	ln, err := net.Listen("tcp", o.HTTPListen)
	if err != nil {
		return fmt.Errorf("serve.listen %s: %w", o.HTTPListen, err)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	o.Log.Info("serving", "http", "http://"+ln.Addr().String()+"/", "store", o.StoreName)

	select {
	case <-ctx.Done():
	case err := <-httpDone:
		return fmt.Errorf("%w: %w", ErrHTTP, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-colDone; err != nil {
		o.Log.Warn("collector", "err", err)
	}
	<-refreshDone
	<-alertsDone
	<-bgpDone
	o.Log.Info("stopped; every record taken is stored")
	return nil
}

// collectRoutes runs the BGP collector, if any, until ctx ends; the
// channel closes when it has stopped. Its failure does not stop serve.
func (o *Options) collectRoutes(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if o.BGP == nil {
		close(done)
		return done
	}
	log := o.Log.With("part", "bgp")
	cc := *o.BGP
	cc.Logger = log
	go func() {
		defer close(done)
		if err := live.Collect(ctx, o.Store, cc, nil, log); err != nil {
			log.Error("the BGP collector stopped; records are still taken", "err", err)
		}
	}()
	return done
}

// notifier is the alerts' notifier, nil when there are none.
func (o *Options) notifier() (*alert.Notifier, error) {
	if o.Alerts == nil {
		return nil, nil
	}
	ao := *o.Alerts
	ao.Log = o.Log.With("part", "alerts")
	return alert.New(ao)
}

// refresh keeps verdicts and events current until ctx ends: the whole
// window at start, then every refresh from the oldest record stored since
// the last one (a node that was away sends late), at least two refreshes
// back, at most the window. After each, alerts (when not nil) learns the
// events. The channel closes when it has stopped.
func (o *Options) refresh(ctx context.Context, col *transport.Collector, alerts *alert.Notifier) <-chan struct{} {
	done := make(chan struct{})
	window, every := o.Config.AnalysisWindow(), o.Config.RefreshEvery(o.Round)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		since := time.Now().Add(-window)
		for {
			if err := o.Analyze(ctx, since); err != nil {
				o.Log.Warn("refreshing verdicts and events", "err", err)
			} else if alerts != nil {
				if err := alerts.Refresh(ctx, o.Store); err != nil {
					o.Log.Warn("alerts not refreshed", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			since = now.Add(-2 * every)
			if oldest := col.TakeOldest(); !oldest.IsZero() && oldest.Before(since) {
				since = oldest
				if floor := now.Add(-window); since.Before(floor) {
					since = floor
				}
			}
		}
	}()
	return done
}

// httpServer serves the dashboard and the API behind the tokens, /metrics
// and /healthz.
func (o *Options) httpServer(col *transport.Collector, nc *nats.Conn, board *vantageBoard, tokens Tokens, alerts *alert.Notifier) *http.Server {
	dash := dashboard.Handler(dashboard.Config{Store: o.Store, Targets: o.Targets, Window: o.Config.AnalysisWindow(),
		Log: o.Log.With("part", "api"), Refresh: max(o.Config.RefreshEvery(o.Round), 5*time.Second),
		Vantages: func() []dashboard.Vantage { return board.vantages(col) }})
	mux := http.NewServeMux()
	reg := metrics(col)
	if alerts != nil {
		reg.MustRegister(alerts.Collectors()...)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", health{nats: nc.IsConnected, store: o.Store,
		stalled: func() bool { return col.Stats().Stalled }, log: o.Log})
	mux.Handle("/", Guard(tokens, dash, o.Log))
	return &http.Server{Handler: http.MaxBytesHandler(mux, maxRequestBytes), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: maxRequestBytes}
}

// vantageBoard is the collector's live view of the vantages, from heartbeats.
type vantageBoard struct {
	configured []string

	mu sync.Mutex
	hb map[string]transport.Heartbeat
}

func (b *vantageBoard) heartbeat(h transport.Heartbeat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hb[h.Vantage] = h
}

// vantages are the configured vantages and those heard of, with what the
// collector knows of each.
func (b *vantageBoard) vantages(col *transport.Collector) []dashboard.Vantage {
	counts, newest := col.VantageCounts()
	b.mu.Lock()
	defer b.mu.Unlock()
	names := map[string]bool{}
	for _, v := range b.configured {
		names[v] = true
	}
	for v := range counts {
		names[v] = true
	}
	for v := range b.hb {
		names[v] = true
	}
	var out []dashboard.Vantage
	for name := range names {
		h := b.hb[name]
		out = append(out, dashboard.Vantage{Name: name, LastSeen: h.Received, LastRecord: newest[name],
			Received: counts[name], Outbox: h.Outbox, Offsetms: h.Offsetms, RTTms: h.RTTms,
			Version: h.Version, Round: h.Round})
	}
	return out
}
