package store

import (
	"context"
	"fmt"
	"time"
)

// migration is one step of the schema. Its statements are written in the SQL
// that SQLite and PostgreSQL share, so both stores have the same tables.
// Versions count up from 1 without gaps; a released migration is never
// edited, only followed by another.
type migration struct {
	version int
	about   string
	stmts   []string
	// convert, when set, runs after stmts in the same transaction: a step
	// that moves rows SQL cannot.
	convert func(ctx context.Context, t tx) error
}

// Schema 1 to 3 kept a row a record, with indexes on time and on (block,
// time); schema 4 packs records in chunks (records.go) and drops that table.
//
// Times are Unix nanoseconds in BIGINT columns (the _ns suffix): exact for the
// records' sub-second times, the same in both stores, and cheap to index.
// Optional values are NULL when absent, so that they read back as they went in;
// so are the text fields of a record that most methods leave empty.
var migrations = []migration{
	{version: 1, about: "records, verdicts, events, census blocks and beliefs", stmts: []string{
		`CREATE TABLE records (
			id        TEXT PRIMARY KEY,
			time_ns   BIGINT NOT NULL,
			vantage   TEXT NOT NULL,
			round     BIGINT NOT NULL,
			method    TEXT NOT NULL,
			target    TEXT NOT NULL,
			block     TEXT NOT NULL,
			port      INTEGER NOT NULL,
			seq       BIGINT NOT NULL,
			outcome   TEXT NOT NULL,
			rtt_ms    DOUBLE PRECISION NOT NULL,
			reply_ttl INTEGER NOT NULL,
			icmp      TEXT,
			error     TEXT,
			proto     TEXT,
			hops      TEXT,
			reached   BOOLEAN,
			qname     TEXT,
			qtype     TEXT,
			rcode     TEXT,
			aa        BOOLEAN,
			answers   INTEGER
		)`,
		`CREATE INDEX records_time ON records (time_ns)`,
		`CREATE INDEX records_block_time ON records (block, time_ns)`,
		`CREATE TABLE verdicts (
			time_ns       BIGINT NOT NULL,
			level         TEXT NOT NULL,
			entity        TEXT NOT NULL,
			verdict       TEXT NOT NULL,
			data_plane    TEXT NOT NULL,
			control_plane TEXT NOT NULL,
			belief        DOUBLE PRECISION,
			vantages_up   INTEGER,
			vantages_down INTEGER,
			vantages_gap  INTEGER,
			methods       TEXT,
			up_blocks     INTEGER,
			total_blocks  INTEGER,
			PRIMARY KEY (level, entity, time_ns)
		)`,
		`CREATE INDEX verdicts_time ON verdicts (time_ns)`,
		`CREATE TABLE events (
			level    TEXT NOT NULL,
			entity   TEXT NOT NULL,
			kind     TEXT NOT NULL,
			start_ns BIGINT NOT NULL,
			end_ns   BIGINT,
			minutes  DOUBLE PRECISION NOT NULL,
			severity DOUBLE PRECISION NOT NULL,
			last_hop TEXT NOT NULL,
			PRIMARY KEY (level, entity, kind, start_ns)
		)`,
		`CREATE INDEX events_start ON events (start_ns)`,
		`CREATE TABLE blocks (
			prefix       TEXT NOT NULL,
			vantage      TEXT NOT NULL,
			responsive   TEXT,
			availability DOUBLE PRECISION NOT NULL,
			sparse       BOOLEAN NOT NULL,
			censuses     INTEGER NOT NULL,
			updated_ns   BIGINT,
			PRIMARY KEY (prefix, vantage)
		)`,
		`CREATE TABLE beliefs (
			vantage TEXT NOT NULL,
			block   TEXT NOT NULL,
			round   BIGINT NOT NULL,
			bu      DOUBLE PRECISION NOT NULL,
			state   TEXT NOT NULL,
			backoff INTEGER NOT NULL,
			PRIMARY KEY (vantage, block)
		)`,
	}},
	{version: 2, about: "node outbox: records not yet acknowledged by the collector", stmts: []string{
		`CREATE TABLE outbox (
			id        TEXT PRIMARY KEY,
			queued_ns BIGINT NOT NULL
		)`,
		// Outbox reads the oldest first.
		`CREATE INDEX outbox_queued ON outbox (queued_ns, id)`,
	}},
	// Routes are control-plane events (results/bgp): announcements,
	// withdrawals, RIB entries and session state changes, keyed by a hash
	// of what they say, so that a file imported twice is stored once; seq
	// keeps the order of routes within one second (an announcement and its
	// withdrawal), which the id cannot.
	{version: 3, about: "routes: the control plane from MRT files and live BGP sessions", stmts: []string{
		`CREATE TABLE routes (
			id        TEXT PRIMARY KEY,
			time_ns   BIGINT NOT NULL,
			kind      TEXT NOT NULL,
			peer      TEXT NOT NULL,
			peer_as   BIGINT NOT NULL,
			prefix    TEXT,
			path_id   BIGINT NOT NULL,
			as_path   TEXT,
			origin    INTEGER,
			next_hop  TEXT,
			old_state INTEGER,
			new_state INTEGER,
			record    TEXT NOT NULL,
			source    TEXT NOT NULL,
			seq       BIGINT NOT NULL
		)`,
		`CREATE INDEX routes_time ON routes (time_ns, seq)`,
		`CREATE INDEX routes_prefix_time ON routes (prefix, time_ns)`,
	}},
	// Records move from a row each to chunks (records.go): a row of
	// record_chunks holds the packed records of one vantage point and one
	// region (a /16 or /32) from one ingest. The outbox now lists chunks.
	{version: 4, about: "records packed in chunks", stmts: []string{
		`CREATE TABLE record_chunks (
			id       TEXT PRIMARY KEY,
			vantage  TEXT NOT NULL,
			region   TEXT NOT NULL,
			first_ns BIGINT NOT NULL,
			last_ns  BIGINT NOT NULL,
			records  INTEGER NOT NULL,
			data     BYTEA NOT NULL
		)`,
		`CREATE INDEX record_chunks_time ON record_chunks (first_ns)`,
		`CREATE INDEX record_chunks_region_time ON record_chunks (region, first_ns)`,
	}, convert: convertRecords},
	// The census is kept per method: a tcp:80 census of a block no longer
	// replaces its icmp census. SQLite cannot change a primary key, so the
	// table is made anew, filled and renamed; the censuses taken before
	// were icmp's (PostgreSQL keeps the key's name, blocks_by_method_pkey).
	{version: 5, about: "census blocks per method", stmts: []string{
		`CREATE TABLE blocks_by_method (
			prefix       TEXT NOT NULL,
			vantage      TEXT NOT NULL,
			method       TEXT NOT NULL,
			responsive   TEXT,
			availability DOUBLE PRECISION NOT NULL,
			sparse       BOOLEAN NOT NULL,
			censuses     INTEGER NOT NULL,
			updated_ns   BIGINT,
			PRIMARY KEY (prefix, vantage, method)
		)`,
		`INSERT INTO blocks_by_method (prefix, vantage, method, responsive, availability, sparse, censuses, updated_ns)
			SELECT prefix, vantage, 'icmp', responsive, availability, sparse, censuses, updated_ns FROM blocks`,
		`DROP TABLE blocks`,
		`ALTER TABLE blocks_by_method RENAME TO blocks`,
	}},
	// Delegations are the records of RIR statistics files (results/geo):
	// which registry gave which addresses and AS numbers to which country.
	// A file replaces the rows of the files of its version line's registry
	// before it, so (file_registry, line) names a row.
	{version: 6, about: "delegations: RIR statistics files", stmts: []string{
		`CREATE TABLE delegations (
			file_registry TEXT NOT NULL,
			line          BIGINT NOT NULL,
			registry      TEXT NOT NULL,
			country       TEXT NOT NULL,
			type          TEXT NOT NULL,
			start         TEXT NOT NULL,
			value         BIGINT NOT NULL,
			prefixes      TEXT,
			date          TEXT,
			status        TEXT NOT NULL,
			opaque_id     TEXT,
			serial        TEXT NOT NULL,
			source        TEXT NOT NULL,
			PRIMARY KEY (file_registry, line)
		)`,
		`CREATE INDEX delegations_country ON delegations (country, type)`,
	}},
	// Packed records gain a DNS reply's answer section, SOA serial and
	// NSID and a probe's source address (results.PackRecords flags them).
	// No table changes: the step only marks the store, so that an older
	// darkwatch, whose chunk reader would refuse those flags as corrupt,
	// refuses the store at Open as newer than itself instead.
	{version: 7, about: "packed records carry DNS answers, SOA serials, NSIDs and source addresses"},
	// What failed in a vantage point's daemon, a row per round and stage
	// (results.Failure), for `verdict --level vantage`.
	{version: 8, about: "failures: the stages of a vantage point's rounds that failed", stmts: []string{
		`CREATE TABLE failures (
			vantage TEXT NOT NULL,
			round   BIGINT NOT NULL,
			stage   TEXT NOT NULL,
			time_ns BIGINT NOT NULL,
			message TEXT NOT NULL,
			PRIMARY KEY (vantage, round, stage)
		)`,
		`CREATE INDEX failures_time ON failures (time_ns)`,
	}},
}

