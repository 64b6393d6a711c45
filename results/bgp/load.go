package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// ImportBatch is how many routes go to a RouteStore in one call.
const ImportBatch = 5000

// RouteStore is where routes are kept (results/store's stores are
// RouteStores).
type RouteStore interface {
	// PutRoutes stores routes learnt from source in one transaction and
	// returns how many were new.
	PutRoutes(ctx context.Context, source string, routes []Route) (added int, err error)
}

// ImportFile stores the routes of one MRT file in st in batches, under
// the file's base name, and returns how many it read and how many were
// new. Routes before a bad record are stored; the *FormatError is returned.
func ImportFile(ctx context.Context, st RouteStore, file string) (n, added int, err error) {
	source := filepath.Base(file)
	batch := make([]Route, 0, ImportBatch)
	flush := func() error {
		k, err := st.PutRoutes(ctx, source, batch)
		added += k
		batch = batch[:0]
		return err
	}
	readErr := ReadFile(file, func(r Route) error {
		n++
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err := flush(); err != nil {
		return n, added, err
	}
	return n, added, readErr
}

// fileStamp tells a file's versions apart.
type fileStamp struct {
	size int64
	mod  time.Time
}

// Watch imports the MRT files that paths name (see Files), and then every
// new or changed one, looking every interval, until ctx ends (then it
// returns nil). A file is read once it is settled (see settled), so that a
// file still being written is not read half-way; one that ends mid-record
// and changed lately is tried again. Only a store that fails stops it.
func Watch(ctx context.Context, st RouteStore, paths []string, interval time.Duration, log *slog.Logger) error {
	w := watcher{st: st, interval: interval, log: log, done: map[string]fileStamp{}, seen: map[string]fileStamp{}}
	for {
		files, err := Files(paths)
		if err != nil {
			log.Warn("bgp import: looking for files", "err", err)
		}
		for _, f := range files {
			if err := w.file(ctx, f); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// watcher is Watch's state: the version of each file imported, and the
// version each file had at the previous look.
type watcher struct {
	st         RouteStore
	interval   time.Duration
	log        *slog.Logger
	done, seen map[string]fileStamp
}

// settled reports whether a file whose version is now, and was prev at the
// previous look (looked: there was one), may be read: it has not changed for
// a whole interval, or it was last changed more than two intervals ago (a
// file already there when the watch starts).
func settled(prev, now fileStamp, looked bool, age, interval time.Duration) bool {
	return looked && prev == now || age > 2*interval
}

// file imports f unless its present version is imported already or not
// settled yet, and records the version once imported.
func (w *watcher) file(ctx context.Context, f string) error {
	fi, err := os.Stat(f)
	if err != nil {
		return nil
	}
	now := fileStamp{fi.Size(), fi.ModTime()}
	prev, looked := w.seen[f]
	w.seen[f] = now
	if w.done[f] == now || !settled(prev, now, looked, time.Since(now.mod), w.interval) {
		return nil
	}
	n, added, err := ImportFile(ctx, w.st, f)
	var fe *FormatError
	switch {
	case errors.As(err, &fe) && time.Since(now.mod) < 2*w.interval:
		w.log.Info("bgp import: incomplete, trying again later", "file", f, "routes", n)
		return nil
	case errors.As(err, &fe):
		w.log.Warn("bgp import: imported up to a bad record", "err", err, "routes", n, "new", added)
	case err != nil:
		return fmt.Errorf("%s: %w (%d routes added before it)", f, err, added)
	default:
		w.log.Info("bgp import", "file", f, "routes", n, "new", added)
	}
	w.done[f] = now
	return nil
}
