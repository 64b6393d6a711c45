package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/results/store"
)

// TestStoreDSN: a password file others may read is refused, and one only
// the owner reads goes into the DSN.
func TestStoreDSN(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pass")
	private := filepath.Join(dir, "private.pass")
	os.WriteFile(open, []byte("s3cret\n"), 0o644)
	os.WriteFile(private, []byte("s3cret\n"), 0o600)
	if _, err := readPrivateSecret("store_password_file", open); err == nil || !strings.Contains(err.Error(), "others may read it") {
		t.Errorf("a world-readable password file: %v", err)
	}
	pw, err := readPrivateSecret("store_password_file", private)
	if err != nil || pw != "s3cret" {
		t.Fatalf("private password file: %q, %v", pw, err)
	}
	dsn, err := store.WithPassword("postgres://dw@db.example/dw", pw)
	if err != nil || dsn != "postgres://dw:s3cret@db.example/dw" {
		t.Errorf("WithPassword: %q, %v", dsn, err)
	}
	if _, err := store.WithPassword("sqlite:///x.db", pw); err == nil {
		t.Error("a password given to a SQLite store")
	}
	if _, err := store.WithPassword("postgres://dw:other@db.example/dw", pw); err == nil {
		t.Error("a password file besides a password in the DSN")
	}
	for _, c := range []struct {
		name, store, file string
		want, bad         string
	}{
		{"no file", "sqlite:///x.db", "", "sqlite:///x.db", ""},
		{"private file", "postgres://dw@db.example/dw", private, "postgres://dw:s3cret@db.example/dw", ""},
		{"open file", "postgres://dw@db.example/dw", open, "", "store_password_file: " + open + " is -rw-r--r--: others may read it"},
		{"missing file", "postgres://dw@db.example/dw", filepath.Join(dir, "none"), "", "store_password_file"},
		{"sqlite", "sqlite:///x.db", private, "", "store_password_file"},
	} {
		c2 := &Config{Store: c.store, StorePasswordFile: c.file}
		got, err := c2.StoreDSN()
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: %q, %v; want an error saying %q", c.name, got, err, c.bad)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
