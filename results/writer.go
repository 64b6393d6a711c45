package results

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Writer prints records as JSON Lines or as a readable table, one probe a line
// (a trace: a header line and one line per hop). Its buffer reaches the
// underlying writer only at record boundaries, so a process killed between two
// writes leaves whole records behind. It is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	buf  []byte       // whole records not yet written
	one  bytes.Buffer // the record being encoded
	enc  *json.Encoder
	err  error
	json bool
	// Batch, when set, leaves flushing to the buffer and to Flush instead of
	// flushing after every Write: for high-rate producers.
	Batch bool
}

// writerBuffer is how many bytes of whole records a batching Writer holds.
const writerBuffer = 64 << 10

// NewWriter returns a Writer on w; asJSON selects JSON Lines.
func NewWriter(w io.Writer, asJSON bool) *Writer {
	wr := &Writer{w: w, json: asJSON, buf: make([]byte, 0, writerBuffer)}
	wr.enc = json.NewEncoder(&wr.one)
	return wr
}

// Write prints recs and flushes, so that records reach the reader as they are taken.
func (w *Writer) Write(recs ...Record) {
	for i := range recs {
		if w.err != nil {
			return
		}
		w.one.Reset()
		if w.json {
			w.err = w.enc.Encode(&recs[i])
		} else {
			w.one.WriteString(Text(&recs[i]))
		}
		if w.err == nil {
			w.put(w.one.Bytes())
		}
	}
	if w.err == nil && !w.Batch {
		w.err = w.flush()
	}
}

// put adds one whole record to the buffer, first writing out what the buffer
// holds when the record would not fit.
func (w *Writer) put(rec []byte) {
	if len(w.buf)+len(rec) > cap(w.buf) && len(w.buf) > 0 {
		if w.err = w.flush(); w.err != nil {
			return
		}
	}
	w.buf = append(w.buf, rec...)
}

// flush writes the buffer in one call.
func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	w.buf = w.buf[:0]
	return err
}

// Encode writes any value as one JSON line (verdicts, events).
func (w *Writer) Encode(v any) error {
	if w.err == nil {
		w.one.Reset()
		if w.err = w.enc.Encode(v); w.err == nil {
			w.put(w.one.Bytes())
		}
	}
	if w.err == nil && !w.Batch {
		w.err = w.flush()
	}
	return w.err
}

// Flush writes what is buffered and returns the first error met.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.flush()
	}
	return w.err
}

// Text renders one record for people, ending in a newline.
func Text(r *Record) string {
	var b strings.Builder
	target := r.Target
	if r.Port != 0 && r.Method != MethodDNS {
		target = fmt.Sprintf("%s port %d", r.Target, r.Port)
	}
	switch r.Method {
	case MethodTrace:
		reached := "not reached"
		if r.Reached != nil && *r.Reached {
			reached = fmt.Sprintf("reached in %d hops", len(r.Hops))
		}
		fmt.Fprintf(&b, "trace %s (%s): %s, %s\n", target, r.Proto, r.Outcome, reached)
		for _, h := range r.Hops {
			if h.Addr == "" {
				fmt.Fprintf(&b, "%3d  *\n", h.TTL)
				continue
			}
			fmt.Fprintf(&b, "%3d  %-39s %9.3f ms  %s\n", h.TTL, h.Addr, h.RTTms, h.ICMP)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "     error: %s\n", r.Error)
		}
		return b.String()
	case MethodDNS:
		fmt.Fprintf(&b, "%-24s dns  %s %s", target, r.Qname, r.Qtype)
		if r.Rcode != "" {
			fmt.Fprintf(&b, "  %s", r.Rcode)
			if r.AA != nil && *r.AA {
				b.WriteString(" aa")
			}
			if r.Answers != nil {
				fmt.Fprintf(&b, " answers=%d", *r.Answers)
			}
			if r.Proto == "tcp" {
				b.WriteString(" (tcp)")
			}
			if r.NSID != "" {
				fmt.Fprintf(&b, " nsid=%s", r.NSID)
			}
		}
	default:
		fmt.Fprintf(&b, "%-24s %-4s seq=%d", target, r.Method, r.Seq)
	}
	fmt.Fprintf(&b, "  %s", r.Outcome)
	if r.RTTms > 0 {
		fmt.Fprintf(&b, "  rtt=%.3f ms", r.RTTms)
	}
	if r.ReplyTTL > 0 {
		fmt.Fprintf(&b, "  ttl=%d", r.ReplyTTL)
	}
	if r.ICMP != "" {
		fmt.Fprintf(&b, "  %s", r.ICMP)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  (%s)", r.Error)
	}
	b.WriteByte('\n')
	// A DNS answer section, as dig prints it.
	for _, rr := range r.Answer {
		fmt.Fprintf(&b, "     %s\t%d\t%s\t%s\t%s\n", rr.Name, rr.TTL, cmp.Or(rr.Class, "IN"), rr.Type, rr.Data)
	}
	return b.String()
}
