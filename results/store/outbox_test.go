package store

import (
	"context"
	"testing"
	"time"

	"darkwatch/results"
)

func TestOutboxSQLite(t *testing.T)   { testOutbox(t, openSQLiteTest) }
func TestOutboxPostgres(t *testing.T) { testOutbox(t, openPostgresTest) }

// testOutbox checks that IngestQueued stores and queues in one step, that
// Outbox hands the queue out oldest first, and that Delivered empties it.
func testOutbox(t *testing.T, open func(t *testing.T) *Store) {
	ctx := context.Background()
	s := open(t)
	first := sampleRecords("vp1", 1, 1200, t0)
	if n, err := s.IngestQueued(ctx, first); err != nil || n != 1200 {
		t.Fatalf("IngestQueued: %d, %v; want 1200 new", n, err)
	}
	time.Sleep(time.Millisecond) // the second batch is queued later
	second := sampleRecords("vp2", 1, 10, t0)
	if _, err := s.IngestQueued(ctx, second); err != nil {
		t.Fatal(err)
	}
	// Plain Ingest does not queue.
	if _, err := s.Ingest(ctx, sampleRecords("vp3", 1, 10, t0)); err != nil {
		t.Fatal(err)
	}
	outboxLen := func() int64 {
		t.Helper()
		n, err := s.OutboxLen(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := outboxLen(); n != 1210 {
		t.Fatalf("outbox holds %d, want 1210", n)
	}
	if n := count(t, s); n != 1220 {
		t.Fatalf("store holds %d records, want 1220", n)
	}
	// One vantage point's outbox, as a node that shares its store sends it.
	if n, err := s.OutboxLen(ctx, "vp2"); err != nil || n != 10 {
		t.Fatalf("vp2's outbox holds %d (%v), want 10", n, err)
	}
	own, err := s.Outbox(ctx, "vp2", 500)
	if err != nil || len(own) == 0 {
		t.Fatalf("vp2's outbox: %v, %v", own, err)
	}
	for _, b := range own {
		if b.Vantage != "vp2" {
			t.Fatalf("vp2's outbox gave a batch of %s", b.Vantage)
		}
	}
	delivered := 0
	for {
		batches, err := s.Outbox(ctx, "", 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) == 0 {
			break
		}
		var ids []string
		n := 0
		for _, b := range batches {
			for _, r := range batchRecords(t, b) {
				if delivered < 1200 && r.Vantage != "vp1" {
					t.Fatalf("record %d of the outbox is %s: the older ingest must come first", delivered, r.ID())
				}
				if r.Vantage == "vp3" {
					t.Fatalf("record %s was ingested without queueing but is in the outbox", r.ID())
				}
				if r.Vantage != b.Vantage {
					t.Fatalf("record %s is in a batch of %s", r.ID(), b.Vantage)
				}
				delivered++
			}
			ids = append(ids, b.ID)
			n += b.Len
		}
		if n > 500 && len(batches) > 1 {
			t.Fatalf("Outbox(500) gave %d batches of %d records", len(batches), n)
		}
		if err := s.Delivered(ctx, append(ids, "no/such/id")); err != nil {
			t.Fatal(err)
		}
	}
	if delivered != 1210 || outboxLen() != 0 {
		t.Fatalf("delivered %d, outbox left %d; want 1210 and 0", delivered, outboxLen())
	}
	// A bad record queues nothing and stores nothing.
	bad := sampleRecords("vp4", 1, 3, t0)
	bad[2].Target = ""
	if _, err := s.IngestQueued(ctx, bad); err == nil {
		t.Fatal("IngestQueued took a record without a target")
	}
	if n := outboxLen(); n != 0 {
		t.Fatalf("a failed IngestQueued left %d in the outbox", n)
	}
	// A record read back from the outbox is the record stored.
	if _, err := s.IngestQueued(ctx, fieldRecords()); err != nil {
		t.Fatal(err)
	}
	batches, err := s.Outbox(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []results.Record
	for _, b := range batches {
		got = append(got, batchRecords(t, b)...)
	}
	want := fieldRecords()
	sortRecords(got)
	sortRecords(want)
	sameRecords(t, "outbox", got, want)
}

// batchRecords decodes a batch of the outbox, which must hold Len records.
func batchRecords(t *testing.T, b Batch) []results.Record {
	t.Helper()
	recs, err := b.Records()
	if err != nil || len(recs) != b.Len {
		t.Fatalf("batch %s: %d records (%v), want its Len %d", b.ID, len(recs), err, b.Len)
	}
	return recs
}
