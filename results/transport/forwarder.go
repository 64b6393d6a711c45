package transport

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"darkwatch/results"
	"darkwatch/results/store"
)

// OutboxStore is what a node needs of its local store: the outbox of the
// records the collector does not have yet.
type OutboxStore interface {
	Outbox(ctx context.Context, vantage string, limit int) ([]store.Batch, error)
	Delivered(ctx context.Context, ids []string) error
	OutboxLen(ctx context.Context, vantage string) (int64, error)
}

// ForwardStore is what a Forwarder needs of the node's store: its outbox,
// and storing records and queueing them in one transaction.
type ForwardStore interface {
	OutboxStore
	IngestQueued(ctx context.Context, recs []results.Record) (added int, err error)
}

// Forwarder is a node's way to its collector: records go into the store
// and its outbox together, and a Node sends the outbox.
type Forwarder struct {
	node   *Node
	st     ForwardStore
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	flush  time.Duration
}

// StartForwarder starts sending st's outbox to the collector c names, as
// vantage, until Close. It reads the secrets c names (a bad one is a
// *ConfigError naming its key in the collector: section). ctx ending does
// not stop it: Close does, after a last flush.
func StartForwarder(ctx context.Context, c Link, vantage, version string, st ForwardStore, log *slog.Logger) (*Forwarder, error) {
	nc, err := c.nodeConfig(vantage, version, st, log)
	if err != nil {
		return nil, err
	}
	node, err := NewNode(nc)
	if err != nil {
		return nil, &ConfigError{Key: "url", Msg: err.Error()}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &Forwarder{node: node, st: st, log: log, cancel: cancel, done: make(chan struct{}), flush: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = node.Run(rctx)
	}()
	log.Info("records go to the collector too", "url", redact(c.URL), "user", c.User)
	return f, nil
}

// nodeConfig is the node c describes, its secrets read.
func (c Link) nodeConfig(vantage, version string, st OutboxStore, log *slog.Logger) (NodeConfig, error) {
	nc := NodeConfig{Vantage: vantage, URL: c.URL, User: c.User, Store: st,
		Heartbeat: c.Heartbeat, Version: version, Log: log.With("part", "collector")}
	var err error
	if c.PasswordFile != "" {
		if nc.Password, err = ReadSecret("password_file", c.PasswordFile); err != nil {
			return nc, err
		}
	}
	if c.NkeyFile != "" {
		seed, err := ReadSecret("nkey_file", c.NkeyFile)
		if err != nil {
			return nc, err
		}
		nc.NkeySeed = []byte(seed)
	}
	if c.CAFile != "" {
		pool, err := CAPool("ca_file", c.CAFile)
		if err != nil {
			return nc, err
		}
		nc.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return nc, nil
}

// Ingest stores recs and queues them for the collector in the same
// transaction, and tells the node to send them.
func (f *Forwarder) Ingest(ctx context.Context, recs []results.Record) (int, error) {
	n, err := f.st.IngestQueued(ctx, recs)
	if err == nil && len(recs) > 0 {
		f.node.SetRound(recs[len(recs)-1].Round)
		f.node.Wake()
	}
	return n, err
}

// Close gives the node up to the flush time to deliver what is queued,
// then stops it. What is left stays in the outbox for the next start.
func (f *Forwarder) Close() {
	deadline := time.Now().Add(f.flush)
	for time.Now().Before(deadline) {
		n, err := f.st.OutboxLen(context.Background(), f.node.Vantage())
		if err != nil || n == 0 || !f.node.Stats().Connected {
			break
		}
		f.node.Wake()
		time.Sleep(100 * time.Millisecond)
	}
	f.cancel()
	<-f.done
	if n, err := f.st.OutboxLen(context.Background(), f.node.Vantage()); err == nil && n > 0 {
		f.log.Info("records left for the collector; they go at the next start", "outbox", n)
	}
}

// Metrics are the node's metrics of its link to the collector, for a
// Prometheus registry.
func (f *Forwarder) Metrics() []prometheus.Collector {
	node := f.node
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_connected",
			Help: "1 while the node is connected to its collector."}, func() float64 {
			if node.Stats().Connected {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_delivered_total",
			Help: "Records the collector acknowledged."}, func() float64 { return float64(node.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_failed_total",
			Help: "Record publications not acknowledged, to be sent again."}, func() float64 { return float64(node.Stats().Failed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_clock_offset_seconds",
			Help: "The collector's clock minus this node's, from the last heartbeat."}, func() float64 { return node.Stats().Offsetms / 1000 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_outbox_records",
			Help: "Records stored here that the collector has not acknowledged yet."}, func() float64 {
			n, _ := f.st.OutboxLen(context.Background(), node.Vantage())
			return float64(n)
		}),
	}
}
