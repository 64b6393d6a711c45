package accuracy

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
)

func TestScore(t *testing.T) {
	const round = 10 * time.Minute
	t0 := time.Unix(0, 0).Add(1000 * round).UTC() // on the epoch grid
	at := func(k int) time.Time { return t0.Add(time.Duration(k) * round) }
	ref := func(level, entity string) results.EntityRef { return results.EntityRef{Level: level, Entity: entity} }
	v := func(level, entity string, k int, plane string) results.Verdict {
		// Verdicts carry the time of their round's first record, not the
		// bin's start.
		return results.Verdict{Time: at(k).Add(37 * time.Second), Level: level, Entity: entity, DataPlane: plane,
			Verdict: results.Combine(plane, results.ControlUnknown)}
	}
	series := func(level, entity string, planes string) []results.Verdict {
		// One letter a round from round 0: u up, d down, p partial, ? uncertain, . none.
		var vs []results.Verdict
		for k, c := range planes {
			plane := map[rune]string{'u': results.PlaneUp, 'd': results.PlaneDown, 'p': results.PlanePartial, '?': results.PlaneUncertain}[c]
			if plane != "" {
				vs = append(vs, v(level, entity, k, plane))
			}
		}
		return vs
	}
	join := func(vss ...[]results.Verdict) []results.Verdict {
		var out []results.Verdict
		for _, vs := range vss {
			out = append(out, vs...)
		}
		return out
	}
	base := Truth{Round: round, From: at(0), Until: at(10)}
	with := func(ents []results.EntityRef, outages []Outage, unmeasurable ...results.EntityRef) Truth {
		tr := base
		tr.Entities, tr.Outages = ents, outages
		tr.Unmeasurable = map[results.EntityRef]bool{}
		for _, u := range unmeasurable {
			tr.Unmeasurable[u] = true
		}
		return tr
	}
	blk := func(s string) results.EntityRef { return ref(results.LevelBlock, s) }

	tests := []struct {
		name     string
		truth    Truth
		verdicts []results.Verdict
		want     []Row
	}{{
		name:  "detected outage, exact",
		truth: with([]results.EntityRef{blk("a")}, []Outage{{results.LevelBlock, "a", at(2), at(6)}}),
		//                               0123456789
		verdicts: series(results.LevelBlock, "a", "uudddduuuu"),
		want: []Row{{Level: results.LevelBlock, Entities: 1, OutageRounds: 4, Detected: 4, Recall: 1, Precision: 1,
			HealthyRounds: 6, Outages: 1}},
	}, {
		name:  "late detection, late recovery across an uncertain round",
		truth: with([]results.EntityRef{blk("a")}, []Outage{{results.LevelBlock, "a", at(2), at(6)}}),
		//                               0123456789
		verdicts: series(results.LevelBlock, "a", "uuudd?dduu"),
		want: []Row{{Level: results.LevelBlock, Entities: 1, OutageRounds: 4, Detected: 2, Recall: 0.5, Precision: 0.5,
			HealthyRounds: 6, FalseOutage: 2, Outages: 1, LatencyMean: 1, LatencyMax: 1, DurationErr: 1}},
	}, {
		name:     "missed outage, no verdicts at all",
		truth:    with([]results.EntityRef{blk("b")}, []Outage{{results.LevelBlock, "b", at(1), at(3)}}),
		verdicts: nil,
		want: []Row{{Level: results.LevelBlock, Entities: 1, OutageRounds: 2, Recall: 0, Precision: 1,
			HealthyRounds: 8, Outages: 1, Missed: 1}},
	}, {
		name:  "false outage and false partial; verdicts outside the window ignored",
		truth: with([]results.EntityRef{blk("c")}, nil),
		//                                    0123456789A
		verdicts: series(results.LevelBlock, "c", "uuuuuuudpud"),
		want: []Row{{Level: results.LevelBlock, Entities: 1, Recall: 1, Precision: 0,
			HealthyRounds: 10, FalseOutage: 1, FalsePartial: 1}},
	}, {
		name: "unmeasurable block is counted, not scored",
		truth: with([]results.EntityRef{blk("c"), blk("d")}, []Outage{{results.LevelBlock, "d", at(0), at(10)}},
			blk("d")),
		verdicts: join(series(results.LevelBlock, "c", "uuuuuuuuuu"), series(results.LevelBlock, "d", "uuuuuuuuuu")),
		want: []Row{{Level: results.LevelBlock, Entities: 2, Unmeasurable: 1, Recall: 1, Precision: 1,
			HealthyRounds: 10}},
	}, {
		name: "outages clipped to the window and merged; levels in order",
		truth: with([]results.EntityRef{ref(results.LevelCountry, "KP"), ref(results.LevelPrefix, "p"),
			ref(results.LevelHost, "h"), blk("c")},
			[]Outage{{results.LevelCountry, "KP", at(-2), at(3)}, {results.LevelCountry, "KP", at(2), at(4)},
				{results.LevelASN, "AS1", at(0), at(10)}}), // not a scored entity
		verdicts: join(series(results.LevelCountry, "KP", "ddduuuuuuu"), series(results.LevelBlock, "c", "uuuuuuuuuu"),
			series(results.LevelASN, "AS1", "dddddddddd")),
		want: []Row{
			{Level: results.LevelHost, Entities: 1, Recall: 1, Precision: 1, HealthyRounds: 10},
			{Level: results.LevelBlock, Entities: 1, Recall: 1, Precision: 1, HealthyRounds: 10},
			{Level: results.LevelPrefix, Entities: 1, Recall: 1, Precision: 1, HealthyRounds: 10},
			{Level: results.LevelCountry, Entities: 1, OutageRounds: 4, Detected: 3, Recall: 0.75, Precision: 1,
				HealthyRounds: 6, Outages: 1, DurationErr: 1},
		},
	}, {
		name: "several blocks add up",
		truth: with([]results.EntityRef{blk("a"), blk("b"), blk("c")},
			[]Outage{{results.LevelBlock, "a", at(2), at(6)}, {results.LevelBlock, "b", at(1), at(3)},
				{results.LevelBlock, "a", at(9), at(10)}}),
		verdicts: join(
			//                               0123456789
			series(results.LevelBlock, "a", "uuudd?duud"),
			series(results.LevelBlock, "c", "uuuuuuudpu")),
		want: []Row{{Level: results.LevelBlock, Entities: 3, OutageRounds: 7, Detected: 3, Recall: 3.0 / 7, Precision: 0.6,
			HealthyRounds: 23, FalseOutage: 2, FalsePartial: 1, Outages: 3, Missed: 1,
			LatencyMean: 0.5, LatencyMax: 1}},
	}, {
		name: "a reader that looked at every other round is scored on those only",
		truth: func() Truth {
			tr := with([]results.EntityRef{blk("a"), blk("b")},
				[]Outage{{results.LevelBlock, "a", at(2), at(6)}, {results.LevelBlock, "b", at(5), at(6)}})
			tr.Sampled = func(_ results.EntityRef, bin time.Time) bool { return bin.Sub(at(0))/round%2 == 0 }
			return tr
		}(),
		verdicts: join(
			//                               0123456789
			series(results.LevelBlock, "a", "uuuddd?uuu"),
			series(results.LevelBlock, "b", "uuuuuduuuu")),
		want: []Row{{Level: results.LevelBlock, Entities: 2, OutageRounds: 2, Detected: 1, Recall: 0.5, Precision: 1,
			HealthyRounds: 8, Outages: 1, LatencyMean: 2, LatencyMax: 2}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Score(tc.truth, tc.verdicts)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows, want %d:\n%s", len(got), len(tc.want), table(got))
			}
			for i := range got {
				if !rowsEqual(got[i], tc.want[i]) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func rowsEqual(a, b Row) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	fa, fb := a, b
	fa.Recall, fa.Precision, fa.LatencyMean, fa.LatencyMax, fa.DurationErr = 0, 0, 0, 0, 0
	fb.Recall, fb.Precision, fb.LatencyMean, fb.LatencyMax, fb.DurationErr = 0, 0, 0, 0, 0
	return fa == fb && near(a.Recall, b.Recall) && near(a.Precision, b.Precision) &&
		near(a.LatencyMean, b.LatencyMean) && near(a.LatencyMax, b.LatencyMax) && near(a.DurationErr, b.DurationErr)
}

func table(rows []Row) string {
	var b bytes.Buffer
	Print(&b, "scores", rows)
	return b.String()
}

func TestPrint(t *testing.T) {
	out := table([]Row{{Level: results.LevelBlock, Entities: 5000, Recall: 0.5, Precision: 1}, {Level: results.LevelCountry, Entities: 10}})
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "scores" {
		t.Fatalf("table:\n%s", out)
	}
	if len(lines[1]) != len(lines[2]) || len(lines[2]) != len(lines[3]) {
		t.Errorf("columns not fixed-width:\n%s", out)
	}
}
