package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"darkwatch/results"
)

// WriteVerdicts prints verdicts on w: with asJSON one JSON object a line,
// else a table with a header, saying so when there are none.
func WriteVerdicts(w io.Writer, vs []results.Verdict, asJSON bool) error {
	if asJSON {
		rw := results.NewWriter(w, true)
		for i := range vs {
			if err := rw.Encode(vs[i]); err != nil {
				return err
			}
		}
		return rw.Flush()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tLEVEL\tENTITY\tVERDICT\tDATA\tCONTROL\tVANTAGES up/down/gap\tDETAIL")
	for _, v := range vs {
		van := ""
		if v.Vantages != nil {
			van = fmt.Sprintf("%d/%d/%d", v.Vantages.Up, v.Vantages.Down, v.Vantages.Gap)
		}
		var detail []string
		if v.Up != nil && v.Total != nil {
			detail = append(detail, fmt.Sprintf("%d/%d blocks up", *v.Up, *v.Total))
		}
		for m, s := range v.Methods {
			detail = append(detail, m+"="+s)
		}
		sort.Strings(detail)
		for _, f := range v.Failures {
			detail = append(detail, "failed "+f)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Time.Format(time.RFC3339), v.Level, v.Entity, v.Verdict,
			v.DataPlane, v.ControlPlane, van, strings.Join(detail, " "))
	}
	tw.Flush()
	if len(vs) == 0 {
		fmt.Fprintln(w, "(no verdicts: the store holds no records for that time)")
	}
	return nil
}
