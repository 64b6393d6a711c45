package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"darkwatch/results"
)

func sqliteDSN(tb testing.TB) string {
	return "sqlite://" + filepath.Join(tb.TempDir(), "darkwatch.db")
}

func openSQLiteTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), sqliteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	testStore(t, openSQLiteTest)
}

func TestSQLiteReopen(t *testing.T) {
	testReopen(t, sqliteDSN)
}

func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg"))
	for _, c := range []struct {
		dsn  string
		file string // relative to dir
	}{
		{"sqlite://relative.db", "relative.db"},
		{"sqlite://" + filepath.Join(dir, "abs", "deeper", "store.db"), "abs/deeper/store.db"},
		{"SQLite://upper.db", "upper.db"},
		{"bare.db", "bare.db"},
		{"sub/dir/bare.db", "sub/dir/bare.db"},
		{"", "xdg/darkwatch/darkwatch.db"},
	} {
		t.Run(c.dsn, func(t *testing.T) {
			s, err := Open(ctx, c.dsn)
			if err != nil {
				t.Fatal(err)
			}
			ingest(t, s, fieldRecords()[:1])
			s.Close()
			if _, err := os.Stat(filepath.Join(dir, c.file)); err != nil {
				t.Errorf("%q made no %s: %v", c.dsn, c.file, err)
			}
		})
	}
	for _, dsn := range []string{"mysql://db", "store.sqlite", "sqlite://", "/var/lib/darkwatch/", "redis://x.db"} {
		t.Run(dsn, func(t *testing.T) {
			_, err := Open(ctx, dsn)
			if err == nil {
				t.Fatalf("Open(%q) succeeded", dsn)
			}
			if dsn != "sqlite://" {
				for _, w := range []string{"sqlite:///abs/path.db", "sqlite://relative.db", ".db", "postgres://"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		uid  int
		want string
	}{
		{map[string]string{"XDG_DATA_HOME": "/x/data", "HOME": "/home/u"}, 1000, "/x/data/darkwatch/darkwatch.db"},
		{map[string]string{"XDG_DATA_HOME": "relative", "HOME": "/home/u"}, 1000, "/home/u/.local/share/darkwatch/darkwatch.db"},
		{map[string]string{"HOME": "/root"}, 0, "/root/.local/share/darkwatch/darkwatch.db"},
		{map[string]string{}, 0, "/var/lib/darkwatch/darkwatch.db"},
		{map[string]string{}, 1000, "darkwatch.db"},
	} {
		if got := defaultPath(func(k string) string { return c.env[k] }, c.uid); got != c.want {
			t.Errorf("defaultPath(%v, uid %d) = %q, want %q", c.env, c.uid, got, c.want)
		}
	}
	if d := DefaultDSN(); !strings.HasPrefix(d, "sqlite://") || !strings.HasSuffix(d, "/darkwatch/darkwatch.db") && d != "sqlite://darkwatch.db" {
		t.Errorf("DefaultDSN() = %q", d)
	}
}

// TestOpenRefusesNonStore opens files that are not darkwatch stores: each is
// refused with an error that names it, and left as it was.
func TestOpenRefusesNonStore(t *testing.T) {
	ctx := context.Background()
	garbage := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for _, c := range []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"text", func(t *testing.T, path string) {
			write(t, path, []byte("vantage: vp-fra1\nstore: here\n"))
		}, "not an SQLite database"},
		{"short", func(t *testing.T, path string) {
			write(t, path, append([]byte("SQLite format 3\x00"), 1, 2, 3))
		}, "not an SQLite database"},
		{"garbage after the header", func(t *testing.T, path string) {
			write(t, path, append([]byte("SQLite format 3\x00"), garbage...))
		}, ErrNotStore.Error()},
		{"damaged header", func(t *testing.T, path string) {
			b := storeBytes(t)
			copy(b[16:24], garbage) // page size, versions, reserved space
			write(t, path, b)
		}, ErrNotStore.Error()},
		{"damaged pages", func(t *testing.T, path string) {
			b := storeBytes(t)
			copy(b[4096:], garbage) // all but the first page
			for i := 4096 + len(garbage); i < len(b); i++ {
				b[i] = 0xa5
			}
			write(t, path, b)
		}, ErrNotStore.Error()},
		{"someone else's SQLite", func(t *testing.T, path string) {
			foreignSQLite(t, path, `CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('kim')`)
		}, "other tables (people)"},
		{"someone else's schema_version", func(t *testing.T, path string) {
			foreignSQLite(t, path, `CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (7)`)
		}, ErrNotStore.Error()},
		{"newer darkwatch", func(t *testing.T, path string) {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			ingest(t, s, fieldRecords())
			s.b.exec(ctx, "INSERT INTO schema_version VALUES (99, 'future', 0)")
			s.Close()
		}, fmt.Sprintf("was written by a newer darkwatch (schema 99, this one knows %d)", schemaVersion())},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "store.db")
			c.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, "sqlite://"+path)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s and say %q", err, path, c.want)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("the file was modified")
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"store.db"}) {
				t.Errorf("the directory now holds %v", names)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store.db")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, dir); !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), dir) {
			t.Errorf("opening a directory: %v", err)
		}
	})
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// storeBytes returns the bytes of a closed darkwatch store with records.
func storeBytes(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, s, sampleRecords("vp1", 1, 2000, t0))
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 64<<10 {
		t.Fatalf("store is only %d bytes", len(b))
	}
	return b
}

