package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/results/store/pgtest"
)

// TestMain stops the PostgreSQL server a benchmark started.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// BenchmarkCollectorPostgres is sustained delivery from three nodes into a
// PostgreSQL collector store: each node stores synthetic records in its own
// SQLite store with IngestQueued, as `darkwatch run` does, and sends its
// outbox to the embedded NATS server; the collector writes to PostgreSQL.
// It runs for DARKWATCH_BENCH_SECONDS (default 60) whatever -benchtime says
// and reports records/s committed in PostgreSQL, with where the time went.
// PostgreSQL is pgtest's.
func BenchmarkCollectorPostgres(b *testing.B) {
	secs := 60
	if s := os.Getenv("DARKWATCH_BENCH_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	dsn := pgtest.DSN(b)
	ctx := context.Background()
	central, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer central.Close()
	dir := b.TempDir()
	nodes := []NodeUser{{Vantage: "vp1", Password: "p1"}, {Vantage: "vp2", Password: "p2"}, {Vantage: "vp3", Password: "p3"}}
	srv, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "js"), Nodes: nodes})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	cctx, stopCollector := context.WithCancel(ctx)
	col, err := NewCollector(cctx, nc, CollectorConfig{Store: central})
	if err != nil {
		b.Fatal(err)
	}
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(cctx) }()

	nctx, stopNodes := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var queued atomic.Int64
	var queueNanos atomic.Int64
	var ns []*Node
	for i, u := range nodes {
		local, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, u.Vantage+".db"))
		if err != nil {
			b.Fatal(err)
		}
		defer local.Close()
		n, err := NewNode(NodeConfig{Vantage: u.Vantage, URL: srv.ClientURL(), User: u.Vantage, Password: u.Password,
			Store: local})
		if err != nil {
			b.Fatal(err)
		}
		ns = append(ns, n)
		wg.Add(2)
		go func() { defer wg.Done(); n.Run(nctx) }()
		go func() {
			// The node's probing: rounds of 20,000 records, as fast as the
			// local store takes them, as long as the outbox keeps up.
			defer wg.Done()
			for round := int64(1); nctx.Err() == nil; round++ {
				if l, _ := local.OutboxLen(ctx, ""); l > 100_000 {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				recs := benchRecords(u.Vantage, round, 20_000, i)
				start := time.Now()
				if _, err := local.IngestQueued(ctx, recs); err != nil {
					b.Error(err)
					return
				}
				queueNanos.Add(int64(time.Since(start)))
				queued.Add(int64(len(recs)))
				n.Wake()
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	before := col.Stats()
	time.Sleep(time.Duration(secs) * time.Second)
	after := col.Stats()
	elapsed := time.Since(start)
	b.StopTimer()
	stopNodes()
	wg.Wait()
	stopCollector()
	<-colDone

	stored := after.Stored - before.Stored
	rate := float64(stored) / elapsed.Seconds()
	var delivered uint64
	for _, n := range ns {
		delivered += n.Stats().Delivered
	}
	ingestShare := (after.IngestSeconds - before.IngestSeconds) / elapsed.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(100*ingestShare, "%store")
	b.ReportMetric(float64(queued.Load())/elapsed.Seconds(), "queued/s")
	b.Logf("%d s, 3 nodes: %d records stored in PostgreSQL (%.0f/s) in %d transactions; nodes queued %d (%.0f/s, %.1f s in SQLite IngestQueued "+
		"over 3 writers), delivered %d; the collector spent %.0f %% of the time in store transactions",
		secs, stored, rate, after.Batches-before.Batches, queued.Load(), float64(queued.Load())/elapsed.Seconds(),
		time.Duration(queueNanos.Load()).Seconds(), delivered, 100*ingestShare)
}

func benchRecords(vantage string, round int64, n, node int) []results.Record {
	recs := make([]results.Record, n)
	t := time.Now().UTC()
	for i := range recs {
		recs[i] = results.Record{Time: t.Add(time.Duration(i) * time.Microsecond), Vantage: vantage, Round: round,
			Method: results.MethodICMP, Target: fmt.Sprintf("198.%d.%d.%d", 18+i/65536%2, i/256%256, i%256),
			Outcome: results.OutcomeReply, RTTms: 0.25, ReplyTTL: 61}
	}
	return recs
}
