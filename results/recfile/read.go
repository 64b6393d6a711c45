package recfile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"darkwatch/results"
)

// ReadFile reads every record of a JSON Lines file ("-" is standard input).
// The file is checked whole: the first malformed line is an error naming the
// file and line, and then no record is returned.
func ReadFile(name string) ([]results.Record, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var recs []results.Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		rec, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v; nothing of %s imported", name, n, err, name)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w; nothing of it imported", name, err)
	}
	return recs, nil
}

// parseLine reads the one record of a line: no field it does not know, nothing
// after it, and every field a record needs.
func parseLine(line string) (results.Record, error) {
	var rec results.Record
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("not a darkwatch record (%v)", err)
	}
	if off := dec.InputOffset(); off < int64(len(line)) {
		return rec, fmt.Errorf("data after the record at byte %d (one record a line)", off+1)
	}
	if rec.Vantage == "" || rec.Method == "" || rec.Target == "" || rec.Outcome == "" || rec.Time.IsZero() {
		return rec, errors.New("record lacks time, vantage, method, target or outcome")
	}
	return rec, nil
}

// Reader reads every record of a file, or refuses the file whole with an
// error that names it: ReadFile for JSON Lines record files.
type Reader func(name string) ([]results.Record, error)

// ImportFiles stores the records of each file, as read reads them (nil:
// JSON Lines record files, ReadFile), in to, a file in one call, so that
// each is stored whole or not at all, and says on w what became of each:
// imported, with how many records were new, or refused, and why. It returns
// how many files were refused.
func ImportFiles(ctx context.Context, to Ingester, names []string, read Reader, w io.Writer) (refused int) {
	if read == nil {
		read = ReadFile
	}
	for _, name := range names {
		recs, err := read(name)
		if err == nil {
			var added int
			if added, err = to.Ingest(ctx, recs); err == nil {
				fmt.Fprintf(w, "%s: imported: %d records, %d new\n", name, len(recs), added)
				continue
			}
			err = fmt.Errorf("%s: %w; nothing of %s imported", name, err, name)
		}
		refused++
		fmt.Fprintf(w, "%s: refused: %v\n", name, err)
	}
	return refused
}
