package results

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestRollup(t *testing.T) {
	r := &Rollup{Window: 5}
	const total = 4
	for _, c := range []struct {
		up       int
		baseline float64
		alert    string
	}{
		{4, 4, AlertNormal}, // no history: the baseline is the bin itself
		{4, 4, AlertNormal},
		{3, 4, AlertWarning},  // 0.75: alerting, not in the history
		{4, 4, AlertNormal},   // median of 4 4
		{2, 4, AlertWarning},  // 0.5 is not below 0.5
		{1, 4, AlertCritical}, // median of 4 4 4
		{0, 4, AlertCritical}, // frozen while alerting: an outage never becomes the norm
		{0, 4, AlertCritical},
		{0, 4, AlertCritical},
		{0, 4, AlertCritical},
		{0, 4, AlertCritical},
		{0, 4, AlertCritical},
		{4, 4, AlertNormal},
		{3, 4, AlertWarning},
		{4, 4, AlertNormal}, // the window has slid: 4 4 4 4 4
	} {
		t.Run(fmt.Sprintf("up=%d", c.up), func(t *testing.T) {
			b := r.Add(LevelPrefix, "198.18.0.0/22", t0, c.up, total)
			if b.Baseline != c.baseline || b.Alert != c.alert || b.Up != c.up || b.Total != total {
				t.Errorf("got %+v, want baseline %v alert %s", b, c.baseline, c.alert)
			}
			wantRatio := 1.0
			if c.baseline > 0 {
				wantRatio = float64(c.up) / c.baseline
			}
			if math.Abs(b.Ratio-wantRatio) > 1e-12 {
				t.Errorf("ratio %v, want %v", b.Ratio, wantRatio)
			}
		})
	}
	t.Run("entities apart", func(t *testing.T) {
		if b := r.Add(LevelASN, "AS64500", t0, 1, 4); b.Baseline != 1 || b.Alert != AlertNormal {
			t.Errorf("a new entity: got %+v", b)
		}
	})
}

func TestRollupThresholds(t *testing.T) {
	for _, c := range []struct {
		name              string
		warning, critical float64
		up                int
		want              string
	}{
		{"default normal", 0, 0, 8, AlertNormal},
		{"default warning", 0, 0, 7, AlertWarning},
		{"default critical", 0, 0, 4, AlertCritical},
		{"default edge", 0, 0, 5, AlertWarning},
		{"strict warning", 0.95, 0.9, 9, AlertWarning},
		{"strict critical", 0.95, 0.9, 8, AlertCritical},
		{"strict warning", 0.95, 0.9, 10, AlertNormal},
		{"lax critical", 0.5, 0.2, 3, AlertWarning},
		{"lax critical", 0.5, 0.2, 1, AlertCritical},
	} {
		t.Run(fmt.Sprintf("%s/%d", c.name, c.up), func(t *testing.T) {
			r := Rollup{Warning: c.warning, Critical: c.critical}
			for range 3 {
				r.Add(LevelCountry, "KP", t0, 10, 10)
			}
			if b := r.Add(LevelCountry, "KP", t0, c.up, 10); b.Alert != c.want {
				t.Errorf("got %s (ratio %v), want %s", b.Alert, b.Ratio, c.want)
			}
		})
	}
}

func TestRollupMedianEven(t *testing.T) {
	var r Rollup
	r.Add(LevelPrefix, "p", t0, 2, 10)
	r.Add(LevelPrefix, "p", t0, 5, 10)
	if b := r.Add(LevelPrefix, "p", t0, 0, 10); b.Baseline != 3.5 {
		t.Errorf("baseline %v, want 3.5", b.Baseline)
	}
}

