package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// The HTML report is one self-contained page: inline CSS, inline SVG, the
// targets as JSON drawn by one inline script (htmltargets.go), no external
// asset, no font to fetch; its Content-Security-Policy lets nothing be fetched
// and no other script run. html/template escapes every value that comes from
// the input.
//
//go:embed report.html
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// svgWidth is the width of a timeline in SVG user units; the SVG scales to the
// page.
const svgWidth = 1000

// htmlView is what the template shows, laid out.
type htmlView struct {
	Title        string
	Since, Until string
	Span         string
	Summary      []summaryItem
	Axis         []string
	AxisEnd      string
	Legend       []legendItem
	VLegend      []legendItem
	Prefixes     []htmlTimeline
	Rollups      []htmlTimeline // ASes, then countries
	Vantages     []htmlTimeline
	Events       []htmlEvent
	BinNote      string
	// Policy is the page's Content-Security-Policy.
	Policy string
	// Targets counts the targets; TargetData holds them for Script.
	Targets    int
	TargetData template.JS
	Script     template.JS
}

type summaryItem struct{ Label, Value, Class string }

type legendItem struct{ Class, Label string }

type htmlTimeline struct {
	Entity, Level string
	Sub           bool // a block under its prefix
	Note          string
	Label         string // the SVG's accessible name
	Rects         []svgRect
}

type svgRect struct {
	X, W  string
	Class string
	Title string
}

type htmlEvent struct {
	Level, Entity, Kind, Class string
	Start, End                 string
	Minutes, Severity          string
	LastHop                    string
}

func writeHTML(w io.Writer, in Input) error {
	rep := Build(in)
	v := htmlView{
		Title: rep.Title,
		Since: htmlTime(rep.Since), Until: htmlTime(rep.Until),
		Span: rep.Until.Sub(rep.Since).String(), Policy: htmlPolicy,
	}
	if v.Title == "" {
		v.Title = "darkwatch report"
	}
	v.Summary = htmlSummary(&rep)
	for _, s := range styles[:8] {
		// Verdicts of one colour share a legend entry.
		if n := len(v.Legend); n > 0 && v.Legend[n-1].Class == s.class {
			v.Legend[n-1].Label += ", " + s.label
			continue
		}
		v.Legend = append(v.Legend, legendItem{s.class, s.label})
	}
	v.Legend = append(v.Legend, legendItem{noVerdict.class, noVerdict.label})
	for _, s := range styles[8:] {
		v.VLegend = append(v.VLegend, legendItem{s.class, s.label})
	}
	v.VLegend = append(v.VLegend, legendItem{noVerdict.class, noVerdict.label})

	span := rep.Until.Sub(rep.Since)
	if span > 0 {
		for i := range 4 {
			v.Axis = append(v.Axis, htmlClock(rep.Since.Add(span*time.Duration(i)/4), rep.Since))
		}
		v.AxisEnd = htmlClock(rep.Until, rep.Since)
	}
	if rep.Bin > 0 {
		v.BinNote = "one bin is " + rep.Bin.String()
	}
	for _, l := range rep.Prefixes {
		v.Prefixes = append(v.Prefixes, htmlLine(&rep, l.Entity, l.Level, l.Level != results.LevelPrefix, l.Bins))
	}
	for _, l := range rollupLines(in, rep.Since, rep.Until) {
		v.Rollups = append(v.Rollups, htmlLine(&rep, l.Entity, l.Level, false, l.Bins))
	}
	for _, vp := range rep.Vantages {
		t := htmlLine(&rep, vp.Vantage, results.LevelVantage, false, vp.Bins)
		if vp.Probes > 0 {
			t.Note = fmt.Sprintf("%d probes, %.1f%% answered", vp.Probes, vp.Availability)
		}
		v.Vantages = append(v.Vantages, t)
	}
	for _, e := range rep.Events {
		v.Events = append(v.Events, htmlEvent{
			Level: e.Level, Entity: e.Entity, Kind: e.Kind, Class: styleOf(e.Kind).class,
			Start: htmlTime(e.Start), End: htmlEnd(e.End),
			Minutes: strconv.FormatFloat(e.Minutes, 'f', 1, 64), Severity: strconv.FormatFloat(e.Severity, 'f', 1, 64),
			LastHop: dash(e.LastHop),
		})
	}
	if len(rep.Targets) > 0 {
		data, err := htmlTargets(rep.Targets)
		if err != nil {
			return err
		}
		v.Targets, v.TargetData, v.Script = len(rep.Targets), data, template.JS(targetScript)
	}
	return htmlTemplate.Execute(w, &v)
}

// rollupLines are the AS timelines and then the country timelines of in's
// verdicts in [since, until): the HTML report shows them under the prefixes.
func rollupLines(in Input, since, until time.Time) []Timeline {
	var vs []results.Verdict
	for _, v := range in.Verdicts {
		if (v.Level == results.LevelASN || v.Level == results.LevelCountry) && within(v.Time, since, until) {
			vs = append(vs, v)
		}
	}
	return append(timelines(vs, results.LevelASN), timelines(vs, results.LevelCountry)...)
}

