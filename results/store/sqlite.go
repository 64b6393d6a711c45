package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// sqliteParams are set on every connection:
//   - busy_timeout: wait up to 10 s for another process's write instead of
//     failing with "database is locked";
//   - synchronous=NORMAL: fsync at checkpoints only, which WAL makes safe;
//   - cache_size: 64 MiB of pages (sqliteCacheKiB), so that the indexes'
//     hot pages stay;
//   - temp_store=MEMORY: a multi-row INSERT's statement journal in memory;
//   - page_size: 16 KiB pages for a new file, a quarter of the writes of
//     4 KiB pages at each commit (ingest measured 15-25 % faster);
//   - wal_autocheckpoint: checkpoint every 2,500 pages (40 MiB) rather
//     than 1,000, so that an index page written by several batches is
//     copied into the database once (it measured 30 % faster);
//   - _txlock=immediate: a write transaction takes the write lock when it
//     begins, so that it never has to upgrade a read lock, which
//     busy_timeout cannot wait for.
const sqliteParams = "_pragma=page_size(16384)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-" + sqliteCacheKiB + ")" +
	"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(2500)&_txlock=immediate"

// The page cache of a connection, in KiB: sqliteCacheKiB as a rule, and
// sqliteScanCacheKiB while it scans the record chunks for an analysis
// (scan), which reads each page once: a full cache would only hold pages
// never read again, and filling and recycling it costs time (a day of
// 10,000 blocks read with 64 MiB of cache took 75 MiB more peak RSS and
// a fifth more CPU time than with 2 MiB).
const (
	sqliteCacheKiB     = "65536"
	sqliteScanCacheKiB = "2048"
)

// sqliteHeader begins every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// sqliteRowsPerInsert is how many rows one INSERT statement carries at
// most: multi-row VALUES cut the per-statement cost. sqliteMaxParams is
// SQLite's limit on a statement's parameters.
const (
	sqliteRowsPerInsert = 200
	sqliteMaxParams     = 32766
)

type sqliteBackend struct {
	db   *sql.DB
	path string
	// mu serialises this process's write transactions, so that they queue
	// here rather than poll SQLite's lock; other processes are waited for
	// by busy_timeout.
	mu sync.Mutex
}

// openSQLite opens the SQLite store at path. A file that exists is checked
// before anything is written to it: it must be an SQLite database that is
// empty or darkwatch's.
func openSQLite(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if err := checkSQLiteFile(abs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// SQLite would create the file 0644; the records are the operator's, and
	// SQLite gives its journal and WAL files the mode of the database.
	if f, err := os.OpenFile(abs, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o640); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	u := url.URL{Path: abs}
	db, err := sql.Open("sqlite", "file:"+u.EscapedPath()+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	b := &sqliteBackend{db: db, path: abs}
	if err := b.setup(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{b: b}, nil
}

// checkSQLiteFile refuses a file that is there and is not SQLite, by its
// first bytes, before SQLite opens it.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("store: %s: %w: it is a directory", path, ErrNotStore)
	}
	if fi.Size() == 0 {
		return nil // a new, empty file: SQLite takes it as an empty database
	}
	head := make([]byte, 100) // SQLite's file header
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	if n < len(head) || !bytes.HasPrefix(head, sqliteHeader) {
		return fmt.Errorf("store: %s: %w: not an SQLite database (it begins %q)", path, ErrNotStore, head[:min(n, 16)])
	}
	return nil
}

// setup checks that the database is empty or darkwatch's, with reads only,
// then turns on WAL and runs the pending migrations.
func (b *sqliteBackend) setup(ctx context.Context) error {
	var tables []string
	err := b.query(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`, nil,
		func(scan func(...any) error) error {
			var name string
			if err := scan(&name); err != nil {
				return err
			}
			tables = append(tables, name)
			return nil
		})
	if err != nil {
		return fmt.Errorf("store: %s: %w: %v", b.path, ErrNotStore, err)
	}
	ours := false
	for _, t := range tables {
		ours = ours || t == "schema_version"
	}
	if len(tables) > 0 && !ours {
		return fmt.Errorf("store: %s: %w: an SQLite database with other tables (%s)", b.path, ErrNotStore, strings.Join(tables, ", "))
	}
	if ours {
		// Read the schema version before anything is written: a newer
		// store is refused unchanged.
		var version, rows int
		err := b.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0), COUNT(about) + COUNT(applied_ns) FROM schema_version`).
			Scan(&version, &rows)
		if err != nil {
			return fmt.Errorf("store: %s: %w: %v", b.path, ErrNotStore, err)
		}
		if version > schemaVersion() {
			return &NewerSchemaError{Store: b.path, Schema: version, Known: schemaVersion()}
		}
	}
	var mode string
	if err := b.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return fmt.Errorf("store %s: journal_mode: %w", b.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store %s: cannot use write-ahead logging here (journal_mode is %s)", b.path, mode)
	}
	return migrate(ctx, b)
}

