package recfile

import (
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
