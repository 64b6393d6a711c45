package results

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)

func canary(vantage string, round int64, target, outcome string) Record {
	return Record{Time: t0.Add(time.Duration(round) * 11 * time.Minute), Vantage: vantage, Round: round,
		Method: MethodICMP, Target: target, Outcome: outcome}
}

func TestVantageHealth(t *testing.T) {
	h := VantageHealth([]Record{
		canary("vp1", 1, "192.0.2.1", OutcomeTimeout),
		canary("vp1", 1, "198.51.100.1", OutcomeUnreachable),
		canary("vp1", 2, "192.0.2.1", OutcomeTimeout),
		canary("vp1", 2, "198.51.100.1", OutcomeReply),
		canary("vp2", 1, "192.0.2.1", OutcomeError),
		canary("vp2", 2, "192.0.2.1", OutcomeReply),
	})
	for _, c := range []struct {
		vantage string
		round   int64
		want    bool
	}{
		{"vp1", 1, false}, // every canary failed
		{"vp1", 2, true},  // one answered
		{"vp2", 1, false}, // the prober could not send
		{"vp2", 2, true},
		{"vp1", 3, true}, // no canary records: unknown, taken as healthy
		{"vp3", 1, true},
	} {
		t.Run(c.vantage+"/"+string(rune('0'+c.round)), func(t *testing.T) {
			if got := h.Healthy(c.vantage, c.round); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		if !Health(nil).Healthy("vp1", 1) {
			t.Error("nil Health: not healthy")
		}
	})
	t.Run("verdicts", func(t *testing.T) {
		want := []struct{ entity, verdict string }{
			{"vp1", VerdictVantageDown}, {"vp1", VerdictHealthy}, {"vp2", VerdictVantageDown}, {"vp2", VerdictHealthy},
		}
		vs := h.Verdicts()
		if len(vs) != len(want) {
			t.Fatalf("got %+v", vs)
		}
		for i, w := range want {
			if vs[i].Level != LevelVantage || vs[i].Entity != w.entity || vs[i].Verdict != w.verdict {
				t.Errorf("verdict %d: got %+v, want %v", i, vs[i], w)
			}
		}
		if !vs[0].Time.Equal(t0.Add(11 * time.Minute)) {
			t.Errorf("time %v", vs[0].Time)
		}
	})
}

// obs is an observation of block 198.18.0.0/24 in round 1.
func obs(vantage, method, state string) Observation {
	return Observation{Vantage: vantage, Level: LevelBlock, Entity: "198.18.0.0/24", Round: 1,
		Time: t0.Add(11 * time.Minute), State: state, Method: method}
}

func TestMerge(t *testing.T) {
	// vp3 is vantage-down in round 1; vp1 and vp2 healthy; vp4 has no canaries.
	health := VantageHealth([]Record{
		canary("vp1", 1, "192.0.2.1", OutcomeReply),
		canary("vp2", 1, "192.0.2.1", OutcomeReply),
		canary("vp3", 1, "192.0.2.1", OutcomeTimeout),
	})
	const icmp, tcp = MethodICMP, MethodTCP
	for _, c := range []struct {
		name      string
		obs       []Observation
		quorum    int
		dataPlane string
		verdict   string
		count     VantageCount
		methods   map[string]string
	}{
		{"all up", []Observation{obs("vp1", icmp, PlaneUp), obs("vp2", icmp, PlaneUp), obs("vp4", icmp, PlaneUp)}, 2,
			PlaneUp, VerdictReachable, VantageCount{3, 0, 0}, nil},
		{"one up two down", []Observation{obs("vp1", icmp, PlaneUp), obs("vp2", icmp, PlaneDown), obs("vp4", icmp, PlaneDown)}, 2,
			PlanePartial, VerdictPartial, VantageCount{1, 2, 0}, nil},
		{"all down", []Observation{obs("vp1", icmp, PlaneDown), obs("vp2", icmp, PlaneDown), obs("vp4", icmp, PlaneDown)}, 2,
			PlaneDown, VerdictOutage, VantageCount{0, 3, 0}, nil},
		{"two down, the third vantage-down", []Observation{obs("vp1", icmp, PlaneDown), obs("vp2", icmp, PlaneDown), obs("vp3", icmp, PlaneDown)}, 2,
			PlaneDown, VerdictOutage, VantageCount{0, 2, 1}, nil},
		{"one down below quorum", []Observation{obs("vp1", icmp, PlaneDown), obs("vp3", icmp, PlaneDown)}, 2,
			PlaneUncertain, VerdictUncertain, VantageCount{0, 1, 1}, nil},
		{"one down, quorum one", []Observation{obs("vp1", icmp, PlaneDown)}, 1,
			PlaneDown, VerdictOutage, VantageCount{0, 1, 0}, nil},
		{"quorum zero is two", []Observation{obs("vp1", icmp, PlaneDown)}, 0,
			PlaneUncertain, VerdictUncertain, VantageCount{0, 1, 0}, nil},
		{"two down, one uncertain", []Observation{obs("vp1", icmp, PlaneDown), obs("vp2", icmp, PlaneDown), obs("vp4", icmp, PlaneUncertain)}, 2,
			PlaneDown, VerdictOutage, VantageCount{0, 2, 0}, nil},
		{"vantage-down vantage's down is a gap", []Observation{obs("vp1", icmp, PlaneUp), obs("vp2", icmp, PlaneUp), obs("vp3", icmp, PlaneDown)}, 2,
			PlaneUp, VerdictReachable, VantageCount{2, 0, 1}, nil},
		{"vantage-down vantage's up is a gap too", []Observation{obs("vp1", icmp, PlaneDown), obs("vp2", icmp, PlaneDown), obs("vp3", icmp, PlaneUp)}, 2,
			PlaneDown, VerdictOutage, VantageCount{0, 2, 1}, nil},
		{"only vantage-down evidence", []Observation{obs("vp3", icmp, PlaneDown), obs("vp3", tcp, PlaneDown)}, 2,
			PlaneUncertain, VerdictUncertain, VantageCount{0, 0, 1}, nil},
		{"all uncertain", []Observation{obs("vp1", icmp, PlaneUncertain), obs("vp2", icmp, PlaneUncertain)}, 2,
			PlaneUncertain, VerdictUncertain, VantageCount{0, 0, 0}, nil},
		{"icmp down, tcp up on one vantage", []Observation{obs("vp1", icmp, PlaneDown), obs("vp1", tcp, PlaneUp)}, 2,
			PlanePartial, VerdictPartial, VantageCount{1, 0, 0}, map[string]string{icmp: PlaneDown, tcp: PlaneUp}},
		{"icmp down, tcp up everywhere", []Observation{obs("vp1", icmp, PlaneDown), obs("vp1", tcp, PlaneUp), obs("vp2", icmp, PlaneDown), obs("vp2", tcp, PlaneUp)}, 2,
			PlanePartial, VerdictPartial, VantageCount{2, 0, 0}, map[string]string{icmp: PlaneDown, tcp: PlaneUp}},
		{"methods agree", []Observation{obs("vp1", icmp, PlaneUp), obs("vp1", tcp, PlaneUp), obs("vp2", icmp, PlaneUp), obs("vp2", tcp, PlaneUncertain)}, 2,
			PlaneUp, VerdictReachable, VantageCount{2, 0, 0}, nil},
		{"icmp down, tcp uncertain: down", []Observation{obs("vp1", icmp, PlaneDown), obs("vp1", tcp, PlaneUncertain), obs("vp2", icmp, PlaneDown)}, 2,
			PlaneDown, VerdictOutage, VantageCount{0, 2, 0}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs := Merge(c.obs, health, c.quorum)
			if len(vs) != 1 {
				t.Fatalf("got %d verdicts: %+v", len(vs), vs)
			}
			v := vs[0]
			if v.DataPlane != c.dataPlane || v.Verdict != c.verdict || v.ControlPlane != ControlUnknown ||
				v.Vantages == nil || *v.Vantages != c.count || !maps.Equal(v.Methods, c.methods) {
				t.Errorf("got %s/%s %+v methods %v; want %s/%s %+v methods %v",
					v.DataPlane, v.Verdict, v.Vantages, v.Methods, c.dataPlane, c.verdict, c.count, c.methods)
			}
			if v.Level != LevelBlock || v.Entity != "198.18.0.0/24" || !v.Time.Equal(t0.Add(11*time.Minute)) {
				t.Errorf("got %s %s %v", v.Level, v.Entity, v.Time)
			}
		})
	}
}

