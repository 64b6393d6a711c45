package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"darkwatch/results"
)

// t0 is the tests' clock: a round of the founding case.
var t0 = time.Date(2014, 12, 22, 16, 0, 0, 123456789, time.UTC)

// fieldRecords covers every field of a record, and the difference between
// an absent optional value and a zero one.
func fieldRecords() []results.Record {
	return []results.Record{
		{Time: t0, Vantage: "vp-fra1", Round: 1, Method: "icmp", Target: "175.45.176.15", Seq: 1,
			Outcome: "reply", RTTms: 212.345678, ReplyTTL: 51},
		{Time: t0.Add(time.Microsecond), Vantage: "vp-fra1", Round: 1, Method: "icmp", Target: "175.45.176.16",
			Outcome: "unreachable", ICMP: "dest-unreachable/host"},
		{Time: t0.Add(time.Millisecond), Vantage: "vp-fra1", Round: 1, Method: "tcp", Target: "175.45.176.15", Port: 80,
			Outcome: "open", RTTms: 0.5, ReplyTTL: 64},
		{Time: t0.Add(2 * time.Millisecond), Vantage: "vp-fra1", Round: 1, Method: "tcp", Target: "175.45.177.1", Port: 443,
			Outcome: "error", Error: "sendto: no buffer space available"},
		{Time: t0.Add(3 * time.Millisecond), Vantage: "vp-nyc1", Round: 1, Method: "trace", Target: "175.45.176.15",
			Proto: "icmp", Outcome: "reply", RTTms: 230, Reached: results.Bool(true), Hops: []results.Hop{
				{TTL: 1, Addr: "198.51.100.9", RTTms: 0.2, ICMP: "time-exceeded"},
				{TTL: 2, Addr: ""},
				{TTL: 3, Addr: "175.45.176.15", RTTms: 230, ICMP: "echo-reply"},
			}},
		{Time: t0.Add(4 * time.Millisecond), Vantage: "vp-nyc1", Round: 1, Method: "trace", Target: "175.45.178.1",
			Proto: "udp", Port: 33434, Outcome: "timeout", Reached: results.Bool(false), Hops: []results.Hop{}},
		{Time: t0.Add(5 * time.Millisecond), Vantage: "vp-nyc1", Round: 1, Method: "dns", Target: "175.45.176.15", Port: 53,
			Outcome: "reply", RTTms: 250, Qname: "kp.", Qtype: "SOA", Rcode: "NOERROR",
			AA: results.Bool(true), Answers: results.Int(1)},
		{Time: t0.Add(6 * time.Millisecond), Vantage: "vp-nyc1", Round: 1, Method: "dns", Target: "175.45.176.16", Port: 53,
			Outcome: "reply", Qname: "kp.", Qtype: "NS", Rcode: "SERVFAIL",
			AA: results.Bool(false), Answers: results.Int(0)},
		{Time: t0.Add(6*time.Millisecond + time.Microsecond), Vantage: "vp-nyc1", Round: 1, Method: "dns",
			Target: "175.45.176.17", Port: 53, Source: "198.51.100.20", Outcome: "reply", RTTms: 240,
			Qname: "kp.", Qtype: "SOA", Rcode: "NOERROR", AA: results.Bool(true), Answers: results.Int(1),
			Answer: []results.RR{{Name: "kp.", Type: "SOA", TTL: 3600,
				Data: "ns1.kptc.kp. root.ns1.kptc.kp. 2014122201 3600 600 86400 3600"}},
			Serial: results.Uint32(2014122201), NSID: "6e7331"},
		{Time: t0.Add(7 * time.Millisecond), Vantage: "vp-fra1", Round: 2, Method: "icmp", Target: "2001:db8:4:5::1", Seq: 3,
			Outcome: "timeout"},
		{Time: t0.Add(8 * time.Millisecond), Vantage: "vp-fra1", Round: 2, Method: "dns", Target: "ns1.example.", Port: 53,
			Outcome: "timeout", Qname: "example.", Qtype: "A"},
		{Time: t0.Add(8 * time.Millisecond), Vantage: "vp-fra1", Round: 2, Method: "icmp", Target: "::ffff:198.18.0.1",
			Outcome: "reply", RTTms: 1e-3, Error: "ünïcode ✓"},
	}
}