// foreignSQLite makes an SQLite file of another program's.
func foreignSQLite(t *testing.T, path, script string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for s := range strings.SplitSeq(script, ";") {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestSQLiteSetup checks the journal mode and that time queries of a target
// or a block use their indexes.
func TestSQLiteSetup(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteTest(t)
	b := s.b
	var mode string
	if err := b.query(ctx, "PRAGMA journal_mode", nil, func(scan func(...any) error) error { return scan(&mode) }); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	since := t0.Add(time.Hour)
	for _, c := range []struct {
		q     Query
		index string
	}{
		{Query{Target: "198.18.0.1", Since: since}, "record_chunks_region_time"},
		{Query{Prefix: netip.MustParsePrefix("198.18.0.0/24"), Since: since}, "record_chunks_region_time"},
		{Query{Prefix: netip.MustParsePrefix("198.18.0.0/22"), Since: since}, "record_chunks_region_time"},
		{Query{Since: since}, "record_chunks_time"},
	} {
		sel, err := selectChunks(c.q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = b.query(ctx, "EXPLAIN QUERY PLAN "+sel.sql, sel.args, func(scan func(...any) error) error {
			var id, parent, unused int
			var detail string
			if err := scan(&id, &parent, &unused, &detail); err != nil {
				return err
			}
			plan = append(plan, detail)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(plan, "; "), c.index) {
			t.Errorf("%+v: plan %q does not use %s", c.q, plan, c.index)
		}
	}
}

// TestSQLiteTwoStores has two stores of one file ingest at once, as two
// processes on one host would.
func TestSQLiteTwoStores(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	stores := make([]*Store, 2)
	for i := range stores {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	shared := sampleRecords("vp-shared", 1, 2000, t0)
	var wg sync.WaitGroup
	added := make([]int, 2)
	for i, s := range stores {
		wg.Go(func() {
			own := sampleRecords(fmt.Sprintf("vp%d", i), 1, 20000, t0)
			for j := 0; j < 20; j++ {
				batch := slices.Concat(own[j*1000:(j+1)*1000], shared[j*100:(j+1)*100])
				n, err := s.Ingest(ctx, batch)
				if err != nil {
					t.Error(err)
					return
				}
				added[i] += n
				// Reads go on beside the other store's writes.
				if _, err := s.Records(ctx, Query{Vantage: "vp-shared", Limit: 10}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := added[0] + added[1]; got != 42000 {
		t.Errorf("added %d, want 42000", got)
	}
	if n := count(t, stores[0]); n != 42000 {
		t.Errorf("store holds %d, want 42000", n)
	}
}

// TestSQLiteTwoProcesses has two child processes and this one ingest into one
// file at once.
func TestSQLiteTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped in -short mode")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	start := time.Now().Add(time.Second)
	var children []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteHelperProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"DARKWATCH_STORE_HELPER_DB="+path,
			"DARKWATCH_STORE_HELPER_VANTAGE="+fmt.Sprintf("vp-child%d", i),
			"DARKWATCH_STORE_HELPER_START="+strconv.FormatInt(start.UnixNano(), 10))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children, outs = append(children, cmd), append(outs, out)
	}
	added, err := ingestShare(ctx, path, "vp-parent", start)
	if err != nil {
		t.Error(err)
	}
	for i, c := range children {
		err := c.Wait()
		out := outs[i].String()
		if err != nil {
			t.Errorf("child %d: %v\n%s", i, err, out)
			continue
		}
		_, after, ok := strings.Cut(out, "ADDED ")
		n, _ := strconv.Atoi(strings.Fields(after + " x")[0])
		if !ok || n == 0 {
			t.Errorf("child %d did not say what it added:\n%s", i, out)
		}
		added += n
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const want = 3*helperRecords + helperShared
	if n := count(t, s); n != want || added != want {
		t.Errorf("store holds %d records, processes added %d; want %d", n, added, want)
	}
}

const (
	helperRecords = 30000 // each process's own
	helperShared  = 3000  // every process ingests these too
	helperBatches = 30
)

// ingestShare is one process's part of TestSQLiteTwoProcesses.
func ingestShare(ctx context.Context, path, vantage string, start time.Time) (int, error) {
	s, err := Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	own := sampleRecords(vantage, 1, helperRecords, t0)
	shared := sampleRecords("vp-shared", 1, helperShared, t0)
	time.Sleep(time.Until(start))
	added := 0
	for i := range helperBatches {
		a, b := i*helperRecords/helperBatches, (i+1)*helperRecords/helperBatches
		c, d := i*helperShared/helperBatches, (i+1)*helperShared/helperBatches
		n, err := s.Ingest(ctx, slices.Concat(own[a:b], shared[c:d]))
		if err != nil {
			return added, err
		}
		added += n
		if _, err := s.Records(ctx, Query{Vantage: vantage, Round: new(int64(1)), Limit: 100}); err != nil {
			return added, err
		}
	}
	return added, nil
}

func TestSQLiteHelperProcess(t *testing.T) {
	path := os.Getenv("DARKWATCH_STORE_HELPER_DB")
	if path == "" {
		t.Skip("a child process of TestSQLiteTwoProcesses; runs only when that test starts it")
	}
	ns, _ := strconv.ParseInt(os.Getenv("DARKWATCH_STORE_HELPER_START"), 10, 64)
	added, err := ingestShare(context.Background(), path, os.Getenv("DARKWATCH_STORE_HELPER_VANTAGE"), time.Unix(0, ns))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDED %d\n", added)
}

// TestSQLiteNotLocked checks that a long write in one store makes another
// wait rather than fail.
func TestSQLiteNotLocked(t *testing.T) {
	ctx := context.Background()
	dsn := sqliteDSN(t)
	a, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.b.inTx(ctx, func(t tx) error {
			ks, err := keyRecords([]results.Record{{Time: t0, Vantage: "a", Method: "icmp", Target: "x"}})
			if err != nil {
				return err
			}
			if _, err := putRecords(ctx, t, ks, false, t0); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	time.AfterFunc(500*time.Millisecond, func() { close(release) })
	began := time.Now()
	if _, err := b.Ingest(ctx, sampleRecords("b", 1, 10, t0)); err != nil {
		t.Errorf("ingest beside a held write lock: %v", err)
	}
	if waited := time.Since(began); waited < 400*time.Millisecond {
		t.Errorf("ingest went through a held write lock after %v", waited)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, b); n != 11 {
		t.Errorf("store holds %d, want 11", n)
	}
}
