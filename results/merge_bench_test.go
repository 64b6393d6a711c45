package results

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMerge1M merges three vantages' observations into one million
// block-round verdicts (100,000 blocks × 10 rounds) per iteration.
func BenchmarkMerge1M(b *testing.B) {
	const blocks, rounds = 100_000, 10
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	obs := make([]Observation, 0, blocks*rounds*3)
	for blk := range blocks {
		entity := fmt.Sprintf("block-%d", blk)
		for r := range rounds {
			for _, v := range []string{"vp1", "vp2", "vp3"} {
				state := PlaneUp
				if blk%10 == 0 && r > 5 {
					state = PlaneDown
				}
				obs = append(obs, Observation{Vantage: v, Level: LevelBlock, Entity: entity, Round: int64(r),
					Time: t0.Add(time.Duration(r) * 11 * time.Minute), State: state, Method: MethodICMP, Belief: 0.99})
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		vs := Merge(obs, nil, 2)
		if len(vs) != blocks*rounds {
			b.Fatalf("%d verdicts, want %d", len(vs), blocks*rounds)
		}
	}
	b.ReportMetric(float64(blocks*rounds)*float64(b.N)/b.Elapsed().Seconds(), "verdicts/s")
}