func TestMergeGroupsAndBelief(t *testing.T) {
	o := func(v, entity string, round int64, state string, belief float64, minute int) Observation {
		return Observation{Vantage: v, Level: LevelBlock, Entity: entity, Round: round, State: state,
			Method: MethodICMP, Belief: belief, Time: t0.Add(time.Duration(round)*11*time.Minute + time.Duration(minute)*time.Minute)}
	}
	vs := Merge([]Observation{
		o("vp2", "198.18.1.0/24", 2, PlaneDown, 0.02, 1),
		o("vp1", "198.18.0.0/24", 2, PlaneUp, 0.97, 2),
		o("vp2", "198.18.0.0/24", 2, PlaneDown, 0.03, 1),
		o("vp1", "198.18.0.0/24", 1, PlaneUp, 0.99, 0),
		o("vp1", "198.18.1.0/24", 2, PlaneDown, 0.01, 3),
	}, nil, 2)
	want := []struct {
		entity  string
		round   int64
		verdict string
		belief  float64
	}{
		{"198.18.0.0/24", 1, VerdictReachable, 0.99},
		{"198.18.0.0/24", 2, VerdictPartial, 0.97},
		{"198.18.1.0/24", 2, VerdictOutage, 0.02},
	}
	if len(vs) != len(want) {
		t.Fatalf("got %+v", vs)
	}
	for i, w := range want {
		v := vs[i]
		tm := t0.Add(time.Duration(w.round) * 11 * time.Minute)
		if w.round == 2 {
			tm = tm.Add(time.Minute) // vp2's, the earliest
		}
		if v.Entity != w.entity || v.Verdict != w.verdict || v.Belief == nil || *v.Belief != w.belief || !v.Time.Equal(tm) {
			t.Errorf("verdict %d: got %s %s %v %v, want %v at %v", i, v.Entity, v.Verdict, v.Belief, v.Time, w, tm)
		}
	}
}

