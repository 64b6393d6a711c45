package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are what `darkwatch run` exports on /metrics.
type metrics struct {
	reg           *prometheus.Registry
	sent          *prometheus.CounterVec
	replies       *prometheus.CounterVec
	pps           prometheus.Gauge
	roundDuration prometheus.Histogram
	rounds        prometheus.Counter
	hitRate       *prometheus.GaugeVec
	round         prometheus.Gauge
	reloads       *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_probes_sent_total", Help: "Probes sent, by method.",
		}, []string{"method"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_replies_total", Help: "Valid replies received, by method.",
		}, []string{"method"}),
		pps: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "darkwatch_achieved_pps", Help: "Sending rate achieved by the last sweep, packets per second.",
		}),
		roundDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "darkwatch_round_duration_seconds", Help: "How long a round's probing took.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "darkwatch_rounds_total", Help: "Rounds completed.",
		}),
		hitRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "darkwatch_hit_rate", Help: "Share of targets that answered in the last round, by target set and method.",
		}, []string{"target_set", "method"}),
		round: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "darkwatch_round", Help: "Number of the current round.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_config_reloads_total", Help: "Configuration reloads on SIGHUP, by result.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.sent, m.replies, m.pps, m.roundDuration, m.rounds, m.hitRate, m.round, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// serve exposes /metrics on addr until ctx ends. An empty addr serves nothing.
func (m *metrics) serve(ctx context.Context, addr string) (net.Addr, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err
		}
	}()
	return ln.Addr(), nil
}
