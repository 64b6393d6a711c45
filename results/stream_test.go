package results

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestStreamOutOfOrder: records that come out of time order by less than
// StreamLag rounds (chunks merged from nodes whose clocks differ) give the
// verdicts and events of the sorted records; and a vantage-round whose
// canary records are in one bin while its blocks' records are in the next
// keeps its health: a vantage point cut off is a gap, not an outage.
func TestStreamOutOfOrder(t *testing.T) {
	never := func(string, int) bool { return false }
	cut := func(v string, round int) bool { return round >= 4 && round <= 9 }
	vp3 := func(v string, _ int) bool { return v == "vp3" }
	for _, tc := range []struct {
		name           string
		down, canaries func(string, int) bool
	}{
		{"outage", cut, never},
		{"vantage down", never, vp3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every block record 70 s after its round's canaries: in
			// the next one-minute bin.
			moved := labRecords(14, tc.down, tc.canaries)
			for i := range moved {
				if moved[i].Target != "198.19.255.1" {
					moved[i].Time = moved[i].Time.Add(70 * time.Second)
				}
			}
			want, wantEvents := labAnalysis().Analyze(moved)
			outages := 0
			for _, v := range want {
				if v.Level == LevelBlock && v.Verdict == VerdictOutage {
					outages++
				}
			}
			if wantOut := map[string]int{"outage": 2 * 6, "vantage down": 0}[tc.name]; outages != wantOut {
				t.Errorf("%d block-rounds read outage, want %d", outages, wantOut)
			}

			// Then out of order within 90 s windows.
			slices.SortStableFunc(moved, func(a, b Record) int { return a.Time.Compare(b.Time) })
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range moved {
				j := i + rng.IntN(min(40, len(moved)-i))
				if moved[j].Time.Sub(moved[i].Time) < 90*time.Second {
					moved[i], moved[j] = moved[j], moved[i]
				}
			}
			var c collector
			st := labAnalysis().NewStream(c.add)
			for i := range moved {
				if err := st.Add(&moved[i]); err != nil {
					t.Fatal(err)
				}
			}
			events, err := st.Close()
			if err != nil {
				t.Fatal(err)
			}
			got := c.verdicts()
			if len(got) != len(want) {
				t.Fatalf("%d verdicts, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Level != want[i].Level || got[i].Entity != want[i].Entity || !got[i].Time.Equal(want[i].Time) ||
					got[i].Verdict != want[i].Verdict {
					t.Errorf("verdict %d: %s %s %s %s, want %s %s %s %s", i, got[i].Time.Format(time.TimeOnly), got[i].Level,
						got[i].Entity, got[i].Verdict, want[i].Time.Format(time.TimeOnly), want[i].Level, want[i].Entity, want[i].Verdict)
				}
			}
			if len(events) != len(wantEvents) {
				t.Errorf("%d events, want %d: %+v", len(events), len(wantEvents), events)
			}
		})
	}
}

// TestStreamHoldsOnlyOpenRounds: however many rounds go through a stream, it
// keeps the series and the few rounds still open, not the records.
func TestStreamHoldsOnlyOpenRounds(t *testing.T) {
	recs := labRecords(60, func(string, int) bool { return false }, func(string, int) bool { return false })
	n := 0
	st := labAnalysis().NewStream(func(Verdict) error { n++; return nil })
	most := 0
	for i := range recs {
		if err := st.Add(&recs[i]); err != nil {
			t.Fatal(err)
		}
		most = max(most, len(st.open)-st.closed, len(st.bins))
	}
	if _, err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// 3 vantage points × 2 blocks are 6 series; a round stays open for
	// StreamLag rounds, so about 6 × (StreamLag + 1) rounds at most.
	if limit := 6 * (StreamLag + 2); most > limit {
		t.Errorf("%d rounds or bins open at once, want ≤ %d", most, limit)
	}
	series := 0
	for _, ev := range st.all {
		series += len(ev.series)
	}
	if series != 6 {
		t.Errorf("%d series, want 6", series)
	}
	if n == 0 {
		t.Error("no verdict emitted")
	}
}

// TestStreamCarriesLateVantages: in the newest round, vantage points whose
// records have not come yet count with their view of the round before, so a
// blackout read live stays an outage; a vantage point that skipped a round
// but delivered later ones is a gap in that round, not carried.
func TestStreamCarriesLateVantages(t *testing.T) {
	never := func(string, int) bool { return false }
	cut := func(_ string, round int) bool { return round >= 3 }
	for _, c := range []struct {
		name    string
		missing func(v string, round int) bool
		round   int
		want    string
	}{
		{"the newest round, two of three nodes not in yet", func(v string, r int) bool { return v != "vp1" && r == 9 }, 9, VerdictOutage},
		{"an earlier round two nodes skipped", func(v string, r int) bool { return v != "vp1" && r == 8 }, 8, VerdictUncertain},
		{"all in", func(string, int) bool { return false }, 9, VerdictOutage},
	} {
		t.Run(c.name, func(t *testing.T) {
			var recs []Record
			for _, r := range labRecords(10, cut, never) {
				if !c.missing(r.Vantage, int(r.Round)) {
					recs = append(recs, r)
				}
			}
			vs, _ := labAnalysis().Analyze(recs)
			if got := verdictAt(vs, LevelBlock, "198.18.0.0/24", c.round); got != c.want {
				t.Errorf("block in round %d: %s, want %s", c.round, got, c.want)
			}
			if got := verdictAt(vs, LevelPrefix, "198.18.0.0/23", c.round); c.want == VerdictOutage && got != VerdictOutage {
				t.Errorf("prefix in round %d: %s, want outage", c.round, got)
			}
		})
	}
}

// TestCensusIndex: a Stream finds a block's census by vantage point, block
// and method ("" is icmp), the last given of several, never a host's.
func TestCensusIndex(t *testing.T) {
	b1, b2 := netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/24")
	stats := []BlockStat{
		{Vantage: "vp2", Block: b1, Method: "", A: 0.1},
		{Vantage: "vp1", Block: b2, Method: "tcp:80", A: 0.2},
		{Vantage: "vp1", Block: b1, Method: MethodICMP, A: 0.3},
		{Vantage: "vp1", Block: b1, Method: MethodICMP, A: 0.4}, // the later one counts
		{Vantage: "vp1", Block: netip.MustParsePrefix("198.18.3.7/32"), Method: MethodICMP, Host: true, A: 0.5},
	}
	c := newCensusIndex(stats)
	for _, tc := range []struct {
		vantage string
		block   netip.Prefix
		method  string
		want    float64 // the census's A; 0 for none
	}{
		{"vp2", b1, MethodICMP, 0.1},
		{"vp1", b2, "tcp:80", 0.2},
		{"vp1", b1, MethodICMP, 0.4},
		{"vp1", b2, MethodICMP, 0},
		{"vp3", b1, MethodICMP, 0},
		{"vp1", netip.MustParsePrefix("198.18.3.7/32"), MethodICMP, 0},
	} {
		got := 0.0
		if b := c.find(tc.vantage, tc.block, tc.method); b != nil {
			got = b.A
		}
		if got != tc.want {
			t.Errorf("find(%s, %v, %s): census with A %v, want %v", tc.vantage, tc.block, tc.method, got, tc.want)
		}
	}
}
