package report

import (
	"encoding/json"
	"io"
)

// writeJSON writes Build(in) as one indented JSON object: title, since, until,
// targets, prefixes, vantages and events (results.Event as it marshals).
func writeJSON(w io.Writer, in Input) error {
	rep := Build(in)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&rep)
}