func (b *sqliteBackend) name() string { return b.path }

func (b *sqliteBackend) close() error { return b.db.Close() }

func (b *sqliteBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlExec(ctx, b.db, anonymous(query), args)
}

func (b *sqliteBackend) query(ctx context.Context, query string, args []any, row func(func(...any) error) error) error {
	return sqlQuery(ctx, b.db, anonymous(query), args, row)
}

// scan is query for a query that reads many pages once each: it runs on a
// connection of its own whose page cache is sqliteScanCacheKiB meanwhile,
// and goes back to the pool with its cache as it was.
func (b *sqliteBackend) scan(ctx context.Context, query string, args []any, row func(func(...any) error) error) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -"+sqliteScanCacheKiB); err != nil {
		return err
	}
	err = sqlQuery(ctx, conn, anonymous(query), args, row)
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = -"+sqliteCacheKiB); err == nil {
		err = rerr
	}
	return err
}

func (b *sqliteBackend) inTx(ctx context.Context, fn func(tx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE, by _txlock
	if err != nil {
		return err
	}
	if err := fn(&sqliteTx{t}); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

type sqliteTx struct{ t *sql.Tx }

func (t *sqliteTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlExec(ctx, t.t, anonymous(query), args)
}

func (t *sqliteTx) query(ctx context.Context, query string, args []any, row func(func(...any) error) error) error {
	return sqlQuery(ctx, t.t, anonymous(query), args, row)
}

func (t *sqliteTx) lockSchema(context.Context) error {
	return nil // BEGIN IMMEDIATE already holds the database's write lock
}

func (t *sqliteTx) lockKeys(context.Context, []string) error {
	return nil // BEGIN IMMEDIATE already holds the database's write lock
}

func (t *sqliteTx) execEach(ctx context.Context, query string, n int, args func(int) []any) (int64, error) {
	st, err := t.t.PrepareContext(ctx, anonymous(query))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	var total int64
	for i := range n {
		res, err := st.ExecContext(ctx, args(i)...)
		if err != nil {
			return total, err
		}
		k, _ := res.RowsAffected()
		total += k
	}
	return total, nil
}

// insertNew inserts many rows a statement, the full-sized statement
// prepared once.
func (t *sqliteTx) insertNew(ctx context.Context, table string, columns []string, rows [][]any) (int64, error) {
	per := min(sqliteRowsPerInsert, sqliteMaxParams/len(columns))
	insert := func(k int) string {
		return anonymous("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " +
			placeholders(k, len(columns)) + " ON CONFLICT DO NOTHING")
	}
	var full *sql.Stmt
	if len(rows) >= per {
		var err error
		if full, err = t.t.PrepareContext(ctx, insert(per)); err != nil {
			return 0, err
		}
		defer full.Close()
	}
	var added int64
	args := make([]any, 0, per*len(columns))
	for len(rows) > 0 {
		k := min(len(rows), per)
		args = args[:0]
		for _, r := range rows[:k] {
			args = append(args, r...)
		}
		var res sql.Result
		var err error
		if k == per {
			res, err = full.ExecContext(ctx, args...)
		} else {
			res, err = t.t.ExecContext(ctx, insert(k), args...)
		}
		if err != nil {
			return added, err
		}
		n, _ := res.RowsAffected()
		added += n
		rows = rows[k:]
	}
	return added, nil
}

// sqlRunner is what *sql.DB and *sql.Tx share.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func sqlExec(ctx context.Context, r sqlRunner, query string, args []any) (int64, error) {
	res, err := r.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func sqlQuery(ctx context.Context, r sqlRunner, query string, args []any, row func(func(...any) error) error) error {
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// anonymous turns the placeholders $1, $2, ... of query into ?, when they
// appear in order and once each, as the shared SQL writes them. SQLite binds
// a numbered parameter by looking its name up in a list, which costs time in
// proportion to the parameters: quadratic for a multi-row INSERT.
func anonymous(query string) string {
	var b strings.Builder
	next := 1
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(query[i+1 : j]); err != nil || n != next {
			return query // not the shared form: leave it to SQLite
		}
		next++
		b.WriteByte('?')
		i = j - 1
	}
	return b.String()
}
