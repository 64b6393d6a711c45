package store

import (
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// Records are kept in chunks. A row of record_chunks holds the records of one
// vantage point in one region (the /16 or /32 of their targets) that came in
// one ingest, in (time, id) order, packed by PackRecords: at most
// chunkRecords of them, spanning at most chunkSpan, so that a time query
// knows how far back a chunk may begin.
//
// A record's identity is its id at its time: delivering a record again,
// which repeats its time, stores nothing. Ingest finds the records it has
// already in the chunks of the same vantage point and region whose time
// spans overlap the new records', which for new records is none, and holds a
// lock on the vantage point and region meanwhile. Chunks rather than a row a
// record, and no index entry a record, are what make ingest fast: a row and
// an index entry a record capped PostgreSQL at about 140,000 records a
// second and SQLite at about 160,000.
const (
	chunkRecords = 1024
	chunkSpan    = time.Minute
)

// chunkColumns are the columns of record_chunks that ingest writes.
var chunkColumns = []string{"id", "vantage", "region", "first_ns", "last_ns", "records", "data"}

// Region sizes: the chunks of an IPv4 target hold its /16, those of an IPv6
// target its /32.
const (
	regionBits4 = 16
	regionBits6 = 32
)

// regionOf is the region of a target's chunks ("198.18.0.0/16"), or the
// target itself when it is not an address.
func regionOf(target string) string {
	a, err := netip.ParseAddr(target)
	if err != nil {
		return target
	}
	return regionPrefix(a).String()
}

// regionPrefix is the region of an address.
func regionPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := regionBits6
	if a.Is4() {
		bits = regionBits4
	}
	p, _ := a.Prefix(bits)
	return p
}

// keyed is a record with its key: its time and id.
type keyed struct {
	recordKey
	r *results.Record
}

// recordKey is what tells records apart.
type recordKey struct {
	ns int64
	id string
}

func compareKeyed(a, b keyed) int {
	return cmp.Or(cmp.Compare(a.ns, b.ns), strings.Compare(a.id, b.id))
}

// keyRecords checks recs and returns them keyed, in (time, id) order, each
// record once. A record that cannot be stored fails them all, named.
func keyRecords(recs []results.Record) ([]keyed, error) {
	ks := make([]keyed, len(recs))
	for i := range recs {
		r := &recs[i]
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("store: record %d (%s): %w: %s", i, r.ID(), ErrInvalidRecord, err)
		}
		ks[i] = keyed{recordKey{r.Time.UnixNano(), r.ID()}, r}
	}
	slices.SortFunc(ks, compareKeyed)
	return slices.CompactFunc(ks, func(a, b keyed) bool { return a.recordKey == b.recordKey }), nil
}

// Ingest stores recs in one transaction and returns how many were new.
// It is idempotent by record id and time (results.Record.ID): a record
// already stored, or repeated in recs, is stored once. A record without
// a vantage, method, target or time fails the whole call, naming the
// record, and nothing of recs is stored.
func (s *Store) Ingest(ctx context.Context, recs []results.Record) (int, error) {
	return s.ingest(ctx, recs, false)
}

// IngestQueued is Ingest that also puts the new records of recs in the
// outbox, the records a node still has to deliver to its collector, in
// the same transaction: a record is never stored without being queued.
func (s *Store) IngestQueued(ctx context.Context, recs []results.Record) (int, error) {
	return s.ingest(ctx, recs, true)
}

// ingest stores the new records of recs in one transaction and, when queue
// is set, puts their chunks in the outbox.
func (s *Store) ingest(ctx context.Context, recs []results.Record, queue bool) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	ks, err := keyRecords(recs)
	if err != nil {
		return 0, err
	}
	added := 0
	err = s.b.inTx(ctx, func(t tx) error {
		n, err := putRecords(ctx, t, ks, queue, time.Now())
		added = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: ingest: %w", s.b.name(), err)
	}
	return added, nil
}

// chunkGroup is the records of one vantage point and region.
type chunkGroup struct {
	vantage, region string
	ks              []keyed
}

