package bgp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDumpFiles: the files are printed as bgpdump -m prints them; a cut file
// is printed up to the cut and named among the bad ones.
func TestDumpFiles(t *testing.T) {
	b, err := os.ReadFile(risUpdates)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.gz")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	full := string(gunzipFile(t, filepath.Join(mrtDir, "expect", filepath.Base(risUpdates)+".bgpdump-m.gz")))
	for _, c := range []struct {
		name  string
		files []string
		bad   int
	}{
		{"whole", []string{risUpdates}, 0},
		{"cut, then whole", []string{cut, risUpdates}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			bad, err := DumpFiles(&out, c.files)
			if err != nil || len(bad) != c.bad {
				t.Fatalf("bad %v, err %v; want %d bad", bad, err, c.bad)
			}
			var fe *FormatError
			if c.bad > 0 && (!errors.As(bad[0], &fe) || !strings.Contains(bad[0].Error(), cut)) {
				t.Errorf("bad %v: want a FormatError naming %s", bad[0], cut)
			}
			if !strings.HasSuffix(out.String(), full) || (c.bad > 0) != (len(out.String()) > len(full)) {
				t.Errorf("printed %d bytes; want the %d of the whole file, after the routes before the cut", out.Len(), len(full))
			}
		})
	}
	if _, err := DumpFiles(&strings.Builder{}, []string{filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("a missing file dumped")
	}
}

// TestImportFiles: each file's counts are said; a cut file is stored up to
// the cut, and its error says how much was.
func TestImportFiles(t *testing.T) {
	b, err := os.ReadFile(risUpdates)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.gz")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	var st routeCounter
	var out strings.Builder
	bad, err := ImportFiles(context.Background(), &st, []string{cut, risUpdates}, &out)
	if err != nil || len(bad) != 1 {
		t.Fatalf("bad %v, err %v", bad, err)
	}
	var fe *FormatError
	if !errors.As(bad[0], &fe) || !strings.Contains(bad[0].Error(), "routes before it stored") {
		t.Errorf("bad %v", bad[0])
	}
	if out.String() != risUpdates+": 1561 routes, 1561 new\n" {
		t.Errorf("said %q", out.String())
	}
	if _, err := ImportFiles(context.Background(), &st, []string{filepath.Join(t.TempDir(), "none")}, &out); err == nil {
		t.Error("a missing file imported")
	}
}
