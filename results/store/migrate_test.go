package store

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"darkwatch/results"
)

func TestMigrateRecordsSQLite(t *testing.T)   { testMigrateRecords(t, sqliteDSN(t)) }
func TestMigrateRecordsPostgres(t *testing.T) { testMigrateRecords(t, postgresDSN(t)) }

// testMigrateRecords fills a store of schema 3, a row a record, some of
// them queued, and checks that schema 4 holds the same records and queues
// the same ones.
func testMigrateRecords(t *testing.T, dsn string) {
	ctx := context.Background()
	all := migrations
	migrations = all[:3]
	s, err := Open(ctx, dsn)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	old := append(sampleRecords("vp1", 1, 12000, t0), schema3Records()...)
	const queued = 1000
	b := s.b
	err = b.inTx(ctx, func(t tx) error {
		if _, err := t.execEach(ctx, `INSERT INTO records (`+v3Columns+`) VALUES `+placeholders(1, 22), len(old),
			func(i int) []any { return v3Args(&old[i]) }); err != nil {
			return err
		}
		_, err := t.execEach(ctx, `INSERT INTO outbox (id, queued_ns) VALUES ($1, $2)`, queued,
			func(i int) []any { return []any{old[i].ID(), int64(i)} })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Records(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(old)
	sortRecords(want)
	sameRecords(t, "migrated", got, want)
	if n, err := s.OutboxLen(ctx, ""); err != nil || n != queued {
		t.Errorf("outbox holds %d (%v), want the %d queued", n, err, queued)
	}
	batches, err := s.Outbox(ctx, "", 2*queued)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range batches {
		for _, r := range batchRecords(t, b) {
			ids = append(ids, r.ID())
		}
	}
	var wantIDs []string
	for _, r := range old[:queued] {
		wantIDs = append(wantIDs, r.ID())
	}
	slices.Sort(ids)
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("outbox holds %d records after the migration, want the %d queued before", len(ids), len(wantIDs))
	}
	if n, err := s.Ingest(ctx, old); err != nil || n != 0 {
		t.Errorf("ingesting the migrated records again added %d (%v), want 0", n, err)
	}
	if _, err := s.b.exec(ctx, `SELECT COUNT(*) FROM records`); err == nil {
		t.Error("schema 3's records table is still there")
	}
}

// v3Columns are the columns of schema 3's records table, in v3Args's order.
const v3Columns = "id, time_ns, vantage, round, method, target, block, port, seq, outcome, rtt_ms, reply_ttl, " +
	"icmp, error, proto, hops, reached, qname, qtype, rcode, aa, answers"

// v3Args is r as a row of schema 3's records table.
func v3Args(r *results.Record) []any {
	var hops, reached, aa, answers any
	if r.Hops != nil {
		b, _ := json.Marshal(r.Hops)
		hops = string(b)
	}
	if r.Reached != nil {
		reached = *r.Reached
	}
	if r.AA != nil {
		aa = *r.AA
	}
	if r.Answers != nil {
		answers = int64(*r.Answers)
	}
	return []any{
		r.ID(), r.Time.UnixNano(), r.Vantage, r.Round, r.Method, r.Target, blockOf(r.Target),
		int64(r.Port), int64(r.Seq), r.Outcome, r.RTTms, int64(r.ReplyTTL),
		nullEmpty(r.ICMP), nullEmpty(r.Error), nullEmpty(r.Proto),
		hops, reached, nullEmpty(r.Qname), nullEmpty(r.Qtype), nullEmpty(r.Rcode), aa, answers,
	}
}

// nullEmpty is s, or NULL for an empty s.
func nullEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestMigrateBlocksSQLite(t *testing.T)   { testMigrateBlocks(t, sqliteDSN(t)) }
func TestMigrateBlocksPostgres(t *testing.T) { testMigrateBlocks(t, postgresDSN(t)) }

// testMigrateBlocks fills the census of a store of schema 4, a row a block
// and vantage, and checks that schema 5 holds the same blocks as icmp's
// census and keeps another method's census of them apart.
func testMigrateBlocks(t *testing.T, dsn string) {
	ctx := context.Background()
	all := migrations
	migrations = all[:4]
	s, err := Open(ctx, dsn)
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	old := []Block{
		{Prefix: netip.MustParsePrefix("100.64.0.0/24"), Vantage: "vp-fra1", A: 0.2, Censuses: 1},
		{Prefix: netip.MustParsePrefix("175.45.176.0/24"), Vantage: "vp-fra1",
			E: []netip.Addr{a("175.45.176.15"), a("175.45.176.16")}, A: 0.85, Sparse: true, Censuses: 3, Updated: t0},
		{Prefix: netip.MustParsePrefix("175.45.176.0/24"), Vantage: "vp-sin1", E: []netip.Addr{}, Censuses: 1, Updated: t0},
	}
	b := s.b
	err = b.inTx(ctx, func(t tx) error {
		_, err := t.execEach(ctx, `INSERT INTO blocks (prefix, vantage, responsive, availability, sparse, censuses, updated_ns)
			VALUES `+placeholders(1, 7), len(old), func(i int) []any {
			args, err := blockArgs(&old[i])
			if err != nil {
				panic(err)
			}
			return slices.Delete(args, 2, 3) // schema 4 has no method
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Blocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(old)
	for i := range want {
		want[i].Method = "icmp"
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("migrated blocks:\n got %+v\nwant %+v", got, want)
	}
	tcp := Block{Prefix: old[1].Prefix, Vantage: "vp-fra1", Method: "tcp:80", E: []netip.Addr{a("175.45.176.80")}, A: 1, Censuses: 1, Updated: t0}
	if err := s.PutBlocks(ctx, []Block{tcp}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Blocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Block{want[0], want[1], tcp, want[2]}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a tcp:80 census:\n got %+v\nwant %+v", got, want)
	}
	if _, err := s.b.exec(ctx, `SELECT COUNT(*) FROM blocks_by_method`); err == nil {
		t.Error("the new census table kept its interim name")
	}
}

// schema3Records are the fieldRecords a schema 3 row holds: without the
// fields packed records gained since (a DNS answer section, SOA serial, NSID
// and source address).
func schema3Records() []results.Record {
	var out []results.Record
	for _, r := range fieldRecords() {
		if r.Answer == nil && r.Serial == nil && r.NSID == "" && r.Source == "" {
			out = append(out, r)
		}
	}
	return out
}