func TestRollupBinVerdict(t *testing.T) {
	for _, c := range []struct {
		bin       RollupBin
		control   string
		dataPlane string
		verdict   string
		drop      float64
	}{
		{RollupBin{Up: 4, Total: 4, Baseline: 4, Alert: AlertNormal}, "", PlaneUp, VerdictReachable, 0},
		{RollupBin{Up: 3, Total: 4, Baseline: 4, Alert: AlertWarning}, ControlAnnounced, PlanePartial, VerdictPartial, 0.25},
		{RollupBin{Up: 0, Total: 4, Baseline: 4, Alert: AlertCritical}, ControlUnknown, PlaneDown, VerdictOutage, 1},
		{RollupBin{Up: 1, Total: 4, Baseline: 4, Alert: AlertCritical}, ControlWithdrawn, PlaneDown, VerdictControlPlaneOutage, 0.75},
		{RollupBin{Up: 0, Total: 0, Baseline: 4, Alert: AlertCritical}, ControlWithdrawn, PlaneUncertain, VerdictWithdrawn, 1},
		{RollupBin{Up: 6, Total: 6, Baseline: 4, Alert: AlertNormal}, ControlAnnounced, PlaneUp, VerdictReachable, 0},
	} {
		t.Run(c.verdict, func(t *testing.T) {
			c.bin.Level, c.bin.Entity, c.bin.Time = LevelPrefix, "198.18.0.0/22", t0
			v := c.bin.Verdict(c.control)
			if v.DataPlane != c.dataPlane || v.Verdict != c.verdict || *v.Up != c.bin.Up || *v.Total != c.bin.Total ||
				v.Entity != "198.18.0.0/22" || !v.Time.Equal(t0) {
				t.Errorf("got %+v", v)
			}
			if d := c.bin.Drop(); math.Abs(d-c.drop) > 1e-12 {
				t.Errorf("drop %v, want %v", d, c.drop)
			}
		})
	}
}

func kpHierarchy() *Hierarchy {
	p := netip.MustParsePrefix
	return NewHierarchy([]TargetSet{
		{Name: "kp", Prefixes: []netip.Prefix{p("198.18.0.0/22")}, ASN: 131279, Country: "KP"},
		{Name: "kp2", Prefixes: []netip.Prefix{p("198.18.4.0/23"), p("192.0.2.0/28")}, ASN: 64500, Country: "kp"},
		{Name: "other", Prefixes: []netip.Prefix{p("198.51.100.0/24")}, ASN: 64501},
	})
}

