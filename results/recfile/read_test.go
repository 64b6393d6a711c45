package recfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
