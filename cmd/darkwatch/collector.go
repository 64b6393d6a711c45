package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"darkwatch/config"
	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// The node's side of the collector: `darkwatch run` with collector.url set
// keeps every record in its local store's outbox and sends the outbox to the
// collector (results/transport's Forwarder).

// forwarder is run's way to the collector; a nil forwarder (no collector
// configured) just stores.
type forwarder struct{ f *transport.Forwarder }

// startForwarder starts sending to the configured collector, if any, and
// registers the node's metrics in reg.
func (a *app) startForwarder(ctx context.Context, st store.Store, reg *prometheus.Registry) (*forwarder, error) {
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
	return &forwarder{f}, nil
}

// ingest stores recs and, with a collector, queues them for it in the same
// transaction.
func (f *forwarder) ingest(ctx context.Context, st store.Store, recs []results.Record) (int, error) {
	if f == nil {
		return st.Ingest(ctx, recs)
	}
	return f.f.Ingest(ctx, recs)
}

// close lets the forwarder deliver what it can, then stops it.
func (f *forwarder) close(interface{ Info(string, ...any) }) {
	if f != nil {
		f.f.Close()
	}
}
