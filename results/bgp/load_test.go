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

// TestSettled: a file is read only once it stayed the same for a look, or
// when it is older than two intervals; one still growing is left alone.
func TestSettled(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	a, b := fileStamp{100, t0}, fileStamp{200, t0.Add(time.Millisecond)}
	for _, c := range []struct {
		name      string
		prev, now fileStamp
		looked    bool
		age       time.Duration
		want      bool
	}{
		{"new file, first look", fileStamp{}, b, false, 10 * time.Millisecond, false},
		{"grew since the last look", a, b, true, 10 * time.Millisecond, false},
		{"same as at the last look", b, b, true, 10 * time.Millisecond, true},
		{"there before the watch began", fileStamp{}, b, false, time.Second, true},
		{"grew, but long ago", a, b, true, time.Second, true},
	} {
		if got := settled(c.prev, c.now, c.looked, c.age, 100*time.Millisecond); got != c.want {
			t.Errorf("%s: settled %v, want %v", c.name, got, c.want)
		}
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
