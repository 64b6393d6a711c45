package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"darkwatch/results"
)

// benchBatch is how many records one Ingest call carries in the benchmarks:
// a second of a sweep at 5,000 probes a second.
const benchBatch = 5000

// benchmarkIngest ingests batches of new, realistic records and reports the
// rate: four vantage points each sweep 198.18.0.0/15 in a random order, a
// round of 131,072 records spread over 27 batches, the vantage points taking
// turns. The batches are made before the clock starts.
func benchmarkIngest(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := sweepBatches(b.N)
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
	total := 0
	for _, batch := range batches {
		total += len(batch)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}

// batchesPerRound is how many batches a vantage point's round of 131,072
// records takes.
const batchesPerRound = (1<<17 + benchBatch - 1) / benchBatch

// sweepBatches makes n batches of four vantage points' sweeps, the vantage
// points taking turns, round after round (11 minutes apart).
func sweepBatches(n int) [][]results.Record {
	batches := make([][]results.Record, n)
	for i := range batches {
		vp, j := i%4, i/4
		round, part := int64(j/batchesPerRound), j%batchesPerRound
		k := min(benchBatch, 1<<17-part*benchBatch)
		start := t0.Add(time.Duration(round) * 11 * time.Minute)
		batches[i] = sweepRecords(fmt.Sprintf("vp%d", vp), round, part*benchBatch, k, start)
	}
	return batches
}

func BenchmarkIngestSQLite(b *testing.B) {
	benchmarkIngest(b, sqliteDSN(b))
}

func BenchmarkIngestPostgres(b *testing.B) {
	benchmarkIngest(b, postgresDSN(b))
}

// benchmarkRead reads back, oldest first, the 524,288 records of four vantage
// points' sweeps of 198.18.0.0/15 (ingested before the clock starts) and
// reports the rate.
func benchmarkRead(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, batch := range sweepBatches(4 * batchesPerRound) {
		if _, err := s.Ingest(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	total := 0
	for range b.N {
		var last results.Record
		n := 0
		err := s.EachRecord(ctx, Query{}, func(r results.Record) error {
			if r.Time.Before(last.Time) {
				return fmt.Errorf("record %s before %s", r.ID(), last.ID())
			}
			last = r
			n++
			return nil
		})
		if err != nil || n != 4<<17 {
			b.Fatalf("read %d records (%v), want %d", n, err, 4<<17)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReadSQLite(b *testing.B) {
	benchmarkRead(b, sqliteDSN(b))
}

func BenchmarkReadPostgres(b *testing.B) {
	benchmarkRead(b, postgresDSN(b))
}
