package results

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Alert levels of a roll-up bin, as IODA's for active probing.
const (
	AlertNormal   = "normal"
	AlertWarning  = "warning"
	AlertCritical = "critical"
	// AlertUnknown is a bin with nothing to judge: no block verdict, or no
	// block of the entity has ever been seen up.
	AlertUnknown = "unknown"
)

// Roll-up defaults.
const (
	// DefaultRollupSpan is how far back the baseline reaches: seven days, the
	// same for `run`, `serve` and `verdict`.
	DefaultRollupSpan = 7 * 24 * time.Hour
	// MaxRollupWindow caps the baseline window in bins, so that a lab's
	// second-long rounds do not keep 300,000 bins an entity.
	MaxRollupWindow = 4096
	// DefaultRollupWindow is the window of 11-minute rounds: 916 bins.
	DefaultRollupWindow = int(DefaultRollupSpan / (11 * time.Minute))
	// DefaultWarning and DefaultCritical are the ratios of up blocks to the
	// baseline below which a bin is a warning or critical.
	DefaultWarning  = 0.8
	DefaultCritical = 0.5
)

// RollupWindow is the baseline window, in bins, for rounds of length round:
// DefaultRollupSpan of them, at most MaxRollupWindow (DefaultRollupWindow for
// a round that is not positive).
func RollupWindow(round time.Duration) int {
	if round <= 0 {
		return DefaultRollupWindow
	}
	return int(min(int64(DefaultRollupSpan/round), MaxRollupWindow))
}

// Rollup turns per-bin counts of up blocks of roll-up entities (prefixes, ASes,
// countries) into alerts, comparing each bin with the median of the entity's
// earlier normal bins. The zero Rollup is ready to use, with the defaults; it
// is not safe for concurrent use.
//
// The baseline is frozen while an entity alerts: a warning or critical bin
// does not enter the history, so an outage of any length never becomes the
// norm it is measured against. An entity with no history takes its first bin
// as the baseline; an entity none of whose blocks has ever been seen up has
// nothing to lose and is AlertUnknown, never normal.
type Rollup struct {
	// Window is how many earlier normal bins the baseline is the median of;
	// 0 means DefaultRollupWindow.
	Window int
	// Warning and Critical are the alert ratios; 0 means DefaultWarning and
	// DefaultCritical.
	Warning  float64
	Critical float64

	history map[entityKey]*window
}

// entityKey names an entity.
type entityKey struct{ level, entity string }

// window is an entity's baseline history: the last n values in arrival order
// and the same values sorted, for the median.
type window struct {
	order  []int
	sorted []int
}

func (w *window) add(v, max int) {
	if len(w.order) >= max {
		old := w.order[0]
		w.order = w.order[1:]
		i, _ := slices.BinarySearch(w.sorted, old)
		w.sorted = slices.Delete(w.sorted, i, i+1)
	}
	w.order = append(w.order, v)
	i, _ := slices.BinarySearch(w.sorted, v)
	w.sorted = slices.Insert(w.sorted, i, v)
}

// median is the median of the window (not empty), the mean of the middle
// two for an even count.
func (w *window) median() float64 {
	s, n := w.sorted, len(w.sorted)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}

// RollupBin is one bin of one roll-up entity.
type RollupBin struct {
	Time   time.Time
	Level  string
	Entity string
	// Up counts the blocks seen up (or partial) in the bin, Total the blocks
	// with a verdict in it.
	Up    int
	Total int
	// Baseline is the median of Up over the earlier normal bins in the
	// window, or Up itself while there is none.
	Baseline float64
	// Ratio is Up / Baseline, 1 when Baseline is 0.
	Ratio float64
	// Alert is AlertNormal, AlertWarning (Ratio below Warning),
	// AlertCritical (below Critical) or AlertUnknown.
	Alert string
}

// Seed puts earlier normal bins' up counts (oldest first) into entity's
// history, as read back from the store, so that a baseline reaches further
// back than the records an analysis reads.
func (r *Rollup) Seed(level, entity string, ups []int) {
	w := r.window(level, entity)
	for _, up := range ups {
		w.add(up, r.windowLen())
	}
}

func (r *Rollup) windowLen() int {
	if r.Window <= 0 {
		return DefaultRollupWindow
	}
	return r.Window
}

func (r *Rollup) window(level, entity string) *window {
	if r.history == nil {
		r.history = make(map[entityKey]*window)
	}
	k := entityKey{level, entity}
	w := r.history[k]
	if w == nil {
		w = &window{}
		r.history[k] = w
	}
	return w
}

// MinRollupDrop is the smallest drop, in usual up blocks, that alerts on
// uncertain blocks alone: an entity whose baseline is fewer blocks alerts
// only when one of them is confirmed down. One or two sparse blocks silent
// for a round is noise; three at once, or one proven dark, is not.
const MinRollupDrop = 3