// putRecords stores the records of ks, which are in (time, id) order,
// that the store does not have yet, and returns how many. queue puts their
// chunks in the outbox too, queued at queued.
func putRecords(ctx context.Context, t tx, ks []keyed, queue bool, queued time.Time) (int, error) {
	groups := groupRecords(ks)
	// Another writer of the same records waits, and then finds them.
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = "records " + g.vantage + " " + g.region
	}
	if err := t.lockKeys(ctx, keys); err != nil {
		return 0, err
	}
	var chunks, outbox [][]any
	var recs []results.Record
	added := 0
	for _, g := range groups {
		for part := range chunked(g.ks) {
			// Looked for a chunk at a time, so that what is read is
			// bounded even when a group spans hours (a node's backlog).
			part, err := newRecords(ctx, t, g.vantage, g.region, part)
			if err != nil {
				return 0, err
			}
			if len(part) == 0 {
				continue
			}
			added += len(part)
			recs = recs[:0]
			for _, k := range part {
				recs = append(recs, *k.r)
			}
			id := chunkID(part[0])
			chunks = append(chunks, []any{id, g.vantage, g.region, part[0].ns, part[len(part)-1].ns,
				int64(len(part)), results.PackRecords(nil, recs)})
			if queue {
				outbox = append(outbox, []any{id, queued.UnixNano()})
			}
		}
	}
	if len(chunks) == 0 {
		return 0, nil
	}
	if _, err := t.insertNew(ctx, "record_chunks", chunkColumns, chunks); err != nil {
		return 0, fmt.Errorf("record chunks: %w", err)
	}
	if queue {
		if _, err := t.insertNew(ctx, "outbox", outboxColumns, outbox); err != nil {
			return 0, fmt.Errorf("outbox: %w", err)
		}
	}
	return added, nil
}

// groupRecords splits ks, which are in (time, id) order, by vantage point
// and region, each group in that order, the groups by region and vantage.
func groupRecords(ks []keyed) []chunkGroup {
	type key struct {
		vantage string
		region  netip.Prefix
		name    string // the target, when it is not an address
	}
	at := make(map[key]int)
	var groups []chunkGroup
	for _, k := range ks {
		g := key{vantage: k.r.Vantage}
		if a, err := netip.ParseAddr(k.r.Target); err == nil {
			g.region = regionPrefix(a)
		} else {
			g.name = k.r.Target
		}
		i, ok := at[g]
		if !ok {
			i = len(groups)
			at[g] = i
			groups = append(groups, chunkGroup{vantage: g.vantage, region: cmp.Or(g.name, g.region.String())})
		}
		groups[i].ks = append(groups[i].ks, k)
	}
	slices.SortFunc(groups, func(a, b chunkGroup) int {
		return cmp.Or(strings.Compare(a.region, b.region), strings.Compare(a.vantage, b.vantage))
	})
	return groups
}

// newRecords returns the records of ks, which are in (time, id) order and
// span at most chunkSpan, that the store does not have: those that no chunk
// of the same vantage point and region overlapping them in time holds.
func newRecords(ctx context.Context, t tx, vantage, region string, ks []keyed) ([]keyed, error) {
	first, last := ks[0].ns, ks[len(ks)-1].ns
	var stored map[recordKey]bool
	err := t.query(ctx, `SELECT data FROM record_chunks
		WHERE region = $1 AND first_ns >= $2 AND first_ns <= $3 AND last_ns >= $4 AND vantage = $5`,
		[]any{region, first - int64(chunkSpan), last, first, vantage}, func(scan func(...any) error) error {
			var data []byte
			if err := scan(&data); err != nil {
				return err
			}
			if stored == nil {
				stored = make(map[recordKey]bool)
			}
			return results.UnpackRecords(data, vantage, func(r *results.Record) error {
				stored[recordKey{r.Time.UnixNano(), r.ID()}] = true
				return nil
			})
		})
	if err != nil || stored == nil {
		return ks, err
	}
	return slices.DeleteFunc(slices.Clone(ks), func(k keyed) bool { return stored[k.recordKey] }), nil
}

// chunked yields ks, which are in time order, in runs that fit a chunk.
func chunked(ks []keyed) func(yield func([]keyed) bool) {
	return func(yield func([]keyed) bool) {
		for len(ks) > 0 {
			n := 1
			for n < len(ks) && n < chunkRecords && ks[n].ns-ks[0].ns <= int64(chunkSpan) {
				n++
			}
			if !yield(ks[:n]) {
				return
			}
			ks = ks[n:]
		}
	}
}

