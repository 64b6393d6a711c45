package bgp

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// routeCounter is a RouteStore that counts what it is given.
type routeCounter struct {
	mu      sync.Mutex
	routes  int
	batches int
}

func (c *routeCounter) PutRoutes(_ context.Context, _ string, routes []Route) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.routes += len(routes)
	c.batches++
	return len(routes), nil
}

func (c *routeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.routes
}

const risUpdates = "../../testdata/mrt/ris.rrc06.updates.1427846400.gz"

// TestImportFile: every route of a real RIS update file reaches the store.
func TestImportFile(t *testing.T) {
	var st routeCounter
	n, added, err := ImportFile(context.Background(), &st, risUpdates)
	if err != nil || n != 1561 || added != 1561 || st.count() != 1561 {
		t.Errorf("read %d, added %d, stored %d, %v; want 1561", n, added, st.count(), err)
	}
}

// TestImportFileTruncated: the routes before a cut are stored, and the
// cut is a FormatError.
func TestImportFileTruncated(t *testing.T) {
	b, err := os.ReadFile(risUpdates)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.gz")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	var st routeCounter
	n, _, err := ImportFile(context.Background(), &st, cut)
	var fe *FormatError
	if !errors.As(err, &fe) || n == 0 || st.count() != n {
		t.Errorf("read %d, stored %d, %v; want the routes before the cut and a FormatError", n, st.count(), err)
	}
}

// TestWatch: a file that appears in a watched directory is imported once,
// and the watch ends with its context.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var st routeCounter
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, &st, []string{dir}, 50*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	b, err := os.ReadFile(risUpdates)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "updates.gz"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute) // a busy machine is slow; a passing run does not wait

	for st.count() < 1561 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // looked at again (4 intervals): not imported twice
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := st.count(); n != 1561 {
		t.Errorf("stored %d routes, want the file's 1561 once", n)
	}
}
