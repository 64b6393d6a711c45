package schedule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/probe"
)

// TestProgressBarSilentOffTerminal: a bar on a file that is no terminal
// draws nothing; on a terminal it draws sent of total.
func TestProgressBarSilentOffTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := NewProgressBar(f, 100)
	p.Show(50, 10)
	p.Done()
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Errorf("%d bytes drawn on a plain file", fi.Size())
	}
	var b strings.Builder
	on := &ProgressBar{w: &b, on: true, total: 100, start: time.Now()}
	on.Show(50, 10)
	on.Done()
	if s := b.String(); !strings.HasPrefix(s, "\r[===============               ]  50.0%  sent 50/100  replies 10") || !strings.HasSuffix(s, "\n") {
		t.Errorf("bar %q", s)
	}
}

func TestSweepSummary(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	st := probe.SweepStats{Sent: 512, Replies: 300, Hits: 256, Duplicates: 44, Blocked: 2,
		Start: t0, SendEnd: t0.Add(1500 * time.Millisecond), End: t0.Add(3500 * time.Millisecond)}
	for _, c := range []struct {
		m       Method
		targets uint64
		want    string
	}{
		{Method{Name: "icmp"}, 512, "sweep icmp: 512 targets, sent 512, replies 300, hits 256 (50.00%), duplicates 44, blocked 2, achieved "},
		{Method{Name: "tcp", Port: 80}, 0, "sweep tcp:80: 0 targets, sent 512, replies 300, hits 256 (0.00%)"},
	} {
		got := SweepSummary(c.m, c.targets, st)
		if !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, "sending 1.5s, total 3.5s\n") {
			t.Errorf("SweepSummary = %q, want it to begin %q", got, c.want)
		}
	}
}
