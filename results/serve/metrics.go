package serve

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"darkwatch/results/transport"
)

// metrics are what serve exports on /metrics: the collector's totals, the
// records waiting in the stream, and the process's own.
func metrics(col *transport.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	stat := func(f func(transport.CollectorStats) float64) func() float64 {
		return func() float64 { return f(col.Stats()) }
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_received_total",
			Help: "Messages taken from the stream, redeliveries included."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Received) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_stored_total",
			Help: "Records new to the store."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Stored) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_refused_total",
			Help: "Messages refused and dropped: not records of their subject's vantage, or holding a record the store refuses."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Refused) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_stalled",
			Help: "1 while a batch waits for the store, which fails to take it: nothing is stored meanwhile."}, stat(func(s transport.CollectorStats) float64 {
			if s.Stalled {
				return 1
			}
			return 0
		})),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_store_errors_total",
			Help: "Failed store transactions (retried)."}, stat(func(s transport.CollectorStats) float64 { return float64(s.StoreErrors) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_ingest_seconds_total",
			Help: "Time spent in store transactions."}, stat(func(s transport.CollectorStats) float64 { return s.IngestSeconds })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_pending_records",
			Help: "Records waiting in the stream for the store."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := col.Pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
