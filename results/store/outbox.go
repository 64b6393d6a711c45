package store

import (
	"context"
	"fmt"

	"darkwatch/results"
)

// The outbox holds the chunks of records a node has stored but the collector
// has not yet acknowledged. A chunk goes in with the same transaction that
// stores it (IngestQueued) and leaves when the collector has it (Delivered), so
// a node that crashes, or a collector that is away for hours, loses nothing:
// whatever is in the outbox is sent again.

// outboxColumns are the outbox's columns.
var outboxColumns = []string{"id", "queued_ns"}

// rowsPerStatement is how many values one statement's IN list carries.
const rowsPerStatement = 500

// Batch is queued records that travel together: one chunk of the store, of
// one vantage point, as the store keeps it.
type Batch struct {
	// ID names the batch to Delivered.
	ID      string
	Vantage string
	// Len is how many records Packed holds.
	Len int
	// Packed is the records as results.PackRecords writes them.
	Packed []byte
}

// Records decodes the batch's records.
func (b *Batch) Records() ([]results.Record, error) {
	recs := make([]results.Record, 0, b.Len)
	err := results.UnpackRecords(b.Packed, b.Vantage, func(r *results.Record) error {
		recs = append(recs, *r)
		return nil
	})
	return recs, err
}

// Outbox returns the oldest queued batches of vantage (of every
// vantage point when it is empty), as many as hold at most limit
// records, but always one if any is queued.
func (s *Store) Outbox(ctx context.Context, vantage string, limit int) ([]Batch, error) {
	if limit <= 0 {
		limit = 1000
	}
	var bs []Batch
	n := 0
	var w where
	if vantage != "" {
		w.add("c.vantage = " + w.arg(vantage))
	}
	err := s.b.query(ctx, `SELECT c.id, c.vantage, c.data FROM outbox o JOIN record_chunks c ON c.id = o.id`+w.String()+`
		ORDER BY o.queued_ns, o.id`, w.args, func(scan func(...any) error) error {
		var b Batch
		if err := scan(&b.ID, &b.Vantage, &b.Packed); err != nil {
			return err
		}
		var err error
		if b.Len, err = results.PackedCount(b.Packed); err != nil {
			return fmt.Errorf("chunk %s: %w", b.ID, err)
		}
		if n > 0 && n+b.Len > limit {
			return errLimit
		}
		bs = append(bs, b)
		n += b.Len
		return nil
	})
	if err != nil && err != errLimit {
		return nil, fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return bs, nil
}

// Delivered takes the batches with these ids out of the outbox: the
// collector has them. Ids not queued are ignored.
func (s *Store) Delivered(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := s.b.inTx(ctx, func(t tx) error {
		return eachPart(args, func(part []any) error {
			_, err := t.exec(ctx, `DELETE FROM outbox WHERE id IN `+placeholders(1, len(part)), part...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return nil
}

// OutboxLen returns how many records of vantage (of every vantage
// point when it is empty) are queued.
func (s *Store) OutboxLen(ctx context.Context, vantage string) (int64, error) {
	var n int64
	var w where
	if vantage != "" {
		w.add("c.vantage = " + w.arg(vantage))
	}
	err := s.b.query(ctx, `SELECT COALESCE(SUM(c.records), 0) FROM outbox o JOIN record_chunks c ON c.id = o.id`+w.String(), w.args,
		func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return n, nil
}

// eachPart calls fn with successive parts of vs, of at most
// rowsPerStatement values each.
func eachPart(vs []any, fn func([]any) error) error {
	for len(vs) > 0 {
		k := min(len(vs), rowsPerStatement)
		if err := fn(vs[:k]); err != nil {
			return err
		}
		vs = vs[k:]
	}
	return nil
}
