package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodRecords = `{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.3.4","seq":1,"outcome":"reply","rtt_ms":0.2}
{"time":"2026-11-21T22:00:00.2Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.3.5","seq":1,"outcome":"timeout"}
`

func TestImport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	good := filepath.Join(dir, "good.jsonl")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(good, []byte(goodRecords), 0o644)
	os.WriteFile(bad, []byte(goodRecords+"{\"time\":\"2026-11-21T22:00:01Z\",\"vantage\":\"vp1\",\n"), 0o644)

	code, _, stderr := runCLI(t, "--store", db, "import", good)
	if code != 0 || !strings.Contains(stderr, "2 records, 2 new") {
		t.Fatalf("import: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "import", good)
	if code != 0 || !strings.Contains(stderr, "2 records, 0 new") {
		t.Fatalf("second import is not idempotent: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "import", bad)
	if code != exitSome || !strings.Contains(stderr, "bad.jsonl:3") || !strings.Contains(stderr, "nothing of") {
		t.Fatalf("malformed line: exit %d, %q; want exit 1 naming bad.jsonl:3", code, stderr)
	}
	// What was stored before is all still there.
	code, out, _ := runCLI(t, "--store", db, "--allow", "198.18.0.0/15", "verdict", "--level", "block", "--at", "2026-11-21T22:05:00Z", "--json")
	if code > 1 || !strings.Contains(out, `"entity":"198.18.3.0/24"`) {
		t.Fatalf("verdict after a refused import: exit %d, %q", code, out)
	}
}

func TestStoreBadInput(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "notes.db")
	content := []byte("these are my notes, not a database\n")
	os.WriteFile(foreign, content, 0o644)
	code, _, stderr := runCLI(t, "--store", "sqlite://"+foreign, "verdict")
	if code != exitFailure || !strings.Contains(stderr, "not a darkwatch store") {
		t.Fatalf("foreign file: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(foreign); !bytes.Equal(b, content) {
		t.Fatal("the foreign file was changed")
	}
	code, _, stderr = runCLI(t, "--store", "sqlite://"+filepath.Join(dir, "x.db"), "verdict", "--level", "galaxy")
	if code != exitUsage || !strings.Contains(stderr, "galaxy") {
		t.Fatalf("unknown level: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", "mysql://x", "verdict")
	if code != exitFailure || !strings.Contains(stderr, "sqlite") {
		t.Fatalf("unknown store scheme: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "report", "--format", "pdf")
	if code != exitUsage || !strings.Contains(stderr, "html") {
		t.Fatalf("unknown format: exit %d, %q", code, stderr)
	}
}
