package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/results"
)

// TestExpire: with a retention, the records older than it leave the store
// at once and the recent ones stay; without one, nothing leaves.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	recs := func(age time.Duration, n int) []results.Record {
		var out []results.Record
		for i := range n {
			out = append(out, results.Record{Time: now.Add(-age).Add(time.Duration(i) * time.Second), Vantage: "vp1",
				Method: results.MethodICMP, Target: "198.18.0.1", Outcome: results.OutcomeReply, Seq: i + 1})
		}
		return out
	}
	count := func(s *Store) int {
		n := 0
		if err := s.EachRecord(ctx, Query{}, func(results.Record) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		name string
		keep time.Duration
		want int
	}{
		{"eight days", 8 * 24 * time.Hour, 5},
		{"for ever", 0, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Ingest(ctx, append(recs(10*24*time.Hour, 3), recs(time.Hour, 5)...)); err != nil {
				t.Fatal(err)
			}
			var logs testenv.Buffer
			ectx, cancel := context.WithCancel(ctx)
			done := Expire(ectx, s, c.keep, time.Hour, slog.New(slog.NewTextHandler(&logs, nil)))
			if c.keep > 0 {
				deadline := time.Now().Add(30 * time.Second)
				for !strings.Contains(logs.String(), "retention: deleted") && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
			}
			cancel()
			<-done
			if n := count(s); n != c.want {
				t.Errorf("%d records left, want %d; log: %s", n, c.want, logs.String())
			}
		})
	}
}
