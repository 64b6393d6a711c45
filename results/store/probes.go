package store

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"darkwatch/results"
)

// EachProbe is EachRecord of [since, until) for an analysis
// (results.ProbeSource): the same records in the same order, but each
// decoded only when its turn comes, its target an address rather than
// text. A goroutine of its own reads, decodes and merges the chunks while
// fn runs, and hands the records over in batches of probeBatchLen, at most
// probeBatches of them in flight: what the walk holds is those batches and
// the packed chunks that overlap in time, never the chunks decoded.
func (s *Store) EachProbe(ctx context.Context, since, until time.Time, fn func(*results.Record, netip.Addr) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full, free := make(chan *probeBatch, probeBatches), make(chan *probeBatch, probeBatches)
	for range probeBatches {
		free <- &probeBatch{}
	}
	walked := make(chan error, 1)
	go func() {
		defer close(full)
		walked <- s.walkProbes(ctx, since, until, full, free)
	}()
	var err error
	for b := range full {
		for i := 0; err == nil && i < len(b.recs); i++ {
			if err = fn(&b.recs[i], b.addrs[i]); err != nil {
				cancel() // the walk stops; the batches on their way are dropped
			}
		}
		free <- b
	}
	if werr := <-walked; err == nil {
		err = werr
	}
	return err
}

// Batches of records EachProbe hands over: how many records a batch
// holds, and how many batches there are.
const (
	probeBatchLen = 2048
	probeBatches  = 4
)

// probeBatch is a run of records, with their targets' addresses.
type probeBatch struct {
	recs  []results.Record
	addrs []netip.Addr
}

// walkProbes is EachProbe's reading goroutine: it fills batches taken from
// free with the records in order, and sends them on full.
func (s *Store) walkProbes(ctx context.Context, since, until time.Time, full, free chan *probeBatch) error {
	var b *probeBatch
	send := func() error {
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.eachProbe(ctx, since, until, func(r *results.Record, a netip.Addr) error {
		if b == nil {
			select {
			case b = <-free:
				b.recs, b.addrs = b.recs[:0], b.addrs[:0]
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		b.recs, b.addrs = append(b.recs, *r), append(b.addrs, a)
		if len(b.recs) < probeBatchLen {
			return nil
		}
		return send()
	})
	if err == nil && b != nil {
		err = send()
	}
	return err
}

// eachProbe is EachProbe in the caller's goroutine: fn's record is valid
// only during the call.
func (s *Store) eachProbe(ctx context.Context, since, until time.Time, fn func(*results.Record, netip.Addr) error) error {
	sel, err := selectChunks(Query{Since: since, Until: until})
	if err != nil {
		return err
	}
	var m probeMerge
	query := s.b.query
	if sc, ok := s.b.(scanner); ok {
		query = sc.scan
	}
	err = query(ctx, sel.sql, sel.args, func(scan func(...any) error) error {
		var (
			vantage string
			first   int64
			data    []byte
		)
		if err := scan(&vantage, &first, &data); err != nil {
			return err
		}
		if err := m.emitBefore(first, sel.keep, fn); err != nil {
			return err
		}
		return m.add(results.NewProbeReader(data, vantage), vantage, first)
	})
	if err == nil {
		err = m.emitBefore(maxNano, sel.keep, fn)
	}
	var stop stopWalk
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stop):
		return stop.err
	}
	return fmt.Errorf("store %s: records: %w", s.b.name(), err)
}

// scanner is a backend that runs a query reading many pages once each in a
// way of its own (SQLite's, with a small page cache).
type scanner interface {
	scan(ctx context.Context, query string, args []any, row func(func(...any) error) error) error
}

// probeMerge merges the records of overlapping chunks, each in (time, id)
// order, as recordMerge does: a heap of the chunks' readers, each at its
// next record.
type probeMerge []*probeRun

// probeRun is one chunk's reader at its next record.
type probeRun struct {
	rd      *results.ProbeReader
	vantage string // the chunk's vantage point
	first   int64  // the chunk's first time, for errors
	ns      int64  // the next record's time
	id      []byte // the next record's id, once a tie has needed it
}

func (m probeMerge) Len() int { return len(m) }
func (m probeMerge) Less(i, j int) bool {
	a, b := m[i], m[j]
	if a.ns != b.ns {
		return a.ns < b.ns
	}
	if c, ok := compareVantages(a.vantage, b.vantage); ok {
		return c < 0
	}
	return bytes.Compare(a.nextID(), b.nextID()) < 0
}

// compareVantages compares the IDs of two records of vantage points a and b
// when their vantage points decide it, which ok reports: an ID begins with
// its vantage point and a slash.
func compareVantages(a, b string) (c int, ok bool) {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c, true
	}
	switch {
	case len(a) < len(b) && b[n] != '/': // a's slash against a byte of b
		return cmp.Compare('/', b[n]), true
	case len(b) < len(a) && a[n] != '/':
		return cmp.Compare(a[n], '/'), true
	}
	return 0, false
}
func (m probeMerge) Swap(i, j int) { m[i], m[j] = m[j], m[i] }
func (m *probeMerge) Push(x any)   { *m = append(*m, x.(*probeRun)) }
func (m *probeMerge) Pop() any {
	old := *m
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*m = old[:len(old)-1]
	return x
}

// nextID is the id of the run's next record (results.Record.ID), found
// once a tie needs it.
func (r *probeRun) nextID() []byte {
	if len(r.id) == 0 {
		r.id = r.rd.AppendID(r.id)
	}
	return r.id
}

// next moves the run to its next record and reports whether it has one.
func (r *probeRun) next() (bool, error) {
	r.id = r.id[:0]
	if !r.rd.Next() {
		if err := r.rd.Err(); err != nil {
			rec, _ := r.rd.Record()
			return false, fmt.Errorf("chunk of %s at %d: %w", rec.Vantage, r.first, err)
		}
		return false, nil
	}
	rec, _ := r.rd.Record()
	r.ns = rec.Time.UnixNano()
	return true, nil
}

// add joins a chunk's reader to the merge.
func (m *probeMerge) add(rd *results.ProbeReader, vantage string, first int64) error {
	r := &probeRun{rd: rd, vantage: vantage, first: first}
	ok, err := r.next()
	if ok {
		heap.Push(m, r)
	}
	return err
}

// emitBefore gives fn, in order, every record earlier than ns that keep
// keeps.
func (m *probeMerge) emitBefore(ns int64, keep func(*results.Record) bool, fn func(*results.Record, netip.Addr) error) error {
	for len(*m) > 0 {
		top := (*m)[0]
		if top.ns >= ns {
			return nil
		}
		if rec, addr := top.rd.Record(); keep(rec) {
			if err := fn(rec, addr); err != nil {
				return stopWalk{err}
			}
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return nil
}
