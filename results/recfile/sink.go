package recfile

import (
	"context"
	"fmt"
	"sync"

	"darkwatch/results"
)

// Sink lets the goroutines that take records and the one that saves them
// share one Writer.
type Sink struct {
	mu sync.Mutex
	// W prints the records; nil: they are only kept.
	W *results.Writer
	// Keep, when set, also collects the records for a store (see Take).
	Keep bool
	kept []results.Record
}

// Write prints r and, with Keep, keeps it. It is safe for concurrent use.
func (s *Sink) Write(r results.Record) {
	s.mu.Lock()
	if s.W != nil {
		s.W.Write(r)
	}
	if s.Keep {
		s.kept = append(s.kept, r)
	}
	s.mu.Unlock()
}

// Take returns the records kept so far and forgets them.
func (s *Sink) Take() []results.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kept
	s.kept = nil
	return k
}

// Flush writes what W holds and returns its first error.
func (s *Sink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.W == nil {
		return nil
	}
	return s.W.Flush()
}

// Batch is how many records a node stores in one transaction (Save's
// batch).
const Batch = 5000

// Ingester stores records and says how many were new: a store, or a
// forwarder that also queues them for the collector.
type Ingester interface {
	Ingest(ctx context.Context, recs []results.Record) (added int, err error)
}

// Save makes the records taken so far durable: it flushes W, then hands
// the kept records to to, batch at a time (to nil: it only flushes).
func (s *Sink) Save(ctx context.Context, to Ingester, batch int) error {
	if err := s.Flush(); err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	if to == nil {
		return nil
	}
	recs := s.Take()
	for i := 0; i < len(recs); i += batch {
		if _, err := to.Ingest(ctx, recs[i:min(i+batch, len(recs))]); err != nil {
			return fmt.Errorf("storing records: %w", err)
		}
	}
	return nil
}
