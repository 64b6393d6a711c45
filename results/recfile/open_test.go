package recfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordLine is one valid record of target 198.18.x.y.
func recordLine(i int) string {
	return fmt.Sprintf(`{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.%d.%d","seq":1,"outcome":"reply","rtt_ms":0.2}`+"\n", i/256, i%256)
}

func TestOpenTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sweep.jsonl")
	whole := recordLine(1) + recordLine(2)
	if err := os.WriteFile(path, []byte(whole+`{"time":"2026-11-21T22:00:00.1Z","vant`), 0o600); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	f, err := Open(path, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(recordLine(3)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != whole+recordLine(3) {
		t.Errorf("file after repair and append:\n%s", b)
	}
	if !strings.Contains(warn.String(), path) || !strings.Contains(warn.String(), "cut short") {
		t.Errorf("no word of the repair: %q", warn.String())
	}
	// A whole file is left as it is, silently.
	warn.Reset()
	f, err = Open(path, &warn)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b2, _ := os.ReadFile(path); string(b2) != string(b) || warn.Len() != 0 {
		t.Errorf("whole file changed (%q) or warned about (%q)", b2, warn.String())
	}
	if recs, err := ReadFile(path); err != nil || len(recs) != 3 {
		t.Errorf("reading the repaired file: %d records, %v", len(recs), err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new.jsonl")); fi != nil {
		t.Fatal("new.jsonl exists")
	}
	f, err = Open(filepath.Join(dir, "new.jsonl"), &warn)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(dir, "new.jsonl")); fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("new record file is %v; want no group write and nothing for others", fi.Mode().Perm())
	}
}

// TestLastNewline: the length kept is up to the last newline, however far
// back it is.
func TestLastNewline(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	for _, c := range []struct {
		name, content string
		want          int64
	}{
		{"whole", "a\nb\n", 4},
		{"torn", "a\nb", 2},
		{"no newline", "abc", 0},
		{"torn tail longer than the buffer", "a\n" + long, 2},
		{"newline far back", long + "\n" + long, int64(len(long)) + 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			os.WriteFile(path, []byte(c.content), 0o600)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got, err := lastNewline(f, int64(len(c.content))); err != nil || got != c.want {
				t.Errorf("lastNewline = %d, %v; want %d", got, err, c.want)
			}
		})
	}
}

func TestOpenOut(t *testing.T) {
	var stdout, warn strings.Builder
	for _, path := range []string{"", "-"} {
		w, closeOut, err := OpenOut(path, &stdout, &warn)
		if err != nil || w != &stdout || closeOut() != nil {
			t.Errorf("OpenOut(%q) = %v, %v; want stdout", path, w, err)
		}
	}
	path := filepath.Join(t.TempDir(), "recs.jsonl")
	w, closeOut, err := OpenOut(path, &stdout, &warn)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, recordLine(1))
	if err := closeOut(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != recordLine(1) {
		t.Errorf("file holds %q", b)
	}
	if _, _, err := OpenOut(filepath.Join(path, "sub"), &stdout, &warn); err == nil {
		t.Error("opened a file below a file")
	}
}
