package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Writer prints records as JSON Lines or as a readable table, one probe a line
// (a trace: a header line and one line per hop). It is not safe for concurrent use.
type Writer struct {
	w    *bufio.Writer
	enc  *json.Encoder
	err  error
	json bool
	// Batch, when set, leaves flushing to the buffer and to Flush instead of
	// flushing after every Write: for high-rate producers.
	Batch bool
}

// NewWriter returns a Writer on w; asJSON selects JSON Lines.
func NewWriter(w io.Writer, asJSON bool) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &Writer{w: bw, enc: json.NewEncoder(bw), json: asJSON}
}

// Write prints recs and flushes, so that records reach the reader as they are taken.
func (w *Writer) Write(recs ...Record) {
	for i := range recs {
		if w.err != nil {
			return
		}
		if w.json {
			w.err = w.enc.Encode(&recs[i])
		} else {
			_, w.err = w.w.WriteString(Text(&recs[i]))
		}
	}
	if w.err == nil && !w.Batch {
		w.err = w.w.Flush()
	}
}

// Encode writes any value as one JSON line (verdicts, events).
func (w *Writer) Encode(v any) error {
	if w.err == nil {
		w.err = w.enc.Encode(v)
	}
	return w.err
}

// Flush writes what is buffered and returns the first error met.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
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
	return b.String()
}
