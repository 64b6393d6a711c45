package schedule

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"darkwatch/probe"
)

// ProgressBar is the Progress of a sweep drawn as a one-line bar on a
// terminal; elsewhere (cron, pipes, CI) it stays silent.
type ProgressBar struct {
	w     io.Writer
	on    bool
	total uint64
	start time.Time
}

// NewProgressBar makes the bar of a sweep of total probes on f, drawn only
// when f is a terminal.
func NewProgressBar(f *os.File, total uint64) *ProgressBar {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return &ProgressBar{w: f, on: err == nil, total: total, start: time.Now()}
}

// Show redraws the bar: sent of total, replies, rate.
func (p *ProgressBar) Show(sent, replies uint64) {
	if !p.on {
		return
	}
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(sent)/float64(p.total), 1)
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < frac*width {
			bar[i] = '='
		}
	}
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s] %5.1f%%  sent %d/%d  replies %d  %.0f pps ", bar, 100*frac, sent, p.total, replies, float64(sent)/max(el, 1e-9))
}

// Done ends the bar's line.
func (p *ProgressBar) Done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// SweepSummary is the figures of a sweep of targets with m in one line.
func SweepSummary(m Method, targets uint64, st probe.SweepStats) string {
	name := m.Name
	if m.Port != 0 {
		name += ":" + strconv.Itoa(int(m.Port))
	}
	rate := 0.0
	if targets > 0 {
		rate = 100 * float64(st.Hits) / float64(targets)
	}
	return fmt.Sprintf("sweep %s: %d targets, sent %d, replies %d, hits %d (%.2f%%), duplicates %d, blocked %d, achieved %.0f pps, sending %s, total %s\n",
		name, targets, st.Sent, st.Replies, st.Hits, rate, st.Duplicates, st.Blocked, st.PPS(),
		st.SendEnd.Sub(st.Start).Round(time.Millisecond), st.End.Sub(st.Start).Round(time.Millisecond))
}
