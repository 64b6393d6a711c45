package store

import (
	"context"
	"fmt"
	"time"

	"darkwatch/results"
)

const upsertFailure = `INSERT INTO failures (vantage, round, stage, time_ns, message)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (vantage, round, stage) DO UPDATE SET time_ns = excluded.time_ns, message = excluded.message`

// PutFailures stores what failed in vantage points' rounds, replacing any
// failure of the same vantage, round and stage (the last one of a round
// stands).
func (s *Store) PutFailures(ctx context.Context, fs []results.Failure) error {
	rows := make([][]any, len(fs))
	for i, f := range fs {
		ns, err := unixNano(f.Time)
		if err != nil || f.Vantage == "" || f.Stage == "" {
			return fmt.Errorf("store: failure %d (%s round %d): a time, a vantage and a stage are needed", i, f.Vantage, f.Round)
		}
		rows[i] = []any{f.Vantage, f.Round, f.Stage, ns, f.Message}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.putAll(ctx, "failures", upsertFailure, rows)
}

// Failures returns the failures of the rounds that started in [since,
// until), a zero bound open, by time, vantage and stage.
func (s *Store) Failures(ctx context.Context, since, until time.Time) ([]results.Failure, error) {
	var w where
	for _, b := range []struct {
		t  time.Time
		op string
	}{{since, ">="}, {until, "<"}} {
		if b.t.IsZero() {
			continue
		}
		ns, err := unixNano(b.t)
		if err != nil {
			return nil, fmt.Errorf("store: failures: %w", err)
		}
		w.add("time_ns " + b.op + " " + w.arg(ns))
	}
	fs, err := queryAll(ctx, s.b, "SELECT vantage, round, stage, time_ns, message FROM failures"+w.String()+
		" ORDER BY time_ns, vantage, stage", w.args, scanFailure)
	if err != nil {
		return nil, fmt.Errorf("store %s: failures: %w", s.b.name(), err)
	}
	return fs, nil
}

// scanFailure reads a row of failures into f.
func scanFailure(scan func(...any) error, f *results.Failure) error {
	var ns int64
	if err := scan(&f.Vantage, &f.Round, &f.Stage, &ns, &f.Message); err != nil {
		return err
	}
	f.Time = time.Unix(0, ns).UTC()
	return nil
}
