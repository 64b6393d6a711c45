package report

import (
	"time"

	"darkwatch/results"
)

// style is how a verdict looks: its letter in text timelines, its CSS class
// (and so its colour) in HTML ones, and its rank when several verdicts share
// one text column (the worst shows).
type style struct {
	verdict string
	char    byte
	class   string
	label   string
	rank    int
}

// styles lists the verdicts in legend order: the entity verdicts, then the
// vantage ones.
var styles = []style{
	{results.VerdictReachable, '#', "ok", "reachable", 0},
	{results.VerdictPartial, '+', "partial", "partial", 3},
	{results.VerdictDataPlaneOutage, 'D', "down", "data-plane-outage", 6},
	{results.VerdictControlPlaneOutage, 'C', "down", "control-plane-outage", 5},
	{results.VerdictOutage, 'X', "down", "outage", 6},
	{results.VerdictUncertain, '?', "unknown", "uncertain", 2},
	{results.VerdictWithdrawn, 'W', "unrouted", "withdrawn", 4},
	{results.VerdictReachableUnrouted, 'U', "unrouted", "reachable-unrouted", 1},
	{results.VerdictHealthy, '#', "ok", "healthy", 0},
	{results.VerdictVantageDown, 'v', "down", "vantage-down", 5},
	{results.VerdictVantageUnknown, 'u', "unknown", "no canary records", 2},
}

// noVerdict is the style of a bin without a verdict, other the style of a
// verdict this package does not know.
var (
	noVerdict = style{"", '.', "none", "no verdict", -1}
	other     = style{"", '*', "unknown", "other", 2}
)

func styleOf(verdict string) style {
	for _, s := range styles {
		if s.verdict == verdict {
			return s
		}
	}
	if verdict == "" {
		return noVerdict
	}
	o := other
	o.verdict, o.label = verdict, verdict
	return o
}

// maxColumns caps the width of a text timeline; longer ranges put several
// bins in one column.
const maxColumns = 96

// grid is the bins of a report's timelines: n bins of length bin from start,
// aligned on the verdict times, covering [Since, Until).
type grid struct {
	start time.Time
	bin   time.Duration
	n     int
}

func newGrid(rep *Report) grid {
	if rep.Bin <= 0 {
		return grid{}
	}
	var first time.Time
	see := func(bins []Bin) {
		if len(bins) > 0 && (first.IsZero() || bins[0].Time.Before(first)) {
			first = bins[0].Time
		}
	}
	for _, l := range rep.Prefixes {
		see(l.Bins)
	}
	for _, v := range rep.Vantages {
		see(v.Bins)
	}
	if first.IsZero() {
		return grid{}
	}
	g := grid{start: first, bin: rep.Bin}
	if d := first.Sub(rep.Since); d > 0 {
		g.start = first.Add(-((d + rep.Bin - 1) / rep.Bin) * rep.Bin)
	}
	span := rep.Until.Sub(g.start)
	g.n = int((span + rep.Bin - 1) / rep.Bin)
	return g
}

// index is the bin of t, or -1 outside the grid.
func (g grid) index(t time.Time) int {
	if g.n == 0 || t.Before(g.start) {
		return -1
	}
	i := int(t.Sub(g.start) / g.bin)
	if i >= g.n {
		return -1
	}
	return i
}

// row lays bins out on the grid: one style per grid bin.
func (g grid) row(bins []Bin) []style {
	row := make([]style, g.n)
	for i := range row {
		row[i] = noVerdict
	}
	for _, b := range bins {
		if i := g.index(b.Time); i >= 0 {
			row[i] = styleOf(b.Verdict)
		}
	}
	return row
}

// perColumn is how many bins one text column holds.
func (g grid) perColumn() int {
	return max(1, (g.n+maxColumns-1)/maxColumns)
}

// text draws bins as one character per column, the worst verdict of the
// column's bins.
func (g grid) text(bins []Bin) string {
	row := g.row(bins)
	k := g.perColumn()
	out := make([]byte, 0, (len(row)+k-1)/k)
	for i := 0; i < len(row); i += k {
		worst := row[i]
		for _, s := range row[i:min(i+k, len(row))] {
			if s.rank > worst.rank {
				worst = s
			}
		}
		out = append(out, worst.char)
	}
	return string(out)
}
