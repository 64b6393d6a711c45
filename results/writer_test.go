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

// TestTextDNS: a DNS record's text shows its NSID and its answer section, a
// line per record as dig prints it.
func TestTextDNS(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Record
		want string
	}{
		{"answers", Record{Method: MethodDNS, Target: "192.0.2.53", Port: 53, Qname: "dw.example.", Qtype: "SOA",
			Outcome: OutcomeReply, Rcode: "NOERROR", AA: Bool(true), Answers: Int(2), RTTms: 1.5, NSID: "6e7331",
			Answer: []RR{
				{Name: "dw.example.", Type: "SOA", TTL: 3600, Data: "ns. admin. 7 1 1 1 1"},
				{Name: "hostname.bind.", Type: "TXT", Class: "CH", Data: `"ns1"`},
			}},
			"192.0.2.53               dns  dw.example. SOA  NOERROR aa answers=2 nsid=6e7331  reply  rtt=1.500 ms\n" +
				"     dw.example.\t3600\tIN\tSOA\tns. admin. 7 1 1 1 1\n" +
				"     hostname.bind.\t0\tCH\tTXT\t\"ns1\"\n"},
		{"timeout", Record{Method: MethodDNS, Target: "192.0.2.53", Port: 53, Qname: "dw.example.", Qtype: "A",
			Outcome: OutcomeTimeout},
			"192.0.2.53               dns  dw.example. A  timeout\n"},
	} {
		if got := Text(&tc.r); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