// Add ingests entity's bin at t with up blocks up of total (the others taken
// as down), and returns the bin compared with the baseline. Bins of one
// entity must come in time order.
func (r *Rollup) Add(level, entity string, t time.Time, up, total int) RollupBin {
	return r.add(EntityCount{Time: t, Level: level, Entity: entity, Up: up, Total: total, Down: total - up})
}

func (r *Rollup) add(c EntityCount) RollupBin {
	level, entity, t, up, total := c.Level, c.Entity, c.Time, c.Up, c.Total
	warning, critical := cmp.Or(r.Warning, DefaultWarning), cmp.Or(r.Critical, DefaultCritical)
	w := r.window(level, entity)
	b := RollupBin{Time: t, Level: level, Entity: entity, Up: up, Total: total, Baseline: float64(up), Ratio: 1}
	if len(w.sorted) > 0 {
		b.Baseline = w.median()
	}
	if b.Baseline > 0 {
		b.Ratio = float64(up) / b.Baseline
	}
	switch {
	case total == 0 || b.Baseline == 0 && up == 0:
		b.Alert = AlertUnknown
	case b.Ratio < critical:
		b.Alert = AlertCritical
	case b.Ratio < warning:
		b.Alert = AlertWarning
	default:
		b.Alert = AlertNormal
	}
	if b.Alert == AlertNormal || b.Alert == AlertUnknown && total > 0 {
		w.add(up, r.windowLen())
	}
	if (b.Alert == AlertWarning || b.Alert == AlertCritical) && c.Down == 0 && b.Baseline-float64(up) < MinRollupDrop {
		b.Alert = AlertUnknown // too small a drop to tell from noise: not an alert, not the norm
	}
	return b
}

// AddCounts ingests counts (in time order, as Hierarchy.Count returns them)
// and returns their bins.
func (r *Rollup) AddCounts(counts []EntityCount) []RollupBin {
	bins := make([]RollupBin, len(counts))
	for i, c := range counts {
		bins[i] = r.add(c)
	}
	return bins
}

// Drop is the bin's relative drop, (Baseline − Up) / Baseline within [0, 1]:
// the weight of its minutes in an event's severity.
func (b RollupBin) Drop() float64 {
	if b.Baseline <= 0 {
		return 0
	}
	return min(max((b.Baseline-float64(b.Up))/b.Baseline, 0), 1)
}

// DataPlane maps the alert to a data-plane state: normal is up, warning
// partial, critical down (IODA's critical is an outage); a bin with no block
// verdict at all is uncertain.
func (b RollupBin) DataPlane() string {
	switch {
	case b.Total == 0 || b.Alert == AlertUnknown:
		return PlaneUncertain
	case b.Alert == AlertCritical:
		return PlaneDown
	case b.Alert == AlertWarning:
		return PlanePartial
	}
	return PlaneUp
}

// Verdict returns the bin as a verdict, given the entity's control plane
// (ControlUnknown until BGP is known).
func (b RollupBin) Verdict(controlPlane string) Verdict {
	up, total := b.Up, b.Total
	if controlPlane == "" {
		controlPlane = ControlUnknown
	}
	return Verdict{
		Time: b.Time, Level: b.Level, Entity: b.Entity,
		Verdict:   Combine(b.DataPlane(), controlPlane),
		DataPlane: b.DataPlane(), ControlPlane: controlPlane,
		Up: &up, Total: &total,
	}
}

// Bin returns the bin as an event-series bin weighted by its Drop.
func (b RollupBin) Bin(controlPlane string) Bin {
	return Bin{Verdict: b.Verdict(controlPlane), Drop: b.Drop()}
}

// TargetSet is the roll-up part of a configured target set: its prefixes, and
// the AS and country they belong to (0 and "" when not given).
type TargetSet struct {
	Name     string
	Prefixes []netip.Prefix
	// Blocks are the blocks of the set's hitlist addresses: each rolls up
	// into the set's AS and country, and into its prefixes that hold it.
	Blocks  []netip.Prefix
	ASN     uint32
	Country string
}

// EntityRef names a roll-up entity.
type EntityRef struct {
	Level  string
	Entity string
}

// ASEntity is the entity name of an AS: "AS131279".
func ASEntity(asn uint32) string { return fmt.Sprintf("AS%d", asn) }

// Hierarchy maps blocks to the prefixes, ASes and countries of the target sets
// they lie in.
type Hierarchy struct {
	sets []TargetSet
}

// NewHierarchy returns the hierarchy of sets.
func NewHierarchy(sets []TargetSet) *Hierarchy {
	h := &Hierarchy{sets: make([]TargetSet, len(sets))}
	for i, s := range sets {
		s.Prefixes = slices.Clone(s.Prefixes)
		for j := range s.Prefixes {
			s.Prefixes[j] = s.Prefixes[j].Masked()
		}
		s.Country = strings.ToUpper(s.Country)
		h.sets[i] = s
	}
	return h
}

