package recfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWholeFailureKeepsOld: a failed write leaves the file there as it was
// and no temporary file; a good one replaces it, mode 0640.
func TestWholeFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.txt")
	os.WriteFile(old, []byte("the good report\n"), 0o640)
	w, err := CreateWhole(old, ".old.txt.tmp*")
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(func(w io.Writer) error {
		w.Write([]byte("half a rep"))
		return errors.New("disk full")
	})
	if err == nil || err.Error() != "disk full" {
		t.Errorf("err %v", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "the good report\n" {
		t.Errorf("old report replaced by %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary file left: %v", ents)
	}
	if w, err = CreateWhole(old, "old.txt.tmp*"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(func(w io.Writer) error { _, err := w.Write([]byte("new\n")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(old); string(b) != "new\n" {
		t.Errorf("file is %q", b)
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o640 {
		t.Errorf("report is %v, want 0640", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary file left: %v", ents)
	}
	if _, err := CreateWhole(filepath.Join(dir, "no", "such", "dir"), "x*"); err == nil {
		t.Error("created in a missing directory")
	}
}
