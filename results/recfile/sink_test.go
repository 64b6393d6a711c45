package recfile

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"darkwatch/results"
)

// TestSink: records written from many goroutines are all printed and kept,
// and Take hands the kept ones over once.
func TestSink(t *testing.T) {
	var out strings.Builder
	s := &Sink{W: results.NewWriter(&out, true), Keep: true}
	s.W.Batch = true
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				s.Write(results.Record{Vantage: "vp1", Method: results.MethodICMP, Target: "198.18.0.1", Seq: i*100 + j, Outcome: results.OutcomeReply})
			}
		}()
	}
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 800 {
		t.Errorf("%d lines printed, want 800", n)
	}
	if k := s.Take(); len(k) != 800 {
		t.Errorf("%d records kept, want 800", len(k))
	}
	if k := s.Take(); len(k) != 0 {
		t.Errorf("%d records kept after Take, want 0", len(k))
	}
	var only Sink
	only.Write(results.Record{})
	if only.Flush() != nil || len(only.Take()) != 0 {
		t.Error("a Sink without Writer or Keep printed or kept")
	}
}

// batches is an Ingester that keeps the size of each batch, failing on the
// batch numbered fail (from 1; 0: never).
type batches struct {
	sizes []int
	fail  int
}

func (b *batches) Ingest(_ context.Context, recs []results.Record) (int, error) {
	b.sizes = append(b.sizes, len(recs))
	if len(b.sizes) == b.fail {
		return 0, errors.New("disk full")
	}
	return len(recs), nil
}

func TestSinkSave(t *testing.T) {
	for _, c := range []struct {
		name  string
		n     int
		fail  int
		sizes []int
		err   string
	}{
		{"none", 0, 0, nil, ""},
		{"one batch", 3, 0, []int{3}, ""},
		{"batches", 11, 0, []int{5, 5, 1}, ""},
		{"a batch refused", 11, 2, []int{5, 5}, "storing records: disk full"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			s := &Sink{W: results.NewWriter(&out, true), Keep: true}
			s.W.Batch = true
			for range c.n {
				s.Write(results.Record{Vantage: "vp1"})
			}
			var to batches
			to.fail = c.fail
			err := s.Save(context.Background(), &to, 5)
			if (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
				t.Errorf("Save: %v, want %q", err, c.err)
			}
			if !reflect.DeepEqual(to.sizes, c.sizes) || strings.Count(out.String(), "\n") != c.n {
				t.Errorf("batches %v, %d lines written; want %v, %d", to.sizes, strings.Count(out.String(), "\n"), c.sizes, c.n)
			}
		})
	}
	var only Sink
	if err := only.Save(context.Background(), nil, 5); err != nil {
		t.Errorf("Save to nothing: %v", err)
	}
}
