package results

import (
	"bytes"
	"testing"
	"time"
)

// chunkRecorder keeps every Write call apart.
type chunkRecorder struct{ chunks [][]byte }

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.chunks = append(c.chunks, bytes.Clone(p))
	return len(p), nil
}

// TestWriterRecordBoundaries checks that a batching Writer hands its writer
// whole records only, so that a process killed between writes leaves no torn
// line behind.
func TestWriterRecordBoundaries(t *testing.T) {
	var c chunkRecorder
	w := NewWriter(&c, true)
	w.Batch = true
	for i := range 5000 {
		w.Write(Record{Time: time.Unix(int64(i), 0).UTC(), Vantage: "vp1", Method: "icmp",
			Target: "198.18.0.1", Outcome: OutcomeReply, Seq: i})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(c.chunks) < 2 {
		t.Fatalf("%d writes; want the buffer to fill more than once", len(c.chunks))
	}
	lines := 0
	for i, b := range c.chunks {
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Fatalf("write %d of %d (%d bytes) ends mid-record: %q", i, len(c.chunks), len(b), b[max(0, len(b)-40):])
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines != 5000 {
		t.Fatalf("%d lines written, want 5000", lines)
	}
}
