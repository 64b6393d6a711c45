package report

import (
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// csvHeader names the columns of the csv format.
var csvHeader = []string{
	"target", "method", "port", "vantage", "probes", "answered", "availability_pct",
	"rtt_min_ms", "rtt_avg_ms", "rtt_max_ms",
	"reply", "timeout", "unreachable", "open", "closed", "error", "outages",
}

// writeCSV writes one row per target, method, port and vantage. A column that
// does not apply (the port of icmp, the RTT of a target that never answered) is
// empty. "outages" holds the target's outage intervals (the same on each of its
// rows; an interval shared by its prefix and its block once) as ISO 8601
// intervals START/END separated by spaces, START/.. while ongoing.
func writeCSV(w io.Writer, in Input) error {
	rep := Build(in)
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, t := range rep.Targets {
		var outages []string
		for _, e := range t.Outages {
			end := ".."
			if !e.End.IsZero() {
				end = e.End.UTC().Format(time.RFC3339)
			}
			if iv := e.Start.UTC().Format(time.RFC3339) + "/" + end; !slices.Contains(outages, iv) {
				outages = append(outages, iv)
			}
		}
		for _, v := range t.Vantages {
			s := v.Stats
			row := []string{t.Target, t.Method, "", v.Vantage, strconv.Itoa(s.Probes), strconv.Itoa(s.Answered),
				csvFloat(s.Availability), "", "", ""}
			if t.Port != 0 {
				row[2] = strconv.Itoa(t.Port)
			}
			if s.RTT != nil {
				row[7], row[8], row[9] = csvFloat(s.RTT.Min), csvFloat(s.RTT.Avg), csvFloat(s.RTT.Max)
			}
			o := s.Outcomes
			for _, n := range []int{o.Reply, o.Timeout, o.Unreachable, o.Open, o.Closed, o.Error} {
				row = append(row, strconv.Itoa(n))
			}
			row = append(row, strings.Join(outages, " "))
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
