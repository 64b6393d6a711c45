// Package store holds darkwatch's results at rest: probe records, verdicts,
// outage events, the census of blocks and the per-block belief that lets a
// restarted run continue. Two stores share one schema and one list of
// migrations: an embedded SQLite file (the default) and a PostgreSQL database
// for when several vantage points report to one collector.
//
// The store keeps facts and conclusions; it knows nothing of sockets, packets,
// schedules or how a verdict is reached.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"darkwatch/results"
	"darkwatch/results/bgp"
)

// Store keeps records, verdicts, events, the census, beliefs, routes and
// delegations, in SQLite or PostgreSQL: one schema, one set of queries, two
// backends. Every method is safe for concurrent use, and several processes
// may share one store. Its users ask for what they need through small
// interfaces of their own (results.AnalysisStore, schedule.EntitySource,
// recfile.Ingester, ...).
type Store struct {
	b backend
}

// Query selects records. Zero fields select everything; set fields are ANDed.
type Query struct {
	Since time.Time // records at or after Since
	Until time.Time // records before Until

	Vantage string
	Method  string
	Target  string
	// Targets selects records of any of these targets.
	Targets []string
	// Prefix selects records whose target address lies in Prefix.
	Prefix netip.Prefix
	// Round selects one round.
	Round *int64
	// Limit caps how many records are returned; 0 is no cap.
	Limit int
	// Newest, with Limit, returns the newest Limit records, newest first,
	// holding no more than Limit of them at a time.
	Newest bool
}

// VerdictQuery selects verdicts. Zero fields select everything.
type VerdictQuery struct {
	Level  string
	Entity string
	Since  time.Time // verdicts at or after Since
	Until  time.Time // verdicts before Until
	// At, when set, selects for each entity the latest verdict at or before
	// At: the verdicts in force at that time. Until is then not used.
	At time.Time
}

// Block is one /24 (IPv4) or /48 (IPv6) block of the census as one vantage
// point saw it (Vantage is empty for a census merged across vantage points)
// with one method: each method has a census of its own.
type Block struct {
	Prefix  netip.Prefix
	Vantage string
	// Method is the method the census was taken with, as configured: "icmp"
	// or "tcp:80". An empty Method is stored as "icmp".
	Method string
	// E is the ever-responsive addresses of the block, E(b).
	E []netip.Addr
	// A is their availability A(E(b)): the mean response rate over the last
	// censuses.
	A float64
	// Sparse marks a block below Trinocular's thresholds (|E(b)| < 15 or
	// A < 0.1) that darkwatch keeps all the same.
	Sparse   bool
	Censuses int
	Updated  time.Time
}

// Belief is one vantage point's belief about one block after a round, so that
// a restarted run continues where it stopped.
type Belief struct {
	Vantage string
	Block   netip.Prefix
	Round   int64
	// BU is B(U), the belief that the block is up.
	BU      float64
	State   string
	Backoff int
}

// Errors a caller may want to tell apart.
var (
	// ErrNotStore is returned, wrapped with the file's name, by Open for a
	// file that is not a darkwatch store: not SQLite, damaged, or another
	// program's database. Open leaves such a file untouched.
	ErrNotStore = errors.New("not a darkwatch store")
	// ErrInvalidRecord is returned, wrapped with the record's index and id,
	// by Ingest for a record that cannot be stored.
	ErrInvalidRecord = errors.New("invalid record")
)

// NewerSchemaError is returned by Open for a store whose schema a later
// darkwatch wrote.
type NewerSchemaError struct {
	Store  string // the file or database
	Schema int    // the store's schema version
	Known  int    // the newest version this darkwatch knows
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("store %s was written by a newer darkwatch (schema %d, this one knows %d)",
		e.Store, e.Schema, e.Known)
}

// Open opens the store dsn names, creating and migrating it as needed:
//
//	sqlite:///abs/path.db      an SQLite file
//	sqlite://relative.db       an SQLite file relative to the working directory
//	path/to/file.db            the same, a bare path ending in .db
//	postgres://user@host/db    a PostgreSQL database (also postgresql://)
//
// An empty dsn opens DefaultDSN. The directory of an SQLite file is created.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		dsn = DefaultDSN()
	}
	scheme, rest, hasScheme := strings.Cut(dsn, "://")
	switch {
	case hasScheme && strings.EqualFold(scheme, "sqlite"):
		if rest == "" {
			return nil, fmt.Errorf("store: %q names no file", dsn)
		}
		return openSQLite(ctx, rest)
	case hasScheme && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql")):
		return openPostgres(ctx, dsn)
	case !hasScheme && strings.HasSuffix(dsn, ".db"):
		return openSQLite(ctx, dsn)
	}
	return nil, fmt.Errorf("store: unknown store %q: want sqlite:///abs/path.db, sqlite://relative.db, "+
		"a file name ending in .db, or postgres://user@host/db (postgresql:// too)", dsn)
}

