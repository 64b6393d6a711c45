package recfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/results"
)

func TestExport(t *testing.T) {
	recs := []results.Record{{Vantage: "vp1", Target: "198.18.0.1"}, {Vantage: "vp1", Target: "198.18.0.2"}}
	each := func(write func(results.Record)) error {
		for _, r := range recs {
			write(r)
		}
		return nil
	}
	var out strings.Builder
	if n, err := Export("-", &out, each); n != 2 || err != nil || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("to w: %d, %v, %q", n, err, out.String())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	if n, err := Export(path, nil, each); n != 2 || err != nil {
		t.Fatalf("to a file: %d, %v", n, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Count(string(b), "\n") != 2 {
		t.Errorf("file %q", b)
	}
	fail := func(write func(results.Record)) error { write(recs[0]); return errors.New("store gone") }
	if _, err := Export(path, nil, fail); err == nil || err.Error() != "store gone" {
		t.Errorf("a failed walk: %v", err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("a failed export changed the file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left: %v", ents)
	}
	if _, err := Export(filepath.Join(dir, "no", "dir.jsonl"), nil, each); err == nil {
		t.Error("exported into a missing directory")
	}
}
