package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLock is the key of the advisory lock that serialises migrations of
// one PostgreSQL database ("darkwatc" in ASCII).
// pgUniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const pgUniqueViolation = "23505"

const migrationLock int64 = 0x6461726b77617463

type pgBackend struct {
	pool *pgxpool.Pool
	desc string
}

// openPostgres opens the PostgreSQL store dsn names, through a pool of
// connections, and runs the pending migrations.
func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password and all.
		return nil, fmt.Errorf("store: cannot parse the PostgreSQL DSN (want postgres://user@host:port/db?options)")
	}
	cc := cfg.ConnConfig
	desc := "postgres://" + cc.User + "@" + cc.Host + ":" + strconv.Itoa(int(cc.Port)) + "/" + cc.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", desc, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store %s: %w", desc, err)
	}
	b := &pgBackend{pool: pool, desc: desc}
	if err := migrate(ctx, b); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{b: b}, nil
}

func (b *pgBackend) name() string { return b.desc }

func (b *pgBackend) close() error {
	b.pool.Close()
	return nil
}

func (b *pgBackend) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (b *pgBackend) query(ctx context.Context, query string, args []any, row func(func(...any) error) error) error {
	rows, err := b.pool.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return pgRows(rows, row)
}

func (b *pgBackend) inTx(ctx context.Context, fn func(tx) error) error {
	return pgx.BeginFunc(ctx, b.pool, func(t pgx.Tx) error { return fn(&pgTx{t}) })
}

func pgRows(rows pgx.Rows, row func(func(...any) error) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

type pgTx struct{ t pgx.Tx }

func (t *pgTx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.t.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (t *pgTx) query(ctx context.Context, query string, args []any, row func(func(...any) error) error) error {
	rows, err := t.t.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return pgRows(rows, row)
}

func (t *pgTx) lockSchema(ctx context.Context) error {
	_, err := t.t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock)
	return err
}

// lockKeys takes a transaction-level advisory lock on a 64-bit hash of
// each key, in the order of the hashes, all in one statement.
func (t *pgTx) lockKeys(ctx context.Context, keys []string) error {
	ids := make([]int64, len(keys))
	for i, k := range keys {
		h := fnv.New64a()
		h.Write([]byte(k))
		ids[i] = int64(h.Sum64())
	}
	slices.Sort(ids)
	_, err := t.t.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::BIGINT[]) WITH ORDINALITY AS l(k, i) ORDER BY i`, slices.Compact(ids))
	return err
}

// execEach sends the n statements in one batch: one round trip.
func (t *pgTx) execEach(ctx context.Context, query string, n int, args func(int) []any) (int64, error) {
	var batch pgx.Batch
	for i := range n {
		batch.Queue(query, args(i)...)
	}
	br := t.t.SendBatch(ctx, &batch)
	var total int64
	for range n {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return total, err
		}
		total += tag.RowsAffected()
	}
	return total, br.Close()
}

// insertNew COPYs the rows straight into table: most batches are wholly
// new. A row already there (a re-delivery, a file imported again) fails the
// COPY with a unique violation; the savepoint undoes it, and the rows go
// through a session-local staging table, from which INSERT ... ON CONFLICT
// moves only the new ones.
func (t *pgTx) insertNew(ctx context.Context, table string, columns []string, rows [][]any) (int64, error) {
	if _, err := t.t.Exec(ctx, `SAVEPOINT insert_copy`); err != nil {
		return 0, err
	}
	n, err := t.t.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	if err == nil {
		_, err = t.t.Exec(ctx, `RELEASE SAVEPOINT insert_copy`)
		return n, err
	}
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != pgUniqueViolation {
		return 0, err
	}
	if _, err := t.t.Exec(ctx, `ROLLBACK TO SAVEPOINT insert_copy`); err != nil {
		return 0, err
	}
	// The staging rows go at commit; a connection reused after a rollback
	// finds the table empty too.
	stage := table + "_stage"
	if _, err := t.t.Exec(ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS `+stage+`
		(LIKE `+table+` INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
		return 0, err
	}
	if _, err := t.t.CopyFrom(ctx, pgx.Identifier{stage}, columns, pgx.CopyFromRows(rows)); err != nil {
		return 0, err
	}
	list := strings.Join(columns, ", ")
	tag, err := t.t.Exec(ctx, "INSERT INTO "+table+" ("+list+") SELECT "+list+" FROM "+stage+" ON CONFLICT DO NOTHING")
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
