package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordLine is one valid record of target 198.18.x.y.
func recordLine(i int) string {
	return fmt.Sprintf(`{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.%d.%d","seq":1,"outcome":"reply","rtt_ms":0.2}`+"\n", i/256, i%256)
}

// storedRecords counts the records of the store by exporting them.
func storedRecords(t *testing.T, db string) int {
	t.Helper()
	code, out, stderr := runCLI(t, "--store", db, "export", "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-23T00:00:00Z")
	if code != 0 {
		t.Fatalf("export: exit %d, %q", code, stderr)
	}
	return strings.Count(out, "\n")
}

func TestImportWholeFiles(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A record the parser takes but the store cannot hold, at line 5,501.
	var big strings.Builder
	for i := range 5500 {
		big.WriteString(recordLine(i))
	}
	big.WriteString(`{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.99.1\u0000","seq":1,"outcome":"reply"}` + "\n")
	late := write("late.jsonl", big.String())
	two := write("two.jsonl", recordLine(1)+strings.TrimSuffix(recordLine(2), "\n")+recordLine(3))
	trailing := write("trailing.jsonl", recordLine(1)+strings.TrimSuffix(recordLine(2), "\n")+" garbage\n")
	good := write("good.jsonl", recordLine(7000)+recordLine(7001))

	code, _, stderr := runCLI(t, "--store", db, "import", late, two, trailing, good)
	if code != exitSome {
		t.Errorf("exit %d, want %d when a file is refused; stderr %q", code, exitSome, stderr)
	}
	for _, want := range []string{
		"late.jsonl: refused", "nothing of " + late,
		"two.jsonl: refused", "two.jsonl:2: data after the record",
		"trailing.jsonl: refused", "trailing.jsonl:2: data after the record",
		"good.jsonl: imported: 2 records, 2 new",
		"3 of 4 files refused",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := storedRecords(t, db); n != 2 {
		t.Errorf("store holds %d records, want only the 2 of good.jsonl", n)
	}
}

func TestRecordFileTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sweep.jsonl")
	whole := recordLine(1) + recordLine(2)
	if err := os.WriteFile(path, []byte(whole+`{"time":"2026-11-21T22:00:00.1Z","vant`), 0o600); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	f, err := openRecordFile(path, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(recordLine(3)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(path)
	if string(b) != whole+recordLine(3) {
		t.Errorf("file after repair and append:\n%s", b)
	}
	if !strings.Contains(warn.String(), path) || !strings.Contains(warn.String(), "cut short") {
		t.Errorf("no word of the repair: %q", warn.String())
	}
	// A whole file is left as it is, silently.
	warn.Reset()
	f, err = openRecordFile(path, &warn)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b2, _ := os.ReadFile(path); string(b2) != string(b) || warn.Len() != 0 {
		t.Errorf("whole file changed (%q) or warned about (%q)", b2, warn.String())
	}
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	if code, _, stderr := runCLI(t, "--store", db, "import", path); code != 0 {
		t.Errorf("import of the repaired file: exit %d, %q", code, stderr)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new.jsonl")); fi != nil {
		t.Fatal("new.jsonl exists")
	}
	f, err = openRecordFile(filepath.Join(dir, "new.jsonl"), &warn)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(dir, "new.jsonl")); fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("new record file is %v; want no group write and nothing for others", fi.Mode().Perm())
	}
}
