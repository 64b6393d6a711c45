package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"darkwatch/results"
)

// benchBatch is how many records one Ingest call carries in the benchmarks:
// about what one vantage point sends per second at 5,000 probes a second.
const benchBatch = 5000

// benchmarkIngest ingests batches of new, realistic records and reports the
// rate. The batches are made before the clock starts.
func benchmarkIngest(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := make([][]results.Record, b.N)
	for i := range batches {
		batches[i] = sampleRecords(fmt.Sprintf("vp%d", i%4), int64(i), benchBatch, t0.Add(time.Duration(i)*time.Second))
	}
	b.ResetTimer()
	for _, batch := range batches {
		n, err := s.Ingest(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if n != len(batch) {
			b.Fatalf("added %d of %d", n, len(batch))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkIngestSQLite(b *testing.B) {
	benchmarkIngest(b, sqliteDSN(b))
}

func BenchmarkIngestPostgres(b *testing.B) {
	benchmarkIngest(b, postgresDSN(b))
}
