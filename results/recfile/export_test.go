package recfile

import (
	"errors"
	"io"
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
	if _, err := Export(path, nil, fail); err == nil || !strings.HasSuffix(err.Error(), "store gone; the file there is unchanged") {
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

// TestWriteOutFailureKeepsOld checks that a failed write leaves the file
// that was there, and no temporary file, and that a good one replaces it
// with its mode.
func TestWriteOutFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.txt")
	os.WriteFile(old, []byte("the good report\n"), 0o640)
	err := WriteOut(old, nil, func(w io.Writer) error {
		w.Write([]byte("half a rep"))
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Errorf("err %v", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "the good report\n" {
		t.Errorf("old report replaced by %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary file left: %v", ents)
	}
	if err := WriteOut(old, nil, func(w io.Writer) error { _, err := w.Write([]byte("new\n")); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o640 {
		t.Errorf("report is %v, want 0640", fi.Mode().Perm())
	}

}
