package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"darkwatch/results/store/pgtest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv("DARKWATCH_STREAM_DAY"); path != "" { // BenchmarkStreamDay's analysis
		if err := streamDay(path, dayBlocks()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// postgresDSN returns a DSN for a fresh, empty schema of the test server.
func postgresDSN(tb testing.TB) string { return pgtest.DSN(tb) }

func openPostgresTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgres(t *testing.T) {
	testStore(t, openPostgresTest)
}

func TestPostgresReopen(t *testing.T) {
	testReopen(t, postgresDSN)
}

func TestPostgresConcurrentOpen(t *testing.T) {
	// Two processes' worth of stores opening one new database at once: the
	// migration lock lets one create the schema and the other find it.
	dsn := postgresDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
