package schedule

import "github.com/prometheus/client_golang/prometheus"

// Metrics are where a Daemon counts what it does. The command line makes
// them and registers them where it serves /metrics; NewMetrics makes a set
// that nobody reads, for tests and callers that serve none.
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
)

// NewRoundErrors makes the counter of Metrics.Errors,
// darkwatch_round_errors_total{stage}.
func NewRoundErrors() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "darkwatch_round_errors_total",
		Help: "Failures inside a round that did not stop it (the round went on without that part), by stage: census, beliefs, blocks, space, sweep, prober, analysis.",
	}, []string{"stage"})
}

// NewMetrics makes a complete set of unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Sent:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "darkwatch_probes_sent_total"}, []string{"method"}),
		Replies:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "darkwatch_replies_total"}, []string{"method"}),
		PPS:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "darkwatch_achieved_pps"}),
		RoundDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "darkwatch_round_duration_seconds"}),
		Rounds:        prometheus.NewCounter(prometheus.CounterOpts{Name: "darkwatch_rounds_total"}),
		HitRate:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "darkwatch_hit_rate"}, []string{"target_set", "method"}),
		Round:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "darkwatch_round"}),
		Reloads:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "darkwatch_config_reloads_total"}, []string{"result"}),
		Errors:        NewRoundErrors(),
	}
}