// sampleRecords makes n realistic records of one round of one vantage point:
// mostly ICMP over 198.18.0.0/15, some TCP, some DNS, the odd trace.
func sampleRecords(vantage string, round int64, n int, start time.Time) []results.Record {
	return sweepRecords(vantage, round, 0, n, start)
}

// sweepRecords makes records first to first+n of a round that sweeps
// 198.18.0.0/15 in a random order, as a sweep does: within a round, no
// address comes twice (up to 131,072 records).
func sweepRecords(vantage string, round int64, first, n int, start time.Time) []results.Record {
	recs := make([]results.Record, n)
	for k := range recs {
		i := first + k
		// An odd multiplier permutes the /15; the round shifts the order.
		x := (uint32(i)*2654435761 + uint32(round)*40503) & (1<<17 - 1)
		r := results.Record{
			Time:    start.Add(time.Duration(i) * 37 * time.Microsecond),
			Vantage: vantage,
			Round:   round,
			Method:  "icmp",
			Target:  netip.AddrFrom4([4]byte{198, 18 + byte(x>>16), byte(x >> 8), byte(x)}).String(),
			Seq:     i,
			Outcome: "timeout",
		}
		switch {
		case i%100 == 7:
			r.Method, r.Proto, r.Seq, r.Outcome = "trace", "icmp", 0, "reply"
			r.Reached = results.Bool(true)
			for ttl := 1; ttl <= 8; ttl++ {
				r.Hops = append(r.Hops, results.Hop{TTL: ttl, Addr: fmt.Sprintf("203.0.113.%d", ttl), RTTms: float64(ttl) * 1.7, ICMP: "time-exceeded"})
			}
			r.RTTms = 14.2
		case i%50 == 3:
			r.Method, r.Port, r.Seq, r.Outcome = "dns", 53, 0, "reply"
			r.Qname, r.Qtype, r.Rcode, r.AA, r.Answers = "kp.", "SOA", "NOERROR", results.Bool(true), results.Int(1)
			r.RTTms = 31.5
		case i%10 == 1:
			r.Method, r.Port, r.Seq = "tcp", 80, 0
			if x%3 == 0 {
				r.Outcome, r.RTTms, r.ReplyTTL = "open", 12.25, 58
			}
		case x%10 < 7:
			r.Outcome, r.RTTms, r.ReplyTTL = "reply", 10+float64(x%1000)/100, 57
		}
		recs[k] = r
	}
	return recs
}

// sortRecords puts recs in the stores' order: by time, then id.
func sortRecords(recs []results.Record) {
	slices.SortStableFunc(recs, func(a, b results.Record) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID(), b.ID()))
	})
}

// sameRecords fails t, naming the first difference, unless got and want are
// equal.
func sameRecords(t *testing.T, what string, got, want []results.Record) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d records, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s: record %d:\n got %s\nwant %s", what, i, show(got[i]), show(want[i]))
			return
		}
	}
}

