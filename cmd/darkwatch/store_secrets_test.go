package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/internal/cli"
	"darkwatch/results/store"
)

// TestStoreSecrets: a store DSN's password never reaches a log; a password
// file others may read is refused, and one only the owner reads goes into
// the DSN.
func TestStoreSecrets(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://dw:s3cret@db.example:5432/dw":            "postgres://dw:REDACTED@db.example:5432/dw",
		"postgres://dw@db.example/dw?password=s3cret&x=1":    "postgres://dw@db.example/dw?password=REDACTED&x=1",
		"sqlite:///var/lib/darkwatch/darkwatch.db":           "sqlite:///var/lib/darkwatch/darkwatch.db",
		"postgres://dw:s3cret@db.example:5432/dw?sslmode=on": "postgres://dw:REDACTED@db.example:5432/dw?sslmode=on",
	} {
		if got := store.Redact(dsn); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", dsn, got, want)
		}
	}
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pass")
	os.WriteFile(open, []byte("s3cret\n"), 0o644)
	// The command refuses a readable file before it opens anything.
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("store: postgres://dw@192.0.2.1:1/dw\nstore_password_file: "+open+"\n"), 0o600)
	code, _, stderr := runCLI(t, "--config", cfg, "verdict")
	if code != cli.Usage || !strings.Contains(stderr, "store_password_file") || strings.Contains(stderr, "s3cret") {
		t.Errorf("exit %d, stderr %q: want 2 naming store_password_file", code, stderr)
	}
}
