// Package atlas reads RIPE Atlas measurement results
// (https://atlas.ripe.net/docs/apis/measurement-result-format/), as the Atlas
// API and ripe.atlas.sagan give them, of types ping, traceroute and dns, into
// darkwatch records: one vantage point per Atlas probe, named "atlas-" and
// its prb_id, so that a public measurement joins the merge beside
// darkwatch's own vantage points. It is the inverse of the atlas report
// (results/report): a result that carries a "darkwatch" member (Extension)
// gives back exactly the records the report wrote it from. It knows nothing
// of stores, sockets or configuration files.
package atlas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"darkwatch/results"
)

// DefaultRound is the round length Options.Round takes when zero:
// darkwatch's default round.
const DefaultRound = 11 * time.Minute

// Options says how results become records.
type Options struct {
	// Round is the length of darkwatch's rounds, which are aligned to the
	// Unix epoch: a result started at Unix time t has round t / Round, so
	// that Atlas probes and darkwatch's nodes meet in the same rounds.
	// Zero means DefaultRound.
	Round time.Duration
}

func (o Options) roundSeconds() int64 {
	if s := int64(o.Round / time.Second); s > 0 {
		return s
	}
	return int64(DefaultRound / time.Second)
}

// maxFile is the largest file ReadFile reads: Atlas results of a long
// measurement are large, but a file is checked whole in memory.
const maxFile = 1 << 30

// ReadFile reads every result of a file of Atlas results ("-" is standard
// input): JSON Lines, one result a line, or one JSON array of results. The
// file is checked whole: the first result that is not one darkwatch can read
// is an error naming the file, the line and the field, and then no record is
// returned.
func ReadFile(name string, opts Options) ([]results.Record, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing of it imported", name, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes; nothing of it imported", name, maxFile)
	}
	recs, line, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %v; nothing of %s imported", name, line, err, name)
	}
	return recs, nil
}

// Parse reads the results of data, JSON Lines or a JSON array, into records,
// in the order of the results. On an error it returns no records, the line
// the bad result starts on and what is wrong with it.
func Parse(data []byte, opts Options) (recs []results.Record, line int, err error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return parseArray(data, opts)
	}
	for n, rest := 1, data; len(rest) > 0; n++ {
		l := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		got, err := Result(l, opts)
		if err != nil {
			return nil, n, err
		}
		recs = append(recs, got...)
	}
	return recs, 0, nil
}

// parseArray reads a JSON array of results.
func parseArray(data []byte, opts Options) ([]results.Record, int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	// lineAt counts lines up to off, from where it counted last: offsets
	// only grow.
	line, counted := 1, 0
	lineAt := func(off int64) int {
		end := min(int(off), len(data))
		if end > counted {
			line += bytes.Count(data[counted:end], []byte{'\n'})
			counted = end
		}
		return line
	}
	if _, err := dec.Token(); err != nil {
		return nil, 1, err
	}
	var recs []results.Record
	for dec.More() {
		start := dec.InputOffset()
		for start < int64(len(data)) && bytes.IndexByte([]byte(" \t\r\n,"), data[start]) >= 0 {
			start++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, lineAt(start), fmt.Errorf("not a JSON array of results (%v)", err)
		}
		got, err := Result(raw, opts)
		if err != nil {
			return nil, lineAt(start), err
		}
		recs = append(recs, got...)
	}
	if _, err := dec.Token(); err != nil {
		return nil, lineAt(dec.InputOffset()), fmt.Errorf("not a JSON array of results (%v)", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, lineAt(dec.InputOffset()), errors.New("data after the array of results")
	}
	return recs, 0, nil
}
