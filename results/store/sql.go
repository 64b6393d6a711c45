package store

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// querier is what the shared SQL needs of a database or a transaction. SQL
// text uses $1, $2, ... placeholders, which both SQLite and PostgreSQL take.
type querier interface {
	// exec runs a statement and returns the rows it affected.
	exec(ctx context.Context, query string, args ...any) (int64, error)
	// query calls row once per result row with a function that scans it.
	query(ctx context.Context, query string, args []any, row func(scan func(dest ...any) error) error) error
}

// tx is a write transaction.
type tx interface {
	querier
	// execEach runs one statement n times, with args(i) for the i-th run.
	execEach(ctx context.Context, query string, n int, args func(i int) []any) (int64, error)
	// insertNew inserts rows of columns into table, skipping rows whose
	// key is stored already, and returns how many were new.
	insertNew(ctx context.Context, table string, columns []string, rows [][]any) (int64, error)
	// lockSchema takes the lock that serialises migrations.
	lockSchema(ctx context.Context) error
	// lockKeys takes, until the transaction ends, a lock on each of keys
	// (in an order of its own, so that two transactions that lock some of
	// the same keys do not wait for each other).
	lockKeys(ctx context.Context, keys []string) error
}

// backend is one kind of database under the shared Store code.
type backend interface {
	querier
	// inTx runs fn in one write transaction, committed when fn returns nil.
	inTx(ctx context.Context, fn func(tx) error) error
	// name names the store in errors: a file, or a database without its
	// password.
	name() string
	close() error
}

// Close releases the store.
func (s *Store) Close() error { return s.b.close() }

// Ping checks that the store answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.b.query(ctx, "SELECT 1", nil, func(scan func(...any) error) error { return scan(&one) }); err != nil {
		return fmt.Errorf("store %s: %w", s.b.name(), err)
	}
	return nil
}

// blocksIn lists the blocks of bits bits that make up p, which is wider.
func blocksIn(p netip.Prefix, bits int) []string {
	base := p.Masked().Addr().AsSlice()
	n := 1 << (bits - p.Bits())
	out := make([]string, 0, n)
	for i := range n {
		a := slices.Clone(base)
		// i fills the bits from p.Bits() up to bits, lowest bit last.
		for bit, v := bits-1, i; v > 0; bit, v = bit-1, v>>1 {
			if v&1 == 1 {
				a[bit/8] |= 1 << (7 - bit%8)
			}
		}
		addr, _ := netip.AddrFromSlice(a)
		out = append(out, netip.PrefixFrom(addr, bits).String())
	}
	return out
}

// PutVerdicts stores verdicts, replacing any with the same time, level
// and entity.
func (s *Store) PutVerdicts(ctx context.Context, vs []results.Verdict) error {
	if len(vs) == 0 {
		return nil
	}
	rows := make([][]any, len(vs))
	for i := range vs {
		var err error
		if rows[i], err = verdictArgs(&vs[i]); err != nil {
			return fmt.Errorf("store: verdict %d (%s %s): %w", i, vs[i].Level, vs[i].Entity, err)
		}
	}
	return s.putAll(ctx, "verdicts", upsertVerdict, rows)
}

// Verdicts returns the verdicts q selects.
func (s *Store) Verdicts(ctx context.Context, q VerdictQuery) ([]results.Verdict, error) {
	var w where
	if q.Level != "" {
		w.add("v.level = " + w.arg(q.Level))
	}
	if q.Entity != "" {
		w.add("v.entity = " + w.arg(q.Entity))
	}
	if !q.Since.IsZero() {
		w.add("v.time_ns >= " + w.arg(clampNano(q.Since)))
	}
	order := " ORDER BY v.time_ns, v.level, v.entity"
	if !q.At.IsZero() {
		w.add("v.time_ns = (SELECT MAX(l.time_ns) FROM verdicts l WHERE l.level = v.level AND l.entity = v.entity AND l.time_ns <= " +
			w.arg(clampNano(q.At)) + ")")
		order = " ORDER BY v.level, v.entity"
	} else if !q.Until.IsZero() {
		w.add("v.time_ns < " + w.arg(clampNano(q.Until)))
	}
	vs, err := queryAll(ctx, s.b, "SELECT "+verdictSelectColumns+" FROM verdicts v"+w.String()+order, w.args, scanVerdict)
	if err != nil {
		return nil, fmt.Errorf("store %s: verdicts: %w", s.b.name(), err)
	}
	return vs, nil
}

// PutEvents stores outage events, replacing any with the same level,
// entity, kind and start (so an ongoing event can be closed later).
func (s *Store) PutEvents(ctx context.Context, es []results.Event) error {
	if len(es) == 0 {
		return nil
	}
	rows, err := eventRows(es)
	if err != nil {
		return err
	}
	return s.putAll(ctx, "events", upsertEvent, rows)
}

// eventRows are the upsertEvent arguments of es.
func eventRows(es []results.Event) ([][]any, error) {
	rows := make([][]any, len(es))
	for i := range es {
		var err error
		if rows[i], err = eventArgs(&es[i]); err != nil {
			return nil, fmt.Errorf("store: event %d (%s %s %s): %w", i, es[i].Level, es[i].Entity, es[i].Kind, err)
		}
	}
	return rows, nil
}