func htmlSummary(rep *Report) []summaryItem {
	var probes, answered, blocks, outageBins int
	for _, t := range rep.Targets {
		probes += t.Probes
		answered += t.Answered
	}
	for _, l := range rep.Prefixes {
		if l.Level != results.LevelPrefix {
			blocks++
		}
		for _, b := range l.Bins {
			if styleOf(b.Verdict).class == "down" {
				outageBins++
			}
		}
	}
	pct, class := "–", ""
	if probes > 0 {
		p := 100 * float64(answered) / float64(probes)
		pct = fmt.Sprintf("%.1f%%", p)
		class = "ok"
		if p < 100 {
			class = "partial"
		}
		if answered == 0 {
			class = "down"
		}
	}
	eventClass := "ok"
	if len(rep.Events) > 0 {
		eventClass = "down"
	}
	return []summaryItem{
		{"probes", strconv.Itoa(probes), ""},
		{"answered", pct, class},
		{"targets", strconv.Itoa(len(rep.Targets)), ""},
		{"vantages", strconv.Itoa(len(rep.Vantages)), ""},
		{"prefixes", strconv.Itoa(len(rep.Prefixes) - blocks), ""},
		{"blocks", strconv.Itoa(blocks), ""},
		{"outage bins", strconv.Itoa(outageBins), ""},
		{"events", strconv.Itoa(len(rep.Events)), eventClass},
	}
}

// htmlLine draws bins as rectangles on [Since, Until), each as long as a bin;
// successive bins of one verdict make one rectangle.
func htmlLine(rep *Report, entity, level string, sub bool, bins []Bin) htmlTimeline {
	t := htmlTimeline{Entity: entity, Level: level, Sub: sub}
	span := rep.Until.Sub(rep.Since)
	binLen := max(rep.Bin, time.Second)
	counts := map[string]int{}
	var order []string
	type run struct {
		from, to time.Time
		verdict  string
		n        int
		detail   string
	}
	var runs []run
	for _, b := range bins {
		s := styleOf(b.Verdict)
		if counts[s.label] == 0 {
			order = append(order, s.label)
		}
		counts[s.label]++
		detail := ""
		if b.DataPlane != "" || b.ControlPlane != "" {
			detail = fmt.Sprintf("data plane %s, control plane %s", dash(b.DataPlane), dash(b.ControlPlane))
		}
		if n := len(runs); n > 0 && runs[n-1].verdict == b.Verdict && runs[n-1].detail == detail && runs[n-1].to.Equal(b.Time) {
			runs[n-1].to = b.Time.Add(binLen)
			runs[n-1].n++
			continue
		}
		runs = append(runs, run{b.Time, b.Time.Add(binLen), b.Verdict, 1, detail})
	}
	for _, r := range runs {
		from, to := r.from, r.to
		if from.Before(rep.Since) {
			from = rep.Since
		}
		if to.After(rep.Until) {
			to = rep.Until
		}
		if span <= 0 || !to.After(from) {
			continue
		}
		x := svgWidth * float64(from.Sub(rep.Since)) / float64(span)
		w := svgWidth * float64(to.Sub(from)) / float64(span)
		title := fmt.Sprintf("%s %s: %s", entity, htmlInterval(r.from, r.to), r.verdict)
		if r.detail != "" {
			title += " (" + r.detail + ")"
		}
		if r.n > 1 {
			title += fmt.Sprintf(", %d bins", r.n)
		}
		t.Rects = append(t.Rects, svgRect{X: svgNumber(x), W: svgNumber(w), Class: styleOf(r.verdict).class, Title: title})
	}
	var parts []string
	for _, label := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[label], label))
	}
	t.Label = fmt.Sprintf("%s %s timeline: %s", level, entity, strings.Join(parts, ", "))
	if len(parts) == 0 {
		t.Label = fmt.Sprintf("%s %s timeline: no verdict", level, entity)
	}
	if level != results.LevelVantage {
		t.Note = strings.Join(parts, ", ")
	}
	return t
}

func svgNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func htmlTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func htmlEnd(t time.Time) string {
	if t.IsZero() {
		return "ongoing"
	}
	return htmlTime(t)
}

// htmlInterval is [from, to) for people: "2026-11-21 22:33–22:55 UTC", the
// date written once when both are on one day, "since ..." while to is zero.
func htmlInterval(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	switch {
	case to.IsZero():
		return "since " + htmlTime(from) + ", ongoing"
	case from.Year() == to.Year() && from.YearDay() == to.YearDay():
		return from.Format("2006-01-02 15:04:05") + "\u2013" + to.Format("15:04:05") + " UTC"
	}
	return from.Format("2006-01-02 15:04:05") + " \u2013 " + to.Format("2006-01-02 15:04:05") + " UTC"
}

// htmlClock is t as an axis label: the time of day, with the date when it is
// not since's.
func htmlClock(t, since time.Time) string {
	t, since = t.UTC(), since.UTC()
	if t.YearDay() == since.YearDay() && t.Year() == since.Year() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}