// Parents returns the entities block rolls up into: every configured prefix it
// overlaps (a /24 block in a /22, or a /28 prefix inside the block), and the AS
// and country of those prefixes' target sets, each once, in that order
// (prefixes, then ASes, then countries, each in configuration order).
func (h *Hierarchy) Parents(block netip.Prefix) []EntityRef {
	var prefixes, ases, countries []EntityRef
	add := func(list *[]EntityRef, e EntityRef) {
		if !slices.Contains(*list, e) {
			*list = append(*list, e)
		}
	}
	for _, s := range h.sets {
		in := slices.Contains(s.Blocks, block)
		for _, p := range s.Prefixes {
			if p.Overlaps(block) {
				in = true
				add(&prefixes, EntityRef{LevelPrefix, p.String()})
			}
		}
		if !in {
			continue
		}
		if s.ASN != 0 {
			add(&ases, EntityRef{LevelASN, ASEntity(s.ASN)})
		}
		if s.Country != "" {
			add(&countries, EntityRef{LevelCountry, s.Country})
		}
	}
	return append(append(prefixes, ases...), countries...)
}

// Contains reports whether address a lies in the entity: a host equal to it, a
// block or prefix holding it, an AS or country one of whose configured
// prefixes holds it.
func (h *Hierarchy) Contains(level, entity string, a netip.Addr) bool {
	a = a.Unmap()
	switch level {
	case LevelHost:
		b, err := netip.ParseAddr(entity)
		return err == nil && b.Unmap() == a
	case LevelBlock, LevelPrefix:
		p, err := netip.ParsePrefix(entity)
		return err == nil && p.Contains(a)
	case LevelASN, LevelCountry:
		if h == nil {
			return false
		}
		for _, s := range h.sets {
			if level == LevelASN && (s.ASN == 0 || ASEntity(s.ASN) != entity) ||
				level == LevelCountry && (s.Country == "" || s.Country != strings.ToUpper(entity)) {
				continue
			}
			for _, p := range s.Prefixes {
				if p.Contains(a) {
					return true
				}
			}
		}
	}
	return false
}

// EntityCount is one roll-up entity's count of up blocks in one time bin.
type EntityCount struct {
	Time   time.Time
	Level  string
	Entity string
	Up     int
	Total  int
	// Down counts the blocks whose data plane is down: confirmed dark, not
	// merely uncertain.
	Down int
}

// Count counts block verdicts (other levels are ignored) per time bin and
// parent entity: Total the blocks with a verdict, Up those whose data plane is
// up or partial (reachable from somewhere). A bin is bin long, starting at a
// multiple of bin since the Unix epoch, as aligned rounds do; bin 0 takes each
// verdict's time as its bin. A block counted twice in a bin counts once (up if
// either says so). The result is sorted by time, level, then entity.
func (h *Hierarchy) Count(blocks []Verdict, bin time.Duration) []EntityCount {
	type binKey struct {
		t time.Time
		e EntityRef
	}
	type blockKey struct {
		binKey
		block netip.Prefix
	}
	seen := make(map[blockKey]bool) // value: counted as up
	counts := make(map[binKey]*EntityCount)
	for _, v := range blocks {
		if v.Level != LevelBlock {
			continue
		}
		p, err := netip.ParsePrefix(v.Entity)
		if err != nil {
			continue
		}
		p = p.Masked()
		t := binStart(v.Time, bin)
		up := v.DataPlane == PlaneUp || v.DataPlane == PlanePartial
		for _, e := range h.Parents(p) {
			bk := binKey{t, e}
			c := counts[bk]
			if c == nil {
				c = &EntityCount{Time: t, Level: e.Level, Entity: e.Entity}
				counts[bk] = c
			}
			k := blockKey{bk, p}
			wasUp, dup := seen[k]
			if !dup {
				c.Total++
				if v.DataPlane == PlaneDown {
					c.Down++
				}
			}
			if up && !wasUp {
				c.Up++
				seen[k] = true
			} else if !dup {
				seen[k] = false
			}
		}
	}
	out := make([]EntityCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b EntityCount) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := cmp.Compare(levelRank(a.Level), levelRank(b.Level)); c != 0 {
			return c
		}
		return cmp.Compare(a.Entity, b.Entity)
	})
	return out
}

// levelRank orders levels from the smallest entity to the largest.
func levelRank(level string) int {
	return slices.Index([]string{LevelHost, LevelBlock, LevelPrefix, LevelASN, LevelCountry, LevelVantage}, level)
}

// binStart returns the start of the bin-long slot of the Unix epoch holding t
// (t itself when bin is not positive), in UTC.
func binStart(t time.Time, bin time.Duration) time.Time {
	if bin <= 0 {
		return t.UTC()
	}
	ns, b := t.UnixNano(), int64(bin)
	q := ns / b
	if ns%b < 0 {
		q--
	}
	return time.Unix(0, q*b).UTC()
}
