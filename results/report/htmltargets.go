package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
)

// The target table of the HTML report is not HTML: a report of a /16 has
// 65,536 targets, and one <tbody> each made the page 120 MB, more than a
// browser opens. The targets are instead one compact JSON value (targetData)
// embedded once in a <script type="application/json">, and report.js draws
// them 50 at a time, worst first, with a text filter (address, CIDR prefix,
// method, vantage or outage), a state filter and sortable columns, all kept
// in the URL fragment so that a filtered view can be linked. An analyst looks
// for what is down and where; every target stays in the file (none is cut to
// fit), and the CSV format has the same rows for a spreadsheet.
//
// The JSON is {"vantages":[names], "methods":[names], "outages":[texts],
// "targets":[rows]}; a row is
//
//	[address, method index, port, all, [per vantage...], [outage indexes]]
//
// with the outage list left out when empty. all is [answered, rtt min, rtt
// avg, rtt max, reply, timeout, unreachable, open, closed, error] and a
// per-vantage entry [vantage index, answered, rtt avg, reply, timeout,
// unreachable, open, closed, error]: per vantage the mean round-trip time
// only, which halves the size of a row (the CSV has min and max). An RTT of 0
// is none, and trailing zeros are left out. Probes are the sum of the
// outcomes.
//
//go:embed report.js
var targetScript string

// targetScriptHash is the page's Content-Security-Policy source for
// report.js: the one script the page runs.
var targetScriptHash = func() string {
	sum := sha256.Sum256([]byte(targetScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// htmlPolicy is the page's Content-Security-Policy: nothing is fetched, and
// no script runs but report.js.
var htmlPolicy = "default-src 'none'; style-src 'unsafe-inline'; script-src " + targetScriptHash

// targetData is the JSON value the target table is drawn from.
type targetData struct {
	Vantages []string `json:"vantages"`
	Methods  []string `json:"methods"`
	Outages  []string `json:"outages"`
	Targets  [][]any  `json:"targets"`
}

// htmlTargets encodes targets as the target table's JSON. encoding/json
// escapes <, > and &, so the value cannot end its <script> element.
func htmlTargets(targets []Target) (template.JS, error) {
	d := targetData{Vantages: []string{}, Methods: []string{}, Outages: []string{}, Targets: make([][]any, 0, len(targets))}
	vantage, method, outage := map[string]int{}, map[string]int{}, map[string]int{}
	index := func(m map[string]int, list *[]string, s string) int {
		i, ok := m[s]
		if !ok {
			i = len(*list)
			m[s] = i
			*list = append(*list, s)
		}
		return i
	}
	for _, t := range targets {
		for _, v := range t.Vantages {
			index(vantage, &d.Vantages, v.Vantage)
		}
	}
	slices.Sort(d.Vantages)
	for i, v := range d.Vantages {
		vantage[v] = i
	}
	for _, t := range targets {
		all := []any{t.Answered, 0.0, 0.0, 0.0}
		if t.RTT != nil {
			all[1], all[2], all[3] = round(t.RTT.Min, 3), t.RTT.Avg, round(t.RTT.Max, 3)
		}
		per := make([]any, 0, len(t.Vantages))
		for _, v := range t.Vantages {
			avg := 0.0
			if v.RTT != nil {
				avg = v.RTT.Avg
			}
			per = append(per, trimZeros(append([]any{vantage[v.Vantage], v.Answered, avg}, outcomeList(v.Outcomes)...)))
		}
		row := []any{t.Target, index(method, &d.Methods, t.Method), t.Port, trimZeros(append(all, outcomeList(t.Outcomes)...)), per}
		if len(t.Outages) > 0 {
			ids := make([]int, len(t.Outages))
			for i, e := range t.Outages {
				s := fmt.Sprintf("%s %s %s %s", e.Level, e.Entity, e.Kind, htmlInterval(e.Start, e.End))
				if e.LastHop != "" {
					s += ", last hop " + e.LastHop
				}
				ids[i] = index(outage, &d.Outages, s)
			}
			row = append(row, ids)
		}
		d.Targets = append(d.Targets, row)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	return template.JS(b), nil
}

func outcomeList(o Outcomes) []any {
	return []any{o.Reply, o.Timeout, o.Unreachable, o.Open, o.Closed, o.Error}
}

// trimZeros drops the trailing zeros of a row: report.js reads a missing
// entry as 0.
func trimZeros(row []any) []any {
	n := len(row)
	for n > 0 && (row[n-1] == 0 || row[n-1] == 0.0) {
		n--
	}
	return row[:n]
}
