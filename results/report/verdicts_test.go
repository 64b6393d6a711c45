package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
)

func TestWriteVerdicts(t *testing.T) {
	up, total := 3, 4
	vs := []results.Verdict{
		{Time: time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC), Level: results.LevelPrefix, Entity: "198.18.0.0/22",
			Verdict: results.VerdictReachable, DataPlane: "up", ControlPlane: "announced",
			Vantages: &results.VantageCount{Up: 2, Down: 0, Gap: 1}, Up: &up, Total: &total,
			Methods: map[string]string{"tcp": "up", "icmp": "down"}},
	}
	for _, c := range []struct {
		name   string
		vs     []results.Verdict
		asJSON bool
		want   []string // lines, each a prefix of the line printed
	}{
		{"table", vs, false, []string{"TIME  ", "2026-11-21T22:00:00Z  prefix  198.18.0.0/22  reachable  up    announced  2/0/1"}},
		{"table of none", nil, false, []string{"TIME  ", "(no verdicts: the store holds no records for that time)"}},
		{"json", vs, true, []string{`{"time":"2026-11-21T22:00:00Z","level":"prefix","entity":"198.18.0.0/22","verdict":"reachable"`}},
		{"json of none", nil, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if err := WriteVerdicts(&out, c.vs, c.asJSON); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(c.want) {
				t.Fatalf("printed %q, want %d lines", out.String(), len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d %q, want it to begin %q", i, lines[i], w)
				}
			}
		})
	}
	var out strings.Builder
	WriteVerdicts(&out, vs, false)
	if !strings.HasSuffix(strings.TrimSpace(out.String()), "3/4 blocks up icmp=down tcp=up") {
		t.Errorf("detail not sorted: %q", out.String())
	}
	out.Reset()
	WriteVerdicts(&out, vs, true)
	var back results.Verdict
	if err := json.Unmarshal([]byte(out.String()), &back); err != nil || back.Entity != vs[0].Entity || *back.Up != 3 {
		t.Errorf("JSON %q: %+v, %v", out.String(), back, err)
	}
}