// chunkID names a chunk by its first record, which no other chunk holds.
func chunkID(first keyed) string {
	return first.id + "@" + strconv.FormatInt(first.ns, 10)
}

// Records returns the records q selects, oldest first.
func (s *Store) Records(ctx context.Context, q Query) ([]results.Record, error) {
	var recs []results.Record
	err := s.EachRecord(ctx, q, func(r results.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// stopWalk carries an error from the caller's function through the query
// loop, so that it comes back unwrapped.
type stopWalk struct{ err error }

func (e stopWalk) Error() string { return e.err.Error() }

// errLimit ends a walk that reached its Limit.
var errLimit = errors.New("limit reached")

// EachRecord reads the chunks that may hold records q selects, by their
// first time, and merges their records into (time, id) order: a record
// earlier than the next chunk's first time cannot be preceded by any record
// still to come.
func (s *Store) EachRecord(ctx context.Context, q Query, fn func(results.Record) error) error {
	sel, err := selectChunks(q)
	if err != nil {
		return err
	}
	if q.Newest && q.Limit > 0 {
		return s.eachNewest(ctx, q, fn)
	}
	var m recordMerge
	n := 0
	emit := func(r results.Record) error {
		if err := fn(r); err != nil {
			return stopWalk{err}
		}
		if n++; q.Limit > 0 && n == q.Limit {
			return errLimit
		}
		return nil
	}
	err = s.b.query(ctx, sel.sql, sel.args, func(scan func(...any) error) error {
		var (
			vantage string
			first   int64
			data    []byte
		)
		if err := scan(&vantage, &first, &data); err != nil {
			return err
		}
		var recs []results.Record
		err := results.UnpackRecords(data, vantage, func(r *results.Record) error {
			if sel.keep(r) {
				recs = append(recs, *r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("chunk of %s at %d: %w", vantage, first, err)
		}
		if err := m.emitBefore(first, emit); err != nil {
			return err
		}
		m.add(recs)
		return nil
	})
	if err == nil {
		err = m.emitBefore(maxNano, emit)
	}
	var stop stopWalk
	switch {
	case err == nil, err == errLimit:
		return nil
	case errors.As(err, &stop):
		return stop.err
	}
	return fmt.Errorf("store %s: records: %w", s.b.name(), err)
}

// eachNewest gives fn the newest q.Limit records of q, newest first: the
// walk keeps the latest q.Limit in a ring.
func (s *Store) eachNewest(ctx context.Context, q Query, fn func(results.Record) error) error {
	ring := make([]results.Record, 0, q.Limit)
	next := 0
	q.Newest, q.Limit = false, 0
	err := s.EachRecord(ctx, q, func(r results.Record) error {
		if len(ring) < cap(ring) {
			ring = append(ring, r)
			return nil
		}
		ring[next] = r
		next = (next + 1) % len(ring)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range ring {
		// The newest is just before next.
		if err := fn(ring[(next-1-i+2*len(ring))%len(ring)]); err != nil {
			return err
		}
	}
	return nil
}

// maxNano is later than any record.
const maxNano = int64(math.MaxInt64)

// recordMerge merges the records of overlapping chunks, each in (time, id)
// order: a heap of the chunks' next records.
type recordMerge []*mergeRun

// mergeRun is one chunk's records not yet given out.
type mergeRun struct {
	recs []results.Record
	id   string // the first record's id, once a tie has needed it
}

func (m recordMerge) Len() int { return len(m) }
func (m recordMerge) Less(i, j int) bool {
	a, b := m[i], m[j]
	if ta, tb := a.recs[0].Time, b.recs[0].Time; !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.firstID() < b.firstID()
}
func (m recordMerge) Swap(i, j int) { m[i], m[j] = m[j], m[i] }
func (m *recordMerge) Push(x any)   { *m = append(*m, x.(*mergeRun)) }
func (m *recordMerge) Pop() any {
	old := *m
	x := old[len(old)-1]
	*m = old[:len(old)-1]
	return x
}

// firstID is the id of the run's next record.
func (r *mergeRun) firstID() string {
	if r.id == "" {
		r.id = r.recs[0].ID()
	}
	return r.id
}

// add joins a chunk's records to the merge.
func (m *recordMerge) add(recs []results.Record) {
	if len(recs) > 0 {
		heap.Push(m, &mergeRun{recs: recs})
	}
}

// emitBefore gives emit, in order, every record earlier than ns.
func (m *recordMerge) emitBefore(ns int64, emit func(results.Record) error) error {
	for len(*m) > 0 {
		top := (*m)[0]
		if top.recs[0].Time.UnixNano() >= ns {
			return nil
		}
		if err := emit(top.recs[0]); err != nil {
			return err
		}
		top.recs, top.id = top.recs[1:], ""
		if len(top.recs) == 0 {
			heap.Pop(m)
		} else {
			heap.Fix(m, 0)
		}
	}
	return nil
}

// chunkSelect is a records query: SQL that picks the chunks, and a filter
// of their records.
type chunkSelect struct {
	sql  string
	args []any
	keep func(*results.Record) bool
}

// maxInList is the most values put in one SQL IN list; past it the
// filtering is done here only.
const maxInList = 1000

func selectChunks(q Query) (chunkSelect, error) {
	var w where
	var keeps []func(*results.Record) bool
	if !q.Since.IsZero() {
		since := clampNano(q.Since)
		w.add("first_ns >= " + w.arg(max(since, math.MinInt64+int64(chunkSpan))-int64(chunkSpan)))
		keeps = append(keeps, func(r *results.Record) bool { return r.Time.UnixNano() >= since })
	}
	if !q.Until.IsZero() {
		until := clampNano(q.Until)
		w.add("first_ns < " + w.arg(until))
		keeps = append(keeps, func(r *results.Record) bool { return r.Time.UnixNano() < until })
	}
	if q.Vantage != "" {
		w.add("vantage = " + w.arg(q.Vantage))
	}
	if q.Method != "" {
		keeps = append(keeps, func(r *results.Record) bool { return r.Method == q.Method })
	}
	if q.Target != "" {
		w.add("region = " + w.arg(regionOf(q.Target)))
		keeps = append(keeps, func(r *results.Record) bool { return r.Target == q.Target })
	}
	if q.Round != nil {
		round := *q.Round
		keeps = append(keeps, func(r *results.Record) bool { return r.Round == round })
	}
	if q.Targets != nil {
		set := make(map[string]bool, len(q.Targets))
		var regions []string
		for _, t := range q.Targets {
			set[t] = true
			if g := regionOf(t); !slices.Contains(regions, g) {
				regions = append(regions, g)
			}
		}
		if len(regions) <= maxInList {
			w.add("region IN (" + w.list(regions) + ")")
		}
		keeps = append(keeps, func(r *results.Record) bool { return set[r.Target] })
	}
	if q.Prefix.IsValid() {
		p := unmapPrefix(q.Prefix)
		bits := regionBits6
		if p.Addr().Is4() {
			bits = regionBits4
		}
		switch {
		case p.Bits() >= bits:
			w.add("region = " + w.arg(netip.PrefixFrom(p.Addr(), bits).Masked().String()))
		case bits-p.Bits() <= 10: // at most 1024 regions
			w.add("region IN (" + w.list(blocksIn(p, bits)) + ")")
		}
		if p.Bits() != bits {
			keeps = append(keeps, func(r *results.Record) bool {
				a, err := netip.ParseAddr(r.Target)
				return err == nil && p.Contains(a.Unmap().WithZone(""))
			})
		}
	} else if q.Prefix != (netip.Prefix{}) {
		return chunkSelect{}, fmt.Errorf("store: query: invalid prefix %v", q.Prefix)
	}
	return chunkSelect{
		sql:  "SELECT vantage, first_ns, data FROM record_chunks" + w.String() + " ORDER BY first_ns",
		args: w.args,
		keep: func(r *results.Record) bool {
			for _, k := range keeps {
				if !k(r) {
					return false
				}
			}
			return true
		},
	}, nil
}

// Retain deletes records, verdicts and failures older than before and returns how
// many went; outbox entries of deleted records go with them. Events,
// the census, beliefs and routes stay: a route announced long ago may
// still be in force.
func (s *Store) Retain(ctx context.Context, before time.Time) (int64, error) {
	ns, err := unixNano(before)
	if err != nil {
		return 0, fmt.Errorf("store: retain: %w", err)
	}
	var deleted int64
	err = s.b.inTx(ctx, func(t tx) error {
		trimmed, err := trimChunks(ctx, t, ns)
		if err != nil {
			return err
		}
		var old int64
		err = t.query(ctx, "SELECT COALESCE(SUM(records), 0) FROM record_chunks WHERE last_ns < $1", []any{ns},
			func(scan func(...any) error) error { return scan(&old) })
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM record_chunks WHERE last_ns < $1", ns); err != nil {
			return err
		}
		verdicts, err := t.exec(ctx, "DELETE FROM verdicts WHERE time_ns < $1", ns)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "DELETE FROM failures WHERE time_ns < $1", ns); err != nil {
			return err
		}
		deleted = trimmed + old + verdicts
		// An outbox entry whose chunk is gone has nothing left to send.
		_, err = t.exec(ctx, "DELETE FROM outbox WHERE NOT EXISTS (SELECT 1 FROM record_chunks c WHERE c.id = outbox.id)")
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: retain: %w", s.b.name(), err)
	}
	return deleted, nil
}

// trimChunks replaces each chunk that holds records both before and at or
// after ns by chunks of the later ones, queued if it was, and returns how
// many records it dropped.
func trimChunks(ctx context.Context, t tx, ns int64) (int64, error) {
	type straddler struct {
		id, vantage string
		data        []byte
		queued      sql.NullInt64
	}
	var trim []straddler
	err := t.query(ctx, `SELECT c.id, c.vantage, c.data, o.queued_ns FROM record_chunks c LEFT JOIN outbox o ON o.id = c.id
		WHERE c.first_ns >= $1 AND c.first_ns < $2 AND c.last_ns >= $3`, []any{ns - int64(chunkSpan), ns, ns},
		func(scan func(...any) error) error {
			var c straddler
			if err := scan(&c.id, &c.vantage, &c.data, &c.queued); err != nil {
				return err
			}
			trim = append(trim, c)
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("record chunks: %w", err)
	}
	var dropped int64
	for _, c := range trim {
		var later []keyed
		err := results.UnpackRecords(c.data, c.vantage, func(r *results.Record) error {
			if k := r.Time.UnixNano(); k >= ns {
				rc := *r
				later = append(later, keyed{recordKey{k, rc.ID()}, &rc})
			} else {
				dropped++
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("chunk %s: %w", c.id, err)
		}
		for _, table := range []string{"record_chunks", "outbox"} {
			if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE id = $1", c.id); err != nil {
				return 0, fmt.Errorf("%s: %w", table, err)
			}
		}
		if _, err := putRecords(ctx, t, later, c.queued.Valid, time.Unix(0, c.queued.Int64)); err != nil {
			return 0, err
		}
	}
	return dropped, nil
}

// convertRecords moves the records of schema 3's records table, a row
// each, into chunks, page by page in (time, id) order; the records that
// were in the outbox go into chunks that are. Then it drops the table.
func convertRecords(ctx context.Context, t tx) error {
	queued := make(map[string]int64)
	err := t.query(ctx, `SELECT id, queued_ns FROM outbox`, nil, func(scan func(...any) error) error {
		var id string
		var ns int64
		if err := scan(&id, &ns); err != nil {
			return err
		}
		queued[id] = ns
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := t.exec(ctx, `DELETE FROM outbox`); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	const page = 10000
	after := recordKey{ns: math.MinInt64}
	for {
		recs, err := queryAll(ctx, t, `SELECT `+recordSelectColumns+` FROM records
			WHERE time_ns >= $1 AND (time_ns > $2 OR id > $3) ORDER BY time_ns, id LIMIT $4`,
			[]any{after.ns, after.ns, after.id, page}, scanRecord)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		ks, err := keyRecords(recs)
		if err != nil {
			return err
		}
		var sent, waiting []keyed
		var oldest int64 = math.MaxInt64
		for _, k := range ks {
			if q, ok := queued[k.id]; ok {
				waiting = append(waiting, k)
				oldest = min(oldest, q)
			} else {
				sent = append(sent, k)
			}
		}
		if _, err := putRecords(ctx, t, sent, false, time.Time{}); err != nil {
			return err
		}
		if _, err := putRecords(ctx, t, waiting, true, time.Unix(0, oldest)); err != nil {
			return err
		}
		last := ks[len(ks)-1]
		after = last.recordKey
		if len(recs) < page {
			break
		}
	}
	_, err = t.exec(ctx, `DROP TABLE records`)
	return err
}
