package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/store"
)

// TestLabVerdictScenario runs `darkwatch run` on three vantage points into one
// store and walks the lab through its faults: baseline, one vantage's uplink
// cut, the border cut, healed, 30 % loss, ICMP dropped while TCP answers.
func TestLabVerdictScenario(t *testing.T) {
	l := lab.Start(t)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "darkwatch.db")
	round := lab.Slowdown * 3 * time.Second
	cfg := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(cfg, []byte(`allow: [198.18.0.0/15]
store: `+db+`
metrics: "off"
round: `+round.String()+`
quorum: 2
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 500ms}
canaries: [{addr: 198.19.255.1, methods: [icmp]}]
targets:
  - name: lab
    prefixes: [198.18.0.0/23]
    asn: 64500
    country: ZZ
    methods: [icmp, "tcp:80", trace]
    trace_every: 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var runs []*exec.Cmd
	var logs []*bytes.Buffer
	for i := 1; i <= 3; i++ {
		cmd := l.Command(t.Context(), fmt.Sprintf("vp%d", i), lab.Binary(t), "--config", cfg, "--vantage", fmt.Sprintf("vp%d", i),
			"run", "--cooldown", "500ms")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs, logs = append(runs, cmd), append(logs, &stderr)
	}
	type phase struct {
		name       string
		fault      []string
		start, end time.Time
	}
	phases := []*phase{
		{name: "baseline"},
		{name: "uplink", fault: []string{"uplink-cut", "3"}},
		{name: "border", fault: []string{"border-cut"}},
		{name: "healed"},
		{name: "loss", fault: []string{"loss", "30"}},
		{name: "icmp-drop", fault: []string{"icmp-drop"}},
	}
	for _, p := range phases {
		if p.fault != nil {
			l.Fault(t, p.fault...)
		}
		p.start = time.Now()
		time.Sleep(5 * round)
		p.end = time.Now()
		l.Restore(t)
	}
	for i, cmd := range runs {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("vp%d run: %v\n%s", i+1, err, logs[i])
		}
	}

	verdicts := func(level string) []results.Verdict {
		cmd := exec.Command(lab.Binary(t), "--config", cfg, "verdict", "--level", level, "--since", "10m", "--json")
		out, err := cmd.Output()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("verdict: %v", err)
		}
		var vs []results.Verdict
		for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var v results.Verdict
			if ln == "" {
				continue
			}
			if err := json.Unmarshal([]byte(ln), &v); err != nil {
				t.Fatalf("verdict line %q: %v", ln, err)
			}
			vs = append(vs, v)
		}
		return vs
	}
	// inside lists the verdicts of a phase, leaving out the first two rounds
	// (the change takes up to two rounds to show) and the last.
	inside := func(vs []results.Verdict, p *phase, entity string) []string {
		var out []string
		for _, v := range vs {
			if (entity == "" || v.Entity == entity) && v.Time.After(p.start.Add(2*round)) && v.Time.Before(p.end.Add(-round)) {
				out = append(out, v.Entity+"="+v.Verdict)
			}
		}
		if len(out) == 0 {
			t.Fatalf("no verdict for %q in phase %s", entity, p.name)
		}
		return out
	}
	expectAll := func(got []string, want ...string) bool {
		for _, g := range got {
			ok := false
			for _, w := range want {
				ok = ok || strings.HasSuffix(g, "="+w)
			}
			if !ok {
				return false
			}
		}
		return true
	}
	blocks := verdicts(results.LevelBlock)
	vantages := verdicts(results.LevelVantage)
	for _, c := range []struct {
		phase  *phase
		vs     []results.Verdict
		entity string
		want   []string
	}{
		{phases[0], blocks, "", []string{results.VerdictReachable}},
		{phases[1], blocks, "", []string{results.VerdictReachable}},
		{phases[1], vantages, "vp3", []string{results.VerdictVantageDown}},
		{phases[1], vantages, "vp1", []string{results.VerdictHealthy}},
		{phases[2], blocks, "", []string{results.VerdictOutage}},
		{phases[3], blocks, "", []string{results.VerdictReachable}},
		{phases[4], blocks, "", []string{results.VerdictReachable, results.VerdictPartial}},
		{phases[5], blocks, "", []string{results.VerdictPartial}},
	} {
		if got := inside(c.vs, c.phase, c.entity); !expectAll(got, c.want...) {
			t.Errorf("phase %s %s: %v, want only %v", c.phase.name, c.entity, got, c.want)
		}
	}
	// ICMP dropped while TCP answers is shown as a method difference.
	for _, v := range blocks {
		if v.Time.After(phases[5].start.Add(2*round)) && v.Time.Before(phases[5].end.Add(-round)) {
			if v.Methods["icmp"] != results.PlaneDown || v.Methods["tcp:80"] != results.PlaneUp {
				t.Errorf("icmp-drop: %s methods %v, want icmp down and tcp up", v.Entity, v.Methods)
			}
		}
	}

	// The border cut is one closed prefix event, with the border as last hop.
	cmd := exec.Command(lab.Binary(t), "--config", cfg, "report", "--format", "json", "--since", "10m")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var rep struct {
		Raw []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range rep.Raw {
		if e["level"] != results.LevelPrefix || e["kind"] != results.VerdictOutage {
			continue
		}
		start, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(e["start"]))
		end, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(e["end"]))
		if end.IsZero() {
			t.Errorf("outage event still open: %v", e)
			continue
		}
		p := phases[2]
		// The border answers each vantage from its address towards that vantage.
		border := e["last_hop"] == lab.BorderAddr4(1) || e["last_hop"] == lab.BorderAddr4(2) || e["last_hop"] == lab.BorderAddr4(3)
		if start.Sub(p.start).Abs() <= 2*round && end.Sub(p.end).Abs() <= 2*round && border {
			found = true
		}
		t.Logf("prefix event %v (border cut %s to %s)", e, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))
	}
	if !found {
		t.Errorf("no closed prefix outage event matching the border cut with the border as last hop in %v", rep.Raw)
	}

	// What the rounds and the report concluded is in the store: the same
	// event, once, and the prefix's verdicts of the border cut.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, e := range evs {
		if e.Level == results.LevelPrefix && e.Kind == results.VerdictOutage {
			stored++
			if e.End.IsZero() || e.Start.Sub(phases[2].start).Abs() > 2*round || e.End.Sub(phases[2].end).Abs() > 2*round {
				t.Errorf("stored prefix event %+v does not match the border cut %v to %v", e, phases[2].start, phases[2].end)
			}
		}
	}
	if stored != 1 {
		t.Errorf("store holds %d prefix outage events, want 1: %+v", stored, evs)
	}
	pvs, err := st.Verdicts(context.Background(), store.VerdictQuery{Level: results.LevelPrefix, Since: phases[2].start.Add(2 * round), Until: phases[2].end.Add(-round)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvs) == 0 {
		t.Error("store holds no prefix verdicts of the border cut")
	}
	for _, v := range pvs {
		if v.Verdict != results.VerdictOutage {
			t.Errorf("stored prefix verdict during the border cut: %s %s", v.Time, v.Verdict)
		}
	}
}