// TestMergeRoundsSharingAKey merges rounds whose low 32 bits are equal, which
// Merge's fast grouping key cannot tell apart, with the entity's other rounds
// and another entity interleaved.
func TestMergeRoundsSharingAKey(t *testing.T) {
	const far = 1 << 32
	o := func(v, entity string, round int64, state string) Observation {
		return Observation{Vantage: v, Level: LevelBlock, Entity: entity, Round: round, State: state,
			Method: MethodICMP, Time: t0.Add(time.Duration(round%far)*time.Minute + time.Duration(round/far)*time.Hour)}
	}
	vs := Merge([]Observation{
		o("vp1", "198.18.9.0/24", 7, PlaneUp),
		o("vp1", "198.18.2.0/24", far+7, PlaneDown),
		o("vp1", "198.18.2.0/24", 7, PlaneUp),
		o("vp2", "198.18.2.0/24", far+7, PlaneDown),
		o("vp2", "198.18.2.0/24", 2*far+7, PlaneDown),
		o("vp2", "198.18.2.0/24", 7, PlaneDown),
		o("vp1", "198.18.2.0/24", 2*far+7, PlaneUp),
	}, nil, 2)
	want := []string{
		"198.18.2.0/24 7 partial",
		"198.18.2.0/24 4294967303 outage",
		"198.18.2.0/24 8589934599 partial",
		"198.18.9.0/24 7 reachable",
	}
	var got []string
	for _, v := range vs {
		r := v.Time.Sub(t0)
		got = append(got, fmt.Sprintf("%s %d %s", v.Entity, int64(r/time.Hour)*far+int64(r%time.Hour/time.Minute), v.Verdict))
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCombine(t *testing.T) {
	controls := []string{ControlAnnounced, ControlWithdrawn, ControlUnknown}
	// DESIGN.md's table, row by row.
	table := map[string][3]string{
		PlaneUp:        {VerdictReachable, VerdictReachableUnrouted, VerdictReachable},
		PlanePartial:   {VerdictPartial, VerdictPartial, VerdictPartial},
		PlaneDown:      {VerdictDataPlaneOutage, VerdictControlPlaneOutage, VerdictOutage},
		PlaneUncertain: {VerdictUncertain, VerdictWithdrawn, VerdictUncertain},
	}
	for dp, row := range table {
		for i, cp := range controls {
			t.Run(dp+"/"+cp, func(t *testing.T) {
				if got := Combine(dp, cp); got != row[i] {
					t.Errorf("got %s, want %s", got, row[i])
				}
			})
		}
	}
	for _, c := range []struct{ dp, cp, want string }{
		{PlaneDown, "", VerdictOutage},
		{PlaneDown, "bogus", VerdictOutage},
		{"", ControlAnnounced, VerdictUncertain},
		{"bogus", ControlWithdrawn, VerdictWithdrawn},
	} {
		t.Run("unrecognised/"+c.dp+"/"+c.cp, func(t *testing.T) {
			if got := Combine(c.dp, c.cp); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}