func TestHierarchyParents(t *testing.T) {
	h := kpHierarchy()
	for _, c := range []struct {
		block string
		want  []EntityRef
	}{
		{"198.18.1.0/24", []EntityRef{{LevelPrefix, "198.18.0.0/22"}, {LevelASN, "AS131279"}, {LevelCountry, "KP"}}},
		{"198.18.5.0/24", []EntityRef{{LevelPrefix, "198.18.4.0/23"}, {LevelASN, "AS64500"}, {LevelCountry, "KP"}}},
		{"192.0.2.0/24", []EntityRef{{LevelPrefix, "192.0.2.0/28"}, {LevelASN, "AS64500"}, {LevelCountry, "KP"}}},
		{"198.51.100.0/24", []EntityRef{{LevelPrefix, "198.51.100.0/24"}, {LevelASN, "AS64501"}}},
		{"203.0.113.0/24", nil},
	} {
		t.Run(c.block, func(t *testing.T) {
			if got := h.Parents(netip.MustParsePrefix(c.block)); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestHierarchyContains(t *testing.T) {
	h := kpHierarchy()
	for _, c := range []struct {
		level, entity, addr string
		want                bool
	}{
		{LevelHost, "198.18.0.7", "198.18.0.7", true},
		{LevelHost, "198.18.0.7", "198.18.0.8", false},
		{LevelBlock, "198.18.0.0/24", "198.18.0.8", true},
		{LevelPrefix, "198.18.0.0/22", "198.18.3.1", true},
		{LevelPrefix, "198.18.0.0/22", "198.18.4.1", false},
		{LevelASN, "AS64500", "192.0.2.3", true},
		{LevelASN, "AS64500", "192.0.2.30", false},
		{LevelCountry, "KP", "198.18.5.1", true},
		{LevelCountry, "kp", "198.18.1.1", true},
		{LevelCountry, "KP", "198.51.100.1", false},
		{LevelVantage, "vp1", "198.18.0.1", false},
	} {
		t.Run(c.level+"/"+c.entity+"/"+c.addr, func(t *testing.T) {
			if got := h.Contains(c.level, c.entity, netip.MustParseAddr(c.addr)); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if (*Hierarchy)(nil).Contains(LevelASN, "AS64500", netip.MustParseAddr("192.0.2.3")) {
		t.Error("nil Hierarchy knows an AS")
	}
}

// A drop of fewer than MinRollupDrop usual blocks, none confirmed down, is
// not an alert; one proven dark, or three silent at once, is.
func TestRollupSmallDrops(t *testing.T) {
	for _, c := range []struct {
		name           string
		base, up, down int
		want           string
	}{
		{"one sparse block silent", 1, 0, 0, AlertUnknown},
		{"two of two silent", 2, 0, 0, AlertUnknown},
		{"one of one confirmed dark", 1, 0, 1, AlertCritical},
		{"three of four silent", 4, 1, 0, AlertCritical},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &Rollup{}
			for range 5 {
				r.add(EntityCount{Time: t0, Level: LevelPrefix, Entity: "p", Up: c.base, Total: c.base})
			}
			if b := r.add(EntityCount{Time: t0, Level: LevelPrefix, Entity: "p", Up: c.up, Total: c.base, Down: c.down}); b.Alert != c.want {
				t.Errorf("%+v, want %s", b, c.want)
			}
		})
	}
}

func TestHierarchyCount(t *testing.T) {
	h := kpHierarchy()
	round := 11 * time.Minute
	r0 := time.Unix(0, 0).Add(1000 * round).UTC() // a round start
	bv := func(block string, at time.Duration, dp string) Verdict {
		return Verdict{Time: r0.Add(at), Level: LevelBlock, Entity: block, DataPlane: dp}
	}
	counts := h.Count([]Verdict{
		bv("198.18.0.0/24", 10*time.Second, PlaneUp),
		bv("198.18.1.0/24", 20*time.Second, PlanePartial),
		bv("198.18.2.0/24", 30*time.Second, PlaneDown),
		bv("198.18.3.0/24", 40*time.Second, PlaneUncertain),
		bv("198.18.3.0/24", 50*time.Second, PlaneUp), // counted once, as up
		bv("198.18.4.0/24", 60*time.Second, PlaneUp),
		bv("198.18.0.0/24", round+time.Second, PlaneDown),
		{Time: r0, Level: LevelHost, Entity: "198.18.0.7", DataPlane: PlaneUp}, // not a block
		bv("not a prefix", 0, PlaneUp),
	}, round)
	r1 := r0.Add(round)
	want := []EntityCount{
		{r0, LevelPrefix, "198.18.0.0/22", 3, 4, 1},
		{r0, LevelPrefix, "198.18.4.0/23", 1, 1, 0},
		{r0, LevelASN, "AS131279", 3, 4, 1},
		{r0, LevelASN, "AS64500", 1, 1, 0},
		{r0, LevelCountry, "KP", 4, 5, 1},
		{r1, LevelPrefix, "198.18.0.0/22", 0, 1, 1},
		{r1, LevelASN, "AS131279", 0, 1, 1},
		{r1, LevelCountry, "KP", 0, 1, 1},
	}
	if !slices.Equal(counts, want) {
		t.Errorf("got\n%v\nwant\n%v", counts, want)
	}

	t.Run("into a Rollup", func(t *testing.T) {
		var r Rollup
		bins := r.AddCounts(counts)
		if len(bins) != len(counts) || bins[5].Entity != "198.18.0.0/22" || bins[5].Baseline != 3 || bins[5].Alert != AlertCritical {
			t.Errorf("got %+v", bins)
		}
	})
}

func TestBinStart(t *testing.T) {
	round := 11 * time.Minute
	for _, c := range []struct {
		t    time.Time
		bin  time.Duration
		want time.Time
	}{
		{time.Unix(660*5+3, 0), round, time.Unix(660*5, 0)},
		{time.Unix(-1, 0), round, time.Unix(-660, 0)},
		{time.Unix(77, 5), 0, time.Unix(77, 5)},
	} {
		t.Run(c.t.String(), func(t *testing.T) {
			if got := binStart(c.t, c.bin); !got.Equal(c.want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