func show(r results.Record) string {
	s := fmt.Sprintf("%+v", r)
	if r.Reached != nil {
		s += fmt.Sprintf(" reached=%v", *r.Reached)
	}
	if r.AA != nil {
		s += fmt.Sprintf(" aa=%v", *r.AA)
	}
	if r.Answers != nil {
		s += fmt.Sprintf(" answers=%v", *r.Answers)
	}
	return s
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	if err := s.EachRecord(context.Background(), Query{}, func(results.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func ingest(t *testing.T, s *Store, recs []results.Record) int {
	t.Helper()
	n, err := s.Ingest(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testStore is the suite every Store passes; open gives a new, empty store.
func testStore(t *testing.T, open func(t *testing.T) *Store) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		want := fieldRecords()
		if n := ingest(t, s, want); n != len(want) {
			t.Errorf("added %d, want %d", n, len(want))
		}
		got, err := s.Records(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		sortRecords(want)
		sameRecords(t, "all records", got, want)
	})

	t.Run("IdempotentByID", func(t *testing.T) {
		s := open(t)
		recs := sampleRecords("vp1", 1, 500, t0)
		if n := ingest(t, s, recs); n != 500 {
			t.Errorf("first ingest added %d, want 500", n)
		}
		if n := ingest(t, s, recs); n != 0 {
			t.Errorf("second ingest of the same records added %d, want 0", n)
		}
		// A batch that repeats itself and overlaps what is stored.
		more := sampleRecords("vp1", 2, 100, t0.Add(time.Minute))
		batch := slices.Concat(recs[:50], more, more[:10])
		if n := ingest(t, s, batch); n != 100 {
			t.Errorf("overlapping ingest added %d, want 100", n)
		}
		// The same id with other data is the same record: the first stays.
		changed := recs[0]
		changed.Outcome = "reply"
		if n := ingest(t, s, []results.Record{changed}); n != 0 {
			t.Errorf("re-delivered id added %d, want 0", n)
		}
		if n := count(t, s); n != 600 {
			t.Errorf("store holds %d records, want 600", n)
		}
		got, err := s.Records(ctx, Query{Target: recs[0].Target, Round: new(int64(1))})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Outcome != recs[0].Outcome {
			t.Errorf("first record now %+v, want outcome %q", got, recs[0].Outcome)
		}
	})

	t.Run("BadRecordStoresNothing", func(t *testing.T) {
		s := open(t)
		base := sampleRecords("vp1", 7, 10, t0)
		for _, c := range []struct {
			name  string
			spoil func(*results.Record)
			want  string
		}{
			{"no target", func(r *results.Record) { r.Target = "" }, "no target"},
			{"no vantage", func(r *results.Record) { r.Vantage = "" }, "no vantage"},
			{"no method", func(r *results.Record) { r.Method = "" }, "no method"},
			{"no time", func(r *results.Record) { r.Time = time.Time{} }, "no time"},
			{"NUL", func(r *results.Record) { r.Error = "a\x00b" }, "NUL"},
			{"not UTF-8", func(r *results.Record) { r.Qname = "\xff." }, "UTF-8"},
		} {
			t.Run(c.name, func(t *testing.T) {
				batch := slices.Clone(base)
				c.spoil(&batch[6])
				_, err := s.Ingest(ctx, batch)
				if !errors.Is(err, ErrInvalidRecord) {
					t.Fatalf("got %v, want ErrInvalidRecord", err)
				}
				for _, w := range []string{"record 6", batch[6].ID(), c.want} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if n := count(t, s); n != 0 {
					t.Errorf("store holds %d records after a refused batch, want 0", n)
				}
			})
		}
	})

	t.Run("CancelledIngest", func(t *testing.T) {
		s := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Ingest(cctx, sampleRecords("vp1", 1, 100, t0)); err == nil {
			t.Error("ingest with a cancelled context succeeded")
		}
		if n := count(t, s); n != 0 {
			t.Errorf("store holds %d records, want 0", n)
		}
	})

	t.Run("Query", func(t *testing.T) { testQuery(t, open(t)) })

	t.Run("EachRecordStops", func(t *testing.T) {
		s := open(t)
		ingest(t, s, sampleRecords("vp1", 1, 50, t0))
		stop := errors.New("enough")
		n := 0
		err := s.EachRecord(ctx, Query{}, func(results.Record) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Errorf("walk ended with %v after %d records, want %v after 3", err, n, stop)
		}
	})

	t.Run("Verdicts", func(t *testing.T) { testVerdicts(t, open(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open(t)) })
	t.Run("Blocks", func(t *testing.T) { testBlocks(t, open(t)) })
	t.Run("BlocksPerMethod", func(t *testing.T) { testBlocksPerMethod(t, open(t)) })
	t.Run("Beliefs", func(t *testing.T) { testBeliefs(t, open(t)) })
	t.Run("Failures", func(t *testing.T) { testFailures(t, open(t)) })

	t.Run("Retain", func(t *testing.T) {
		s := open(t)
		// Both rounds wait in the outbox too, as on a node.
		for round, at := range map[int64]time.Time{1: t0, 2: t0.Add(time.Hour)} {
			if _, err := s.IngestQueued(ctx, sampleRecords("vp1", round, 100, at)); err != nil {
				t.Fatal(err)
			}
		}
		vs := []results.Verdict{
			{Time: t0, Level: "block", Entity: "198.18.0.0/24", Verdict: "reachable"},
			{Time: t0.Add(time.Hour), Level: "block", Entity: "198.18.0.0/24", Verdict: "outage"},
		}
		if err := s.PutVerdicts(ctx, vs); err != nil {
			t.Fatal(err)
		}
		ev := []results.Event{{Level: "block", Entity: "198.18.0.0/24", Kind: "outage", Start: t0, End: t0.Add(time.Minute)}}
		if err := s.PutEvents(ctx, ev); err != nil {
			t.Fatal(err)
		}
		n, err := s.Retain(ctx, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if n != 101 {
			t.Errorf("retain deleted %d rows, want 101", n)
		}
		got, err := s.Records(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 || got[0].Round != 2 {
			t.Errorf("after retain: %d records, first of round %d; want 100 of round 2", len(got), got[0].Round)
		}
		gv, _ := s.Verdicts(ctx, VerdictQuery{})
		if len(gv) != 1 || gv[0].Verdict != "outage" {
			t.Errorf("after retain: verdicts %+v, want the outage alone", gv)
		}
		if ge, _ := s.Events(ctx, time.Time{}, time.Time{}); len(ge) != 1 {
			t.Errorf("retain removed events: %+v", ge)
		}
		if n, err := s.OutboxLen(ctx, ""); err != nil || n != 100 {
			t.Errorf("after retain: outbox holds %d (%v), want round 2's 100", n, err)
		}
		// A time inside a chunk: its earlier records go, its later ones
		// stay, queued as they were (and the verdict of round 2's start
		// goes too).
		if n, err := s.Retain(ctx, got[40].Time); err != nil || n != 41 {
			t.Errorf("retain within a chunk deleted %d (%v), want 40 records and a verdict", n, err)
		}
		left, err := s.Records(ctx, Query{})
		if err != nil || !reflect.DeepEqual(left, got[40:]) {
			t.Errorf("after retain within a chunk: %d records (%v), want the last 60", len(left), err)
		}
		batches, err := s.Outbox(ctx, "", 0)
		queued := 0
		for _, b := range batches {
			queued += b.Len
		}
		if err != nil || queued != 60 {
			t.Errorf("after retain within a chunk: %d queued (%v), want 60", queued, err)
		}
	})

	t.Run("ConcurrentIngest", func(t *testing.T) {
		s := open(t)
		// Four writers, each with its own records and a share of everyone's.
		var wg sync.WaitGroup
		shared := sampleRecords("vp-shared", 1, 300, t0)
		added := make([]int, 4)
		for w := range 4 {
			wg.Go(func() {
				own := sampleRecords(fmt.Sprintf("vp%d", w), int64(w), 300, t0)
				for i := 0; i < 300; i += 50 {
					n, err := s.Ingest(ctx, slices.Concat(own[i:i+50], shared[i:i+50]))
					if err != nil {
						t.Error(err)
						return
					}
					added[w] += n
				}
			})
		}
		wg.Wait()
		total := added[0] + added[1] + added[2] + added[3]
		if total != 1500 {
			t.Errorf("writers added %d in all, want 1500", total)
		}
		if n := count(t, s); n != 1500 {
			t.Errorf("store holds %d records, want 1500", n)
		}
	})
}

// matches is the reference meaning of a query, for one record.
func matches(q Query, r results.Record) bool {
	if !q.Since.IsZero() && r.Time.Before(q.Since) || !q.Until.IsZero() && !r.Time.Before(q.Until) {
		return false
	}
	if q.Vantage != "" && r.Vantage != q.Vantage || q.Method != "" && r.Method != q.Method ||
		q.Target != "" && r.Target != q.Target || q.Round != nil && r.Round != *q.Round {
		return false
	}
	if q.Targets != nil && !slices.Contains(q.Targets, r.Target) {
		return false
	}
	if q.Prefix.IsValid() {
		a, err := netip.ParseAddr(r.Target)
		if err != nil || !unmapPrefix(q.Prefix).Contains(a.Unmap()) {
			return false
		}
	}
	return true
}

func testQuery(t *testing.T, s *Store) {
	ctx := context.Background()
	all := slices.Concat(
		fieldRecords(),
		sampleRecords("vp-fra1", 10, 2000, t0.Add(time.Hour)),
		sampleRecords("vp-nyc1", 10, 2000, t0.Add(time.Hour+time.Millisecond)),
		sampleRecords("vp-fra1", 11, 2000, t0.Add(2*time.Hour)),
	)
	ingest(t, s, all)
	sortRecords(all)
	many := make([]string, 0, 1500)
	for _, r := range all[:3000] {
		many = append(many, r.Target)
	}
	target := all[20].Target
	for _, c := range []struct {
		name string
		q    Query
		min  int // the case is pointless unless it selects at least this many
	}{
		{"all", Query{}, 6000},
		{"since", Query{Since: t0.Add(2 * time.Hour)}, 2000},
		{"until", Query{Until: t0.Add(time.Hour + time.Millisecond)}, 11},
		{"far bounds", Query{Since: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, 6000},
		{"window", Query{Since: t0.Add(time.Hour), Until: t0.Add(time.Hour + 20*time.Millisecond)}, 500},
		{"vantage", Query{Vantage: "vp-nyc1"}, 2000},
		{"method", Query{Method: "dns"}, 100},
		{"target", Query{Target: target}, 1},
		{"targets", Query{Targets: []string{target, "175.45.176.15", "2001:db8:4:5::1"}}, 6},
		{"many targets", Query{Targets: many}, 3000},
		{"no targets", Query{Targets: []string{}}, 0},
		{"round", Query{Round: new(int64(11))}, 2000},
		{"round and vantage", Query{Round: new(int64(10)), Vantage: "vp-fra1", Method: "tcp"}, 100},
		{"limit", Query{Vantage: "vp-fra1", Limit: 7}, 7},
		{"prefix /22", Query{Prefix: netip.MustParsePrefix("175.45.176.0/22")}, 8},
		{"prefix /24", Query{Prefix: netip.MustParsePrefix("175.45.176.0/24")}, 6},
		{"prefix /31", Query{Prefix: netip.MustParsePrefix("175.45.176.14/31")}, 4},
		{"prefix /16", Query{Prefix: netip.MustParsePrefix("198.19.0.0/16")}, 2000},
		{"prefix /8 wide", Query{Prefix: netip.MustParsePrefix("198.0.0.0/8")}, 6000},
		{"prefix unmasked", Query{Prefix: netip.MustParsePrefix("198.18.77.200/20")}, 10},
		{"prefix limit", Query{Prefix: netip.MustParsePrefix("198.18.0.0/17"), Limit: 5}, 5},
		{"prefix v6 /48", Query{Prefix: netip.MustParsePrefix("2001:db8:4::/48")}, 1},
		{"prefix v6 /64", Query{Prefix: netip.MustParsePrefix("2001:db8:4:5::/64")}, 1},
		{"prefix v6 /32", Query{Prefix: netip.MustParsePrefix("2001:db8::/32")}, 1},
		{"prefix v6 elsewhere", Query{Prefix: netip.MustParsePrefix("2001:db8:4:6::/64")}, 0},
		{"prefix mapped", Query{Prefix: netip.MustParsePrefix("::ffff:198.18.0.0/120")}, 1},
		{"everything", Query{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour), Vantage: "vp-fra1",
			Method: "icmp", Prefix: netip.MustParsePrefix("198.18.0.0/15"), Round: new(int64(11)), Limit: 100}, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want []results.Record
			for _, r := range all {
				if matches(c.q, r) {
					want = append(want, r)
				}
			}
			if c.q.Limit > 0 && len(want) > c.q.Limit {
				want = want[:c.q.Limit]
			}
			if len(want) < c.min {
				t.Fatalf("query selects %d records of the data, the case needs %d", len(want), c.min)
			}
			got, err := s.Records(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, c.name, got, want)
		})
	}
	if _, err := s.Records(ctx, Query{Prefix: netip.PrefixFrom(netip.MustParseAddr("198.18.0.0"), 40)}); err == nil {
		t.Error("a query with an invalid prefix succeeded")
	}
}

func testVerdicts(t *testing.T, s *Store) {
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * 11 * time.Minute) }
	block := "175.45.176.0/24"
	vs := []results.Verdict{
		{Time: at(0), Level: "block", Entity: block, Verdict: "reachable", DataPlane: "up", ControlPlane: "announced",
			Belief: new(0.97), Vantages: &results.VantageCount{Up: 3}},
		{Time: at(1), Level: "block", Entity: block, Verdict: "uncertain", DataPlane: "uncertain", ControlPlane: "announced",
			Belief: new(0.5), Vantages: &results.VantageCount{Up: 1, Down: 1, Gap: 1},
			Methods: map[string]string{"icmp": "down", "tcp": "up"}},
		{Time: at(2), Level: "block", Entity: block, Verdict: "data-plane-outage", DataPlane: "down", ControlPlane: "announced",
			Belief: new(0.01), Vantages: &results.VantageCount{Down: 3}, Methods: map[string]string{}},
		{Time: at(0), Level: "prefix", Entity: "175.45.176.0/22", Verdict: "reachable", DataPlane: "up",
			ControlPlane: "unknown", Up: results.Int(4), Total: results.Int(4)},
		{Time: at(2), Level: "prefix", Entity: "175.45.176.0/22", Verdict: "outage", DataPlane: "down",
			ControlPlane: "withdrawn", Up: results.Int(0), Total: results.Int(4)},
		{Time: at(1), Level: "vantage", Entity: "vp-fra1", Verdict: "vantage-down"},
	}
	if err := s.PutVerdicts(ctx, vs); err != nil {
		t.Fatal(err)
	}
	// Upsert: the block's second bin is decided later.
	vs[1].Verdict, vs[1].DataPlane, vs[1].Belief = "partial", "partial", nil
	if err := s.PutVerdicts(ctx, vs[1:2]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    VerdictQuery
		want []int // indexes into vs
	}{
		{"all", VerdictQuery{}, []int{0, 3, 1, 5, 2, 4}},
		{"level", VerdictQuery{Level: "block"}, []int{0, 1, 2}},
		{"entity", VerdictQuery{Entity: "175.45.176.0/22"}, []int{3, 4}},
		{"since", VerdictQuery{Since: at(1)}, []int{1, 5, 2, 4}},
		{"until", VerdictQuery{Until: at(1)}, []int{0, 3}},
		{"at", VerdictQuery{At: at(1)}, []int{1, 3, 5}},
		{"at between bins", VerdictQuery{At: at(2).Add(-time.Second)}, []int{1, 3, 5}},
		{"at the end", VerdictQuery{At: at(9), Level: "block"}, []int{2}},
		{"at before all", VerdictQuery{At: at(-1)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Verdicts(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var want []results.Verdict
			for _, i := range c.want {
				want = append(want, vs[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", showJSON(got), showJSON(want))
			}
		})
	}
	if err := s.PutVerdicts(ctx, []results.Verdict{{Time: at(0), Level: "block"}}); err == nil {
		t.Error("a verdict without an entity was stored")
	}
}

func testEvents(t *testing.T, s *Store) {
	ctx := context.Background()
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	es := []results.Event{
		{Level: "block", Entity: "175.45.176.0/24", Kind: "outage", Start: h(0), End: h(1), Minutes: 60, Severity: 60},
		{Level: "prefix", Entity: "175.45.176.0/22", Kind: "outage", Start: h(2), Minutes: 11, Severity: 5.5, LastHop: "203.0.113.13"},
		{Level: "prefix", Entity: "175.45.176.0/22", Kind: "control-plane-outage", Start: h(2), End: h(3)},
		{Level: "asn", Entity: "AS131279", Kind: "outage", Start: h(5), End: h(6).Add(31 * time.Minute), Minutes: 91},
	}
	if err := s.PutEvents(ctx, es); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []results.Event{es[0], es[2], es[1], es[3]} // by start, level, entity, kind
	if !reflect.DeepEqual(got, want) {
		t.Errorf("all events:\n got %s\nwant %s", showJSON(got), showJSON(want))
	}
	// The ongoing event ends.
	es[1].End, es[1].Minutes, es[1].Severity = h(4), 120, 60
	if err := s.PutEvents(ctx, es[1:2]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		since, until time.Time
		want         []int
	}{
		{"overlapping", h(1.5), h(4.5), []int{2, 1}},
		{"after the first", h(1), time.Time{}, []int{2, 1, 3}},
		{"before the last", time.Time{}, h(5), []int{0, 2, 1}},
		{"in a gap", h(4.1), h(4.9), nil},
	} {
		got, err := s.Events(ctx, c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		var want []results.Event
		for _, i := range c.want {
			want = append(want, es[i])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, showJSON(got), showJSON(want))
		}
	}
	// A newer analysis drops the events it no longer finds and stores the
	// one whose start moved; the block event of hour 0 stays.
	moved := results.Event{Level: "prefix", Entity: "175.45.176.0/22", Kind: "outage", Start: h(2.5), End: h(4), Minutes: 90, Severity: 45}
	if err := s.ReplaceEvents(ctx, es[1:], []results.Event{moved}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Events(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []results.Event{es[0], moved}; !reflect.DeepEqual(got, want) {
		t.Errorf("after ReplaceEvents:\n got %s\nwant %s", showJSON(got), showJSON(want))
	}
}

func testBlocks(t *testing.T, s *Store) {
	ctx := context.Background()
	a := netip.MustParseAddr
	bs := []Block{
		{Prefix: netip.MustParsePrefix("175.45.176.0/24"), Vantage: "vp-fra1", Method: "icmp",
			E: []netip.Addr{a("175.45.176.15"), a("175.45.176.16")}, A: 0.85, Sparse: true, Censuses: 3, Updated: t0},
		{Prefix: netip.MustParsePrefix("175.45.176.0/24"), Vantage: "", Method: "icmp", E: []netip.Addr{}, Updated: t0},
		{Prefix: netip.MustParsePrefix("2001:db8:4::/48"), Vantage: "vp-fra1", Method: "icmp", E: []netip.Addr{a("2001:db8:4::1")}, A: 1, Censuses: 1},
		// No method is icmp.
		{Prefix: netip.MustParsePrefix("100.64.0.0/24"), Vantage: "vp-fra1"},
	}
	if err := s.PutBlocks(ctx, bs); err != nil {
		t.Fatal(err)
	}
	bs[3].Method = "icmp"
	bs[0].E, bs[0].A, bs[0].Censuses, bs[0].Updated = append(bs[0].E, a("175.45.176.20")), 0.9, 4, t0.Add(time.Hour)
	if err := s.PutBlocks(ctx, bs[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Blocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{bs[3], bs[1], bs[0], bs[2]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", got, want)
	}
	if err := s.PutBlocks(ctx, []Block{{Vantage: "vp1"}}); err == nil {
		t.Error("a block without a prefix was stored")
	}
}

// testBlocksPerMethod: the censuses of one block by two methods are kept
// apart, and each is replaced only by its own.
func testBlocksPerMethod(t *testing.T, s *Store) {
	ctx := context.Background()
	a := netip.MustParseAddr
	p := netip.MustParsePrefix("175.45.176.0/24")
	icmp := Block{Prefix: p, Vantage: "vp-fra1", Method: "icmp", E: []netip.Addr{a("175.45.176.15")}, A: 0.5, Sparse: true, Censuses: 1, Updated: t0}
	tcp := Block{Prefix: p, Vantage: "vp-fra1", Method: "tcp:80", E: []netip.Addr{a("175.45.176.80")}, A: 1, Sparse: true, Censuses: 1, Updated: t0}
	if err := s.PutBlocks(ctx, []Block{icmp, tcp}); err != nil {
		t.Fatal(err)
	}
	tcp.E, tcp.A, tcp.Censuses = append(tcp.E, a("175.45.176.81")), 0.75, 2
	if err := s.PutBlocks(ctx, []Block{tcp}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Blocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Block{icmp, tcp}; !reflect.DeepEqual(got, want) {
		t.Errorf("blocks:\n got %+v\nwant %+v", got, want)
	}
}

func testBeliefs(t *testing.T, s *Store) {
	ctx := context.Background()
	p := netip.MustParsePrefix
	bs := []Belief{
		{Vantage: "vp-nyc1", Block: p("175.45.177.0/24"), Round: 9, BU: 0.99, State: "up"},
		{Vantage: "vp-fra1", Block: p("175.45.177.0/24"), Round: 9, BU: 0.5, State: "uncertain"},
		{Vantage: "vp-fra1", Block: p("175.45.176.0/24"), Round: 9, BU: 0.01, State: "down", Backoff: 2},
	}
	if err := s.PutBelief(ctx, bs); err != nil {
		t.Fatal(err)
	}
	bs[1].Round, bs[1].BU, bs[1].State = 10, 0.95, "up"
	if err := s.PutBelief(ctx, bs[1:2]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Beliefs(ctx, "vp-fra1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Belief{bs[2], bs[1]}; !reflect.DeepEqual(got, want) {
		t.Errorf("vp-fra1's beliefs:\n got %+v\nwant %+v", got, want)
	}
	got, err = s.Beliefs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Belief{bs[2], bs[1], bs[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("all beliefs:\n got %+v\nwant %+v", got, want)
	}
	if err := s.PutBelief(ctx, []Belief{{Block: p("175.45.176.0/24")}}); err == nil {
		t.Error("a belief without a vantage was stored")
	}
}

// testReopen checks what lasts between openings of one store; dsn names a
// new store.
func testReopen(t *testing.T, dsn func(testing.TB) string) {
	ctx := context.Background()
	t.Run("Persists", func(t *testing.T) {
		d := dsn(t)
		s, err := Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		want := fieldRecords()
		ingest(t, s, want)
		s.Close()
		if s, err = Open(ctx, d); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := s.Records(ctx, Query{})
		if err != nil {
			t.Fatal(err)
		}
		sortRecords(want)
		sameRecords(t, "after reopening", got, want)
		var versions int
		err = s.b.query(ctx, "SELECT COUNT(*) FROM schema_version", nil, func(scan func(...any) error) error {
			return scan(&versions)
		})
		if err != nil || versions != len(migrations) {
			t.Errorf("schema_version holds %d rows (%v), want %d: migrations ran again?", versions, err, len(migrations))
		}
	})
	t.Run("NewerSchema", func(t *testing.T) {
		d := dsn(t)
		s, err := Open(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.b.exec(ctx, "INSERT INTO schema_version (version, about, applied_ns) VALUES ($1, 'from the future', 0)",
			schemaVersion()+41); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err = Open(ctx, d)
		var newer *NewerSchemaError
		if !errors.As(err, &newer) {
			t.Fatalf("opening a newer store: got %v, want a NewerSchemaError", err)
		}
		want := fmt.Sprintf("was written by a newer darkwatch (schema %d, this one knows %d)", schemaVersion()+41, schemaVersion())
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	})
}

func showJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
