package recfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/results"
)

// TestReadFile: a file is read whole, or refused naming its first bad line.
func TestReadFile(t *testing.T) {
	for _, c := range []struct {
		name, content string
		n             int    // records read
		want          string // in the error; "" for none
	}{
		{"good", recordLine(1) + "\n  \n" + recordLine(2), 2, ""},
		{"empty", "", 0, ""},
		{"two on a line", recordLine(1) + strings.TrimSuffix(recordLine(2), "\n") + recordLine(3), 0, ":2: data after the record"},
		{"trailing garbage", recordLine(1) + strings.TrimSuffix(recordLine(2), "\n") + " garbage\n", 0, ":2: data after the record"},
		{"unknown field", `{"time":"2026-11-21T22:00:00Z","vantage":"vp1","method":"icmp","target":"198.18.0.1","outcome":"reply","color":"red"}` + "\n", 0, ":1: not a darkwatch record"},
		{"torn", recordLine(1) + `{"time":"2026-11-21T22:00:01Z","vantage":"vp1",` + "\n", 0, ":2: not a darkwatch record"},
		{"lacks a target", `{"time":"2026-11-21T22:00:00Z","vantage":"vp1","method":"icmp","outcome":"reply"}` + "\n", 0, ":1: record lacks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "recs.jsonl")
			os.WriteFile(path, []byte(c.content), 0o600)
			recs, err := ReadFile(path)
			if c.want == "" {
				if err != nil || len(recs) != c.n {
					t.Errorf("%d records, %v; want %d", len(recs), err, c.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), path+c.want) || !strings.Contains(err.Error(), "nothing of "+path+" imported") || recs != nil {
				t.Errorf("%d records, %v; want none and an error naming %s%s", len(recs), err, path, c.want)
			}
		})
	}
}

// refusing is an Ingester that refuses the records of target 198.18.0.9.
type refusing struct{ stored int }

func (r *refusing) Ingest(_ context.Context, recs []results.Record) (int, error) {
	for _, rec := range recs {
		if rec.Target == "198.18.0.9" {
			return 0, errors.New("record 0: invalid")
		}
	}
	r.stored += len(recs)
	return len(recs), nil
}

func TestImportFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	good := write("good.jsonl", recordLine(1)+recordLine(2))
	torn := write("torn.jsonl", recordLine(1)+`{"time":`)
	bad := write("bad.jsonl", recordLine(9)+recordLine(3))
	var to refusing
	var out strings.Builder
	refused := ImportFiles(context.Background(), &to, []string{good, torn, bad, filepath.Join(dir, "none")}, nil, &out)
	if refused != 3 || to.stored != 2 {
		t.Errorf("%d refused, %d stored; want 3 and 2", refused, to.stored)
	}
	for _, want := range []string{
		good + ": imported: 2 records, 2 new\n",
		torn + ": refused: " + torn + ":2: not a darkwatch record",
		bad + ": refused: " + bad + ": record 0: invalid; nothing of " + bad + " imported\n",
		"none: refused: open ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("said %q, lacking %q", out.String(), want)
		}
	}
}