// ReplaceEvents deletes the events drop (by level, entity, kind and
// start) and stores put, in one transaction: what a newer analysis
// concluded replaces what an older one did, even where an event's
// start or kind moved.
func (s *Store) ReplaceEvents(ctx context.Context, drop, put []results.Event) error {
	rows, err := eventRows(put)
	if err != nil {
		return err
	}
	err = s.b.inTx(ctx, func(t tx) error {
		_, err := t.execEach(ctx, "DELETE FROM events WHERE level = $1 AND entity = $2 AND kind = $3 AND start_ns = $4", len(drop),
			func(i int) []any { return []any{drop[i].Level, drop[i].Entity, drop[i].Kind, clampNano(drop[i].Start)} })
		if err != nil {
			return err
		}
		_, err = t.execEach(ctx, upsertEvent, len(rows), func(i int) []any { return rows[i] })
		return err
	})
	if err != nil {
		return fmt.Errorf("store %s: events: %w", s.b.name(), err)
	}
	return nil
}

// Events returns the events that overlap [since, until), by start; a
// zero bound is open.
func (s *Store) Events(ctx context.Context, since, until time.Time) ([]results.Event, error) {
	var w where
	if !since.IsZero() {
		w.add("(end_ns IS NULL OR end_ns > " + w.arg(clampNano(since)) + ")")
	}
	if !until.IsZero() {
		w.add("start_ns < " + w.arg(clampNano(until)))
	}
	es, err := queryAll(ctx, s.b, "SELECT "+eventSelectColumns+" FROM events"+w.String()+" ORDER BY start_ns, level, entity, kind", w.args, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("store %s: events: %w", s.b.name(), err)
	}
	return es, nil
}

// PutBlocks stores census blocks, replacing any with the same prefix,
// vantage and method.
func (s *Store) PutBlocks(ctx context.Context, bs []Block) error {
	if len(bs) == 0 {
		return nil
	}
	rows := make([][]any, len(bs))
	for i := range bs {
		var err error
		if rows[i], err = blockArgs(&bs[i]); err != nil {
			return fmt.Errorf("store: block %d (%v): %w", i, bs[i].Prefix, err)
		}
	}
	return s.putAll(ctx, "blocks", upsertBlock, rows)
}

// Blocks returns the whole census, by prefix, vantage, then method.
func (s *Store) Blocks(ctx context.Context) ([]Block, error) {
	bs, err := queryAll(ctx, s.b, "SELECT "+blockSelectColumns+" FROM blocks", nil, scanBlock)
	if err != nil {
		return nil, fmt.Errorf("store %s: blocks: %w", s.b.name(), err)
	}
	slices.SortFunc(bs, func(x, y Block) int {
		return cmp.Or(comparePrefix(x.Prefix, y.Prefix), strings.Compare(x.Vantage, y.Vantage), strings.Compare(x.Method, y.Method))
	})
	return bs, nil
}

// PutBelief stores per-block beliefs, replacing any with the same
// vantage and block.
func (s *Store) PutBelief(ctx context.Context, bs []Belief) error {
	if len(bs) == 0 {
		return nil
	}
	rows := make([][]any, len(bs))
	for i := range bs {
		var err error
		if rows[i], err = beliefArgs(&bs[i]); err != nil {
			return fmt.Errorf("store: belief %d (%s %v): %w", i, bs[i].Vantage, bs[i].Block, err)
		}
	}
	return s.putAll(ctx, "beliefs", upsertBelief, rows)
}

// Beliefs returns the beliefs of one vantage point (all of them when
// vantage is empty), by vantage then block.
func (s *Store) Beliefs(ctx context.Context, vantage string) ([]Belief, error) {
	var w where
	if vantage != "" {
		w.add("vantage = " + w.arg(vantage))
	}
	bs, err := queryAll(ctx, s.b, "SELECT "+beliefSelectColumns+" FROM beliefs"+w.String(), w.args, scanBelief)
	if err != nil {
		return nil, fmt.Errorf("store %s: beliefs: %w", s.b.name(), err)
	}
	slices.SortFunc(bs, func(x, y Belief) int {
		return cmp.Or(strings.Compare(x.Vantage, y.Vantage), comparePrefix(x.Block, y.Block))
	})
	return bs, nil
}

// queryAll runs query and returns its rows, each read by read.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, read func(func(...any) error, *T) error) ([]T, error) {
	var all []T
	err := q.query(ctx, query, args, func(scan func(...any) error) error {
		var v T
		if err := read(scan, &v); err != nil {
			return err
		}
		all = append(all, v)
		return nil
	})
	return all, err
}

// putAll runs an upsert once per row, in one transaction.
func (s *Store) putAll(ctx context.Context, what, upsert string, rows [][]any) error {
	err := s.b.inTx(ctx, func(t tx) error {
		_, err := t.execEach(ctx, upsert, len(rows), func(i int) []any { return rows[i] })
		return err
	})
	if err != nil {
		return fmt.Errorf("store %s: %s: %w", s.b.name(), what, err)
	}
	return nil
}

// where builds a WHERE clause and its arguments.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// list adds the arguments of an IN list and returns its placeholders.
func (w *where) list(vs []string) string {
	if len(vs) == 0 {
		return "NULL" // IN (NULL) matches nothing, as an empty list should
	}
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(w.arg(v))
	}
	return b.String()
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// placeholders returns "($k, $k+1, ...), (...)" for rows rows of cols
// columns, numbered from 1.
func placeholders(rows, cols int) string {
	var b strings.Builder
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}
