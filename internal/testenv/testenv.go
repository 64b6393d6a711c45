// Package testenv holds what the tests of every package share about their
// environment: how a test says that something it needs is missing, and the
// one switch that rewrites golden files. It knows nothing of the lab or of
// any package under test.
package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// UpdateVar is the environment variable that, set to 1, makes Golden
// rewrite the golden files instead of comparing with them:
//
//	DARKWATCH_UPDATE_GOLDEN=1 go test ./...
const UpdateVar = "DARKWATCH_UPDATE_GOLDEN"

// Update reports whether golden files are being rewritten.
func Update() bool { return os.Getenv(UpdateVar) == "1" }

// Missing says that something a test needs is not here: root, a Debian
// package, IPv6 loopback. On a developer's machine the test is skipped; in
// CI (CI set), where .ci/run installs everything and runs as root, it fails,
// so that a missing part is never counted as a pass.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI has not what this test needs: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Golden compares got with the file testdata/name, or, with Update, writes
// got there.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if Update() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s=1 go test -run '%s' creates it)", err, UpdateVar, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the test made (%s=1 rewrites it):\n got %q\nwant %q", path, UpdateVar, truncate(got), truncate(want))
	}
}

// truncate keeps the start of a long golden file for the message.
func truncate(b []byte) []byte {
	if len(b) > 2048 {
		return append(b[:2048:2048], "..."...)
	}
	return b
}

// Buffer is a bytes.Buffer that goroutines or a child process write while
// the test reads it: a log sink, a command's stderr.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
