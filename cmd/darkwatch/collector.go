package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"darkwatch/config"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// startForwarder starts sending st's records to the configured collector
// (results/transport's Forwarder), if any, and registers the node's metrics
// in reg; nil without a collector.
func (a *app) startForwarder(ctx context.Context, st store.Store, reg *prometheus.Registry) (*transport.Forwarder, error) {
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
