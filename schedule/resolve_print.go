package schedule

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// Empty lists the named sets of r that resolved to no prefix at all.
func (r *Resolution) Empty() []ResolvedSet {
	var out []ResolvedSet
	for _, s := range r.Sets {
		if s.By != FromConfig && len(s.Prefixes) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// Write prints r: with asJSON one JSON object a target set, each with its
// prefixes and where each came from; else a table, a line a prefix.
func (r *Resolution) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, s := range r.Sets {
			if s.Prefixes == nil {
				s.Prefixes = []ResolvedPrefix{}
			}
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SET\tBY\tPREFIX\tFROM")
	for _, s := range r.Sets {
		if len(s.Prefixes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\n", s.Name, s.By, nothingFound(s))
		}
		for _, p := range s.Prefixes {
			from := p.From.String()
			switch {
			case !p.Probed && s.Hitlist != "":
				from += fmt.Sprintf(" (probed through hitlist %s)", s.Hitlist)
			case !p.Probed:
				from += fmt.Sprintf(" (not probed: IPv6 wider than /%d; list its addresses in a hitlist: FILE)", MinIPv6Bits)
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", s.Name, s.By, p.Prefix, from)
		}
	}
	return tw.Flush()
}

// nothingFound says why a set has no prefix.
func nothingFound(s ResolvedSet) string {
	switch s.By {
	case FromBGP:
		return fmt.Sprintf("no route in the store ends in AS%d (load MRT files with darkwatch bgp import)", s.ASN)
	case FromGeo:
		return fmt.Sprintf("nothing in the store is delegated to %s (load RIR statistics files with darkwatch geo import)", s.Country)
	}
	return "no prefixes: hosts only"
}
