package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"darkwatch/results"
)

// writeText writes aligned tables for a terminal: a summary, the targets (all
// vantages, then each), their outages, the prefix and vantage timelines and the
// events.
func writeText(w io.Writer, in Input) error {
	rep := Build(in)
	var b bytes.Buffer
	textHeader(&b, &rep)
	textTargets(&b, &rep)
	textOutages(&b, &rep)
	g := newGrid(&rep)
	textPrefixes(&b, &rep, g)
	textVantages(&b, &rep, g)
	textEvents(&b, &rep)
	_, err := io.WriteString(w, trimLines(b.String()))
	return err
}

// textHeader writes the report's title, underlined, its time range and its
// summary.
func textHeader(b *bytes.Buffer, rep *Report) {
	title := rep.Title
	if title == "" {
		title = "darkwatch report"
	}
	fmt.Fprintf(b, "%s\n%s\n", title, strings.Repeat("=", len(title)))
	fmt.Fprintf(b, "range    %s to %s (%s)\n", textTime(rep.Since), textTime(rep.Until), rep.Until.Sub(rep.Since))
	fmt.Fprintf(b, "summary  %s\n", summary(rep))
}

// textTargets writes the targets table: each target's figures over all
// vantages, then a line per vantage.
func textTargets(b *bytes.Buffer, rep *Report) {
	b.WriteString("\nTargets\n")
	tw := table(b)
	if len(rep.Targets) == 0 {
		b.WriteString("(none)\n")
		return
	}
	fmt.Fprintln(tw, "TARGET\tMETHOD\tPORT\tVANTAGE\tPROBES\tANSWERED\tAVAIL\tRTT MIN/AVG/MAX ms\tREPLY\tTIMEOUT\tUNREACH\tOPEN\tCLOSED\tERROR\tOUTAGES")
	for _, t := range rep.Targets {
		textStats(tw, t.Target, t.Method, port(t.Port), "all", t.Stats, strconv.Itoa(len(t.Outages)))
		for _, v := range t.Vantages {
			textStats(tw, "", "", "", v.Vantage, v.Stats, "")
		}
	}
	tw.Flush()
}

// textOutages writes every target's outages, target by target.
func textOutages(b *bytes.Buffer, rep *Report) {
	b.WriteString("\nOutages by target\n")
	tw := table(b)
	n := 0
	for _, t := range rep.Targets {
		for _, e := range t.Outages {
			if n == 0 {
				fmt.Fprintln(tw, "TARGET\tMETHOD\tPORT\tLEVEL\tENTITY\tKIND\tSTART\tEND\tMINUTES\tLAST HOP")
			}
			n++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", t.Target, t.Method, port(t.Port),
				e.Level, e.Entity, e.Kind, textTime(e.Start), textEnd(e.End), e.Minutes, dash(e.LastHop))
		}
	}
	if n == 0 {
		b.WriteString("(none)\n")
	}
	tw.Flush()
}

// textPrefixes writes the prefix timelines on grid g, with its legend, each
// prefix's blocks indented under it.
func textPrefixes(b *bytes.Buffer, rep *Report, g grid) {
	b.WriteString("\nPrefix timelines")
	if g.n > 0 {
		fmt.Fprintf(b, " (from %s, one column per %s)\n", textTime(g.start), g.bin*time.Duration(g.perColumn()))
		b.WriteString(legend(styles[:8]))
	} else {
		b.WriteString("\n")
	}
	tw := table(b)
	if len(rep.Prefixes) == 0 {
		b.WriteString("(none)\n")
		return
	}
	fmt.Fprintln(tw, "ENTITY\tLEVEL\tTIMELINE")
	for _, l := range rep.Prefixes {
		name := l.Entity
		if l.Level != results.LevelPrefix {
			name = "  " + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, l.Level, g.text(l.Bins))
	}
	tw.Flush()
}

// textVantages writes each vantage's figures and its timeline on grid g,
// with the legend.
func textVantages(b *bytes.Buffer, rep *Report, g grid) {
	b.WriteString("\nVantages\n")
	if g.n > 0 {
		b.WriteString(legend(styles[8:]))
	}
	tw := table(b)
	if len(rep.Vantages) == 0 {
		b.WriteString("(none)\n")
		return
	}
	fmt.Fprintln(tw, "VANTAGE\tPROBES\tANSWERED\tAVAIL\tTIMELINE")
	for _, v := range rep.Vantages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", v.Vantage, v.Probes, v.Answered, avail(v.Stats), g.text(v.Bins))
	}
	tw.Flush()
}

// textEvents writes the outage events.
func textEvents(b *bytes.Buffer, rep *Report) {
	b.WriteString("\nEvents\n")
	tw := table(b)
	if len(rep.Events) == 0 {
		b.WriteString("(none)\n")
		return
	}
	fmt.Fprintln(tw, "LEVEL\tENTITY\tKIND\tSTART\tEND\tMINUTES\tSEVERITY\tLAST HOP")
	for _, e := range rep.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%s\n", e.Level, e.Entity, e.Kind,
			textTime(e.Start), textEnd(e.End), e.Minutes, e.Severity, dash(e.LastHop))
	}
	tw.Flush()
}

// trimLines trims the spaces ending each line of s: tabwriter pads cells
// that are followed by an empty last one.
func trimLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimRight(l[:len(l)-1], " ") + "\n"
		}
	}
	return strings.Join(lines, "")
}

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func textStats(tw io.Writer, target, method, port, vantage string, s Stats, outages string) {
	o := s.Outcomes
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n",
		target, method, port, vantage, s.Probes, s.Answered, avail(s), rttText(s.RTT),
		o.Reply, o.Timeout, o.Unreachable, o.Open, o.Closed, o.Error, outages)
}

// summary is one line on what the report covers.
func summary(rep *Report) string {
	var probes, answered, blocks int
	for _, t := range rep.Targets {
		probes += t.Probes
		answered += t.Answered
	}
	for _, l := range rep.Prefixes {
		if l.Level != results.LevelPrefix {
			blocks++
		}
	}
	pct := "-"
	if probes > 0 {
		pct = fmt.Sprintf("%.1f%%", 100*float64(answered)/float64(probes))
	}
	return fmt.Sprintf("%d probes of %d targets from %d vantages, %d answered (%s); %d prefixes, %d blocks; %d events",
		probes, len(rep.Targets), len(rep.Vantages), answered, pct, len(rep.Prefixes)-blocks, blocks, len(rep.Events))
}

func legend(ss []style) string {
	var b strings.Builder
	b.WriteString("  ")
	for _, s := range ss {
		fmt.Fprintf(&b, "%c %s  ", s.char, s.label)
	}
	fmt.Fprintf(&b, "%c %s\n", noVerdict.char, noVerdict.label)
	return b.String()
}

func avail(s Stats) string {
	if s.Probes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", s.Availability)
}

func rttText(r *RTT) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f/%.3f/%.3f", r.Min, r.Avg, r.Max)
}

func port(p int) string {
	if p == 0 {
		return "-"
	}
	return strconv.Itoa(p)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func textTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func textEnd(t time.Time) string {
	if t.IsZero() {
		return "ongoing"
	}
	return textTime(t)
}
