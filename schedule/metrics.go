package schedule

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are where a Daemon counts what it does. NewMetrics makes them;
// the caller serves their Registry on /metrics (ServeMetrics), or nobody
// reads them (tests, callers that serve none).
type Metrics struct {
	Sent          *prometheus.CounterVec // by method
	Replies       *prometheus.CounterVec // by method
	PPS           prometheus.Gauge
	RoundDuration prometheus.Observer
	Rounds        prometheus.Counter
	HitRate       *prometheus.GaugeVec // by target_set, method
	Round         prometheus.Gauge
	Reloads       *prometheus.CounterVec // by result
	// Errors counts what failed in a round without stopping it, by stage
	// (see the Stage constants): darkwatch_round_errors_total.
	Errors *prometheus.CounterVec
}

// Stages of a round whose failures Metrics.Errors counts.
const (
	StageCensus   = "census"   // loading the census blocks from the store
	StageBeliefs  = "beliefs"  // loading or saving the blocks' beliefs
	StageBlocks   = "blocks"   // the adaptive probing of census blocks
	StageSpace    = "space"    // building a target set's address space
	StageSweep    = "sweep"    // a sweep of a target set
	StageProber   = "prober"   // opening a one-shot prober
	StageAnalysis = "analysis" // the round's verdicts (AfterRound)
	StageResolve  = "resolve"  // finding the prefixes of named target sets
	StageFailures = "failures" // storing what failed in the round
)

// NewRoundErrors makes the counter of Metrics.Errors,
// darkwatch_round_errors_total{stage}.
func NewRoundErrors() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "darkwatch_round_errors_total",
		Help: "Failures inside a round that did not stop it (the round went on without that part), by stage: census, beliefs, blocks, space, sweep, prober, analysis, resolve, failures.",
	}, []string{"stage"})
}

// NewMetrics makes a complete set of unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_probes_sent_total", Help: "Probes sent, by method.",
		}, []string{"method"}),
		Replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_replies_total", Help: "Valid replies received, by method.",
		}, []string{"method"}),
		PPS: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "darkwatch_achieved_pps", Help: "Sending rate achieved by the last sweep, packets per second.",
		}),
		RoundDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "darkwatch_round_duration_seconds", Help: "How long a round's probing took.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}),
		Rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "darkwatch_rounds_total", Help: "Rounds completed.",
		}),
		HitRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "darkwatch_hit_rate", Help: "Share of targets that answered in the last round, by target set and method.",
		}, []string{"target_set", "method"}),
		Round: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "darkwatch_round", Help: "Number of the current round.",
		}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "darkwatch_config_reloads_total", Help: "Configuration reloads on SIGHUP, by result.",
		}, []string{"result"}),
		Errors: NewRoundErrors(),
	}
}

// Registry is a registry of every metric of m, made by NewMetrics, and of
// the process's own (Go runtime, process), for /metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Sent, m.Replies, m.PPS, m.Rounds, m.HitRate, m.Round, m.Reloads, m.Errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c, ok := m.RoundDuration.(prometheus.Collector); ok {
		reg.MustRegister(c)
	}
	return reg
}