// schemaVersion is the newest schema this darkwatch knows.
func schemaVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the store up to schemaVersion in one transaction, holding
// the store's migration lock so that two processes opening one new store do
// not both create it. A store newer than this darkwatch is refused unchanged.
func migrate(ctx context.Context, b backend) error {
	return b.inTx(ctx, func(t tx) error {
		if err := t.lockSchema(ctx); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER PRIMARY KEY,
			about      TEXT NOT NULL,
			applied_ns BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("store %s: %w", b.name(), err)
		}
		have := 0
		err := t.query(ctx, `SELECT version, about FROM schema_version`, nil, func(scan func(...any) error) error {
			var v int
			var about string
			if err := scan(&v, &about); err != nil {
				return err
			}
			have = max(have, v)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: %s: %w: its schema_version table is not darkwatch's: %v", b.name(), ErrNotStore, err)
		}
		if have > schemaVersion() {
			return &NewerSchemaError{Store: b.name(), Schema: have, Known: schemaVersion()}
		}
		for _, m := range migrations {
			if m.version <= have {
				continue
			}
			for _, s := range m.stmts {
				if _, err := t.exec(ctx, s); err != nil {
					return fmt.Errorf("store %s: migration %d (%s): %w", b.name(), m.version, m.about, err)
				}
			}
			if m.convert != nil {
				if err := m.convert(ctx, t); err != nil {
					return fmt.Errorf("store %s: migration %d (%s): %w", b.name(), m.version, m.about, err)
				}
			}
			if _, err := t.exec(ctx, `INSERT INTO schema_version (version, about, applied_ns) VALUES ($1, $2, $3)`,
				m.version, m.about, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("store %s: migration %d: %w", b.name(), m.version, err)
			}
		}
		return nil
	})
}
