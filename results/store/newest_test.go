package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"darkwatch/results"
)

// TestNewestRecords: the store returns the newest Limit records, newest
// first, for any limit, larger than what there is too.
func TestNewestRecords(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	var recs []results.Record
	for i := range 300 {
		recs = append(recs, results.Record{Time: t0.Add(time.Duration(i) * time.Second), Vantage: "vp1", Round: int64(i),
			Method: results.MethodICMP, Target: "198.18.0.7", Outcome: results.OutcomeReply})
	}
	if _, err := st.Ingest(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 7, 299, 300, 1000} {
		var got []int64
		err := st.EachRecord(ctx, Query{Target: "198.18.0.7", Limit: limit, Newest: true}, func(r results.Record) error {
			got = append(got, r.Round)
			return nil
		})
		want := min(limit, 300)
		if err != nil || len(got) != want || got[0] != 299 || got[len(got)-1] != int64(300-want) {
			t.Errorf("limit %d: %d records from %v: %v", limit, len(got), got[:min(3, len(got))], err)
		}
	}
}