// DefaultDSN names the store used when none is configured: darkwatch.db in
// the user's data directory ($XDG_DATA_HOME/darkwatch, else
// ~/.local/share/darkwatch), or /var/lib/darkwatch for root without a home.
func DefaultDSN() string {
	return "sqlite://" + defaultPath(os.Getenv, os.Geteuid())
}

// defaultPath is DefaultDSN's file, given the environment and the user id.
func defaultPath(getenv func(string) string, uid int) string {
	const name = "darkwatch.db"
	if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "darkwatch", name)
	}
	if home := getenv("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "share", "darkwatch", name)
	}
	if uid == 0 {
		return filepath.Join("/var/lib/darkwatch", name)
	}
	// No home to speak of: the working directory is all that is left.
	return name
}

// AnalysisSource is st as what an analysis reads and saves to
// (results.AnalysisStore).
func AnalysisSource(st *Store) results.AnalysisStore { return analysisSource{st} }

// analysisSource adapts a Store to results.AnalysisStore.
type analysisSource struct{ *Store }

func (s analysisSource) EachRecord(ctx context.Context, since, until time.Time, fn func(results.Record) error) error {
	return s.Store.EachRecord(ctx, Query{Since: since, Until: until}, fn)
}

func (s analysisSource) StoredVerdicts(ctx context.Context, level string, since, until time.Time) ([]results.Verdict, error) {
	return s.Verdicts(ctx, VerdictQuery{Level: level, Since: since, Until: until})
}

func (s analysisSource) RoutesUntil(ctx context.Context, until time.Time, fn func(bgp.Route) error) error {
	return s.EachRoute(ctx, RouteQuery{Until: until}, fn)
}

// Census reads the census for an analysis. The blocks of one prefix whose
// E(b) are the same (every vantage point's census of it, often) share one
// slice of it, which the analysis only reads: a census of many blocks is
// held once, not once a vantage point. The names of vantage points and
// methods are held once each too.
func (s analysisSource) Census(ctx context.Context) ([]results.BlockStat, error) {
	blocks, err := s.Blocks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]results.BlockStat, 0, len(blocks))
	var seen [][]netip.Addr // the E(b) of the prefix of the blocks before
	names := map[string]string{}
	for i, b := range blocks {
		b.Vantage, b.Method = intern(names, b.Vantage), intern(names, b.Method)
		if i > 0 && b.Prefix != blocks[i-1].Prefix {
			seen = seen[:0]
		}
		e := b.E
		if j := slices.IndexFunc(seen, func(x []netip.Addr) bool { return slices.Equal(x, e) }); j >= 0 && len(e) > 0 {
			e = seen[j]
		} else {
			seen = append(seen, e)
		}
		out = append(out, results.BlockStat{Vantage: b.Vantage, Method: b.Method, Block: b.Prefix, E: e, A: b.A, Sparse: b.Sparse})
	}
	return out, nil
}

// intern returns the string of names equal to name, which it adds when
// there is none.
func intern(names map[string]string, name string) string {
	if n, ok := names[name]; ok {
		return n
	}
	names[name] = name
	return name
}

// Redact is dsn fit for a log: a PostgreSQL DSN's password, in the URL or
// as a password= option, becomes REDACTED.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(strings.ToLower(dsn), "password") {
			return "(a DSN that could not be read; not shown)"
		}
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// WithPassword is the PostgreSQL URL dsn with password as its user's
// password, for a password read from a file rather than written in the DSN.
func WithPassword(dsn, password string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (!strings.EqualFold(u.Scheme, "postgres") && !strings.EqualFold(u.Scheme, "postgresql")) {
		return "", errors.New("a store password goes only with a PostgreSQL store (postgres://user@host/db)")
	}
	if _, ok := u.User.Password(); ok || u.Query().Has("password") {
		return "", errors.New("the PostgreSQL DSN holds a password already")
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

// Expire keeps st to what was taken in the last keep: it deletes older
// records and verdicts (Retain) at once and then every interval until ctx
// ends, and logs what went or why nothing could. keep zero keeps everything.
// The channel closes when it has stopped.
func Expire(ctx context.Context, st *Store, keep, interval time.Duration, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if keep <= 0 {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			before := time.Now().Add(-keep)
			switch n, err := st.Retain(ctx, before); {
			case err != nil && ctx.Err() == nil:
				log.Warn("retention: old records not deleted", "err", err)
			case n > 0:
				log.Info("retention: deleted records and verdicts", "older than", before.UTC().Format(time.RFC3339), "deleted", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}
