package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"darkwatch/results"
)

// The outbox holds the ids of the records a node has stored but the collector
// has not yet acknowledged. A record goes in with the same transaction that
// stores it (IngestQueued) and leaves when the collector has it (Delivered), so
// a node that crashes, or a collector that is away for hours, loses nothing:
// whatever is in the outbox is sent again.

// outboxRowsPerStatement is how many ids one outbox INSERT or DELETE carries.
const outboxRowsPerStatement = 500

// outboxSelectColumns are recordSelectColumns of the records table joined to
// the outbox.
var outboxSelectColumns = "r." + strings.ReplaceAll(recordSelectColumns, ", ", ", r.")

func (s *sqlStore) IngestQueued(ctx context.Context, recs []results.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	rows, err := recordRows(recs)
	if err != nil {
		return 0, err
	}
	ids := make([]any, len(rows))
	for i, r := range rows {
		ids[i] = r[0]
	}
	queued := time.Now().UnixNano()
	var added int64
	err = s.b.inTx(ctx, func(t tx) error {
		n, err := insertRecords(ctx, t, rows)
		if err != nil {
			return err
		}
		added = n
		return eachChunk(ids, func(chunk []any) error {
			args := make([]any, 0, 2*len(chunk))
			for _, id := range chunk {
				args = append(args, id, queued)
			}
			_, err := t.exec(ctx, `INSERT INTO outbox (id, queued_ns) VALUES `+placeholders(len(chunk), 2)+
				` ON CONFLICT (id) DO NOTHING`, args...)
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: ingest: %w", s.b.name(), err)
	}
	return int(added), nil
}

func (s *sqlStore) Outbox(ctx context.Context, limit int) ([]results.Record, error) {
	if limit <= 0 {
		limit = 1000
	}
	var recs []results.Record
	err := s.b.query(ctx, `SELECT `+outboxSelectColumns+` FROM outbox o JOIN records r ON r.id = o.id
		ORDER BY o.queued_ns, o.id LIMIT $1`, []any{limit}, func(scan func(...any) error) error {
		var r results.Record
		if err := scanRecord(scan, &r); err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return recs, nil
}

func (s *sqlStore) Delivered(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := s.b.inTx(ctx, func(t tx) error {
		return eachChunk(args, func(chunk []any) error {
			_, err := t.exec(ctx, `DELETE FROM outbox WHERE id IN `+placeholders(1, len(chunk)), chunk...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return nil
}

func (s *sqlStore) OutboxLen(ctx context.Context) (int64, error) {
	var n int64
	err := s.b.query(ctx, `SELECT COUNT(*) FROM outbox`, nil, func(scan func(...any) error) error {
		return scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: outbox: %w", s.b.name(), err)
	}
	return n, nil
}

// eachChunk calls fn with successive slices of at most outboxRowsPerStatement
// values of vs.
func eachChunk(vs []any, fn func([]any) error) error {
	for len(vs) > 0 {
		k := min(len(vs), outboxRowsPerStatement)
		if err := fn(vs[:k]); err != nil {
			return err
		}
		vs = vs[k:]
	}
	return nil
}
