package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"darkwatch/schedule"
)

// progress draws a one-line progress bar on a terminal and stays silent
// elsewhere (cron, pipes, CI).
type progress struct {
	w     io.Writer
	on    bool
	total uint64
	start time.Time
}

// stderrProgress is the progress bar of a sweep of total probes on stderr.
func stderrProgress(total uint64) schedule.Progress { return newProgress(os.Stderr, total) }

// newProgress makes the progress bar of total probes on f, drawn only when
// f is a terminal.
func newProgress(f *os.File, total uint64) *progress {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return &progress{w: f, on: err == nil, total: total, start: time.Now()}
}

// Show redraws the bar: sent of total, replies, rate.
func (p *progress) Show(sent, replies uint64) {
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
func (p *progress) Done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
