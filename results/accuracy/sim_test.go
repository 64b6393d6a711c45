package accuracy

import (
	"bytes"
	"os"
	"runtime/debug"
	"testing"

	"darkwatch/results"
)

// The targets the analysis must meet on measurable blocks.
const (
	minRecall      = 0.99
	maxFalseOutage = 1e-4 // false outage block-rounds per healthy block-round
	// No healthy block-round may read partial because its methods
	// disagree. Partials of vantage points that disagree (FalsePartial
	// counts those too) are reported, not bounded: see
	// Result.MethodPartials.
	maxMethodPartials = 0
)

func TestSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("the simulation takes a minute")
	}
	cfg := SmallConfig()
	cfg.Progress = t.Logf
	checkSimulation(t, Simulate(cfg))
}

// TestSimulationFull is the full-size run of `make accuracy`: 5,000 blocks for
// seven days. It runs only with DARKWATCH_ACCURACY=full.
func TestSimulationFull(t *testing.T) {
	if os.Getenv("DARKWATCH_ACCURACY") != "full" {
		t.Skip("set DARKWATCH_ACCURACY=full to run the full-size simulation")
	}
	// One country's records (up to 1.7 GB) stay live through its
	// analysis: the collector should not let the heap double over them.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(5 << 29))
	cfg := FullConfig()
	cfg.Progress = t.Logf
	checkSimulation(t, Simulate(cfg))
}

func checkSimulation(t *testing.T, res Result) {
	t.Helper()
	var out bytes.Buffer
	res.Print(&out)
	t.Logf("\n%s", out.String())

	// The reference reads the records as a correct analysis would, so when
	// it misses the targets the records lack the evidence: the run's
	// probing (results.BlockRound) is at fault, or the simulation.
	ref := rowOf(t, res.Tables[len(res.Tables)-1].Rows, results.LevelBlock)
	if ref.Recall < minRecall || float64(ref.FalseOutage) > maxFalseOutage*float64(ref.HealthyRounds) {
		t.Errorf("the reference misses the targets (recall %.4f, latency %.2f rounds, %d false outage block-rounds of %d): "+
			"the records lack the evidence, whatever the analysis does", ref.Recall, ref.LatencyMean, ref.FalseOutage, ref.HealthyRounds)
	}

	block := rowOf(t, res.Tables[0].Rows, results.LevelBlock)
	if block.Recall < minRecall {
		t.Errorf("block recall %.4f (%d of %d outage rounds of measurable blocks), want ≥ %.2f",
			block.Recall, block.Detected, block.OutageRounds, minRecall)
	}
	if limit := maxFalseOutage * float64(block.HealthyRounds); float64(block.FalseOutage) > limit {
		t.Errorf("%d false outage block-rounds of %d healthy ones (%.2g), want ≤ %.0f (%.0g)",
			block.FalseOutage, block.HealthyRounds, float64(block.FalseOutage)/float64(max(block.HealthyRounds, 1)), limit, maxFalseOutage)
	}
	if res.MethodPartials > maxMethodPartials {
		t.Errorf("%d healthy block-rounds read partial because their methods disagree, want %d (%d read partial in all)",
			res.MethodPartials, maxMethodPartials, block.FalsePartial)
	}
	if res.UplinkRounds > 0 {
		if n := res.VantageDown[res.UplinkVantage]; n < res.UplinkRounds {
			t.Errorf("%s vantage-down in %d rounds, want ≥ %d (its uplink was cut)", res.UplinkVantage, n, res.UplinkRounds)
		}
		cut := rowOf(t, res.Tables[1].Rows, results.LevelBlock)
		if limit := maxFalseOutage * float64(cut.HealthyRounds); float64(cut.FalseOutage) > limit {
			t.Errorf("while %s was cut off: %d false outage block-rounds of %d healthy ones, want ≤ %.1f: a vantage-down vantage is a gap",
				res.UplinkVantage, cut.FalseOutage, cut.HealthyRounds, limit)
		}
	}
}

func rowOf(t *testing.T, rows []Row, level string) Row {
	t.Helper()
	for _, r := range rows {
		if r.Level == level {
			return r
		}
	}
	t.Fatalf("no %s row", level)
	return Row{}
}
