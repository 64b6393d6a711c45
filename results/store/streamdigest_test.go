package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/results"
)

// digestBlocks is the size of the day TestStreamDayDigest analyses.
const digestBlocks = 300

// digestCanaries are the canaries of the digest's day, outside its blocks.
var digestCanaries = []netip.Addr{netip.MustParseAddr("241.255.0.1"), netip.MustParseAddr("241.255.0.2")}

// digestHost is the known host of the digest's day: an address of E(b) of
// block 3.
var digestHost = dayEOf(3)[0]

// digestExtras are the records the digest's day has besides BenchmarkStreamDay's:
// canaries (vp3's fail for rounds 40 to 45), the known host answering TCP on
// port 80 (but for rounds 60 to 70), an unanswered TCP probe of block 5
// every round, and a trace toward dark block 7 every round, with its hops.
func digestExtras(k int) []results.Record {
	var recs []results.Record
	round := int64(k) + dayStart.Unix()/660
	at := dayStart.Add(time.Duration(k)*dayRound + 10*time.Second)
	for v := range dayVantages {
		vantage := fmt.Sprintf("vp%d", v+1)
		for i, c := range digestCanaries {
			r := results.Record{Time: at.Add(time.Duration(i) * time.Millisecond), Vantage: vantage, Round: round,
				Method: results.MethodICMP, Target: c.String(), Outcome: results.OutcomeReply, RTTms: 12}
			if v == 2 && k >= 40 && k <= 45 {
				r.Outcome, r.RTTms = results.OutcomeTimeout, 0
			}
			recs = append(recs, r)
		}
		host := results.Record{Time: at.Add(5 * time.Millisecond), Vantage: vantage, Round: round,
			Method: results.MethodTCP, Port: 80, Target: digestHost.String(), Outcome: results.OutcomeOpen, RTTms: 30}
		if k >= 60 && k <= 70 {
			host.Outcome, host.RTTms = results.OutcomeTimeout, 0
		}
		recs = append(recs, host, results.Record{Time: at.Add(6 * time.Millisecond), Vantage: vantage, Round: round,
			Method: results.MethodTCP, Port: 443, Target: dayEOf(5)[1].String(), Outcome: results.OutcomeTimeout})
		recs = append(recs, results.Record{Time: at.Add(7 * time.Millisecond), Vantage: vantage, Round: round,
			Method: results.MethodTrace, Target: dayEOf(7)[2].String(), Outcome: results.OutcomeTimeout, Proto: "udp",
			Reached: results.Bool(false), Hops: []results.Hop{{TTL: 1, Addr: "192.0.2.1", RTTms: 1},
				{TTL: 2, Addr: fmt.Sprintf("10.0.%d.1", v+1), RTTms: 5}, {TTL: 3}}})
	}
	return recs
}

// TestStreamDayDigest analyses a small day of BenchmarkStreamDay's kind, with
// canaries, a known host, TCP and traces besides, from a SQLite store, and
// compares a digest of every verdict it emits, in order, and its events with
// testdata/streamday.golden: however the analysis is made faster, what it
// says must not change.
func TestStreamDayDigest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "day.db")
	if err := buildDay(ctx, path, digestBlocks); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k := range dayRounds {
		if _, err := s.Ingest(ctx, digestExtras(k)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("EachProbe", func(t *testing.T) { checkEachProbe(t, s) })
	src := AnalysisSource(s)
	census, err := src.Census(ctx)
	if err != nil {
		t.Fatal(err)
	}
	an := results.Analysis{Sets: daySets(digestBlocks), Census: census, Quorum: 2, Round: dayRound,
		Hosts: []netip.Addr{digestHost}, Canaries: digestCanaries}
	h := sha256.New()
	verdicts := 0
	w := results.Window{Since: dayStart, Until: dayStart.Add(dayRounds * dayRound)}
	evs, err := an.StreamWindow(ctx, src, w, func(v results.Verdict) error {
		verdicts++
		b, err := json.Marshal(v)
		h.Write(append(b, '\n'))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Appendf(nil, "verdicts %d\nsha256 %x\nevents %d\n", verdicts, h.Sum(nil), len(evs))
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got = append(append(got, b...), '\n')
	}
	testenv.Golden(t, "streamday.golden", got)
}

// checkEachProbe checks that EachProbe gives the records EachRecord gives,
// in the same order, over the whole day and over a span that cuts chunks.
func checkEachProbe(t *testing.T, s *Store) {
	ctx := context.Background()
	var ps results.ProbeSource = s
	for _, span := range []struct{ since, until time.Time }{
		{dayStart.Add(-time.Hour), dayStart.Add(25 * time.Hour)},
		{dayStart.Add(3*dayRound + 20*time.Second), dayStart.Add(9*dayRound + 40*time.Second)},
	} {
		want, err := s.Records(ctx, Query{Since: span.since, Until: span.until})
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		err = ps.EachProbe(ctx, span.since, span.until, func(r *results.Record, a netip.Addr) error {
			g := *r
			if a.IsValid() {
				g.Target = a.String()
			}
			if i >= len(want) || !reflect.DeepEqual(g, want[i]) {
				return fmt.Errorf("record %d: %+v, want the %dth of %d records EachRecord gives", i, g, i, len(want))
			}
			i++
			return nil
		})
		if err == nil && i != len(want) {
			err = fmt.Errorf("%d records, want %d", i, len(want))
		}
		if err != nil {
			t.Errorf("[%v, %v): %v", span.since, span.until, err)
		}
	}
	// An error of fn stops the walk and comes back as it is.
	stop, n := errors.New("enough"), 0
	err := ps.EachProbe(ctx, dayStart, dayStart.Add(time.Hour), func(*results.Record, netip.Addr) error {
		if n++; n == 5000 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5000 {
		t.Errorf("EachProbe stopped after %d records with %v, want 5000 and %v", n, err, stop)
	}
}
