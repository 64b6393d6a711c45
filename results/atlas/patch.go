package atlas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"darkwatch/results"
)

// Extension is the "darkwatch" member the atlas report adds to each result
// it writes: what the records held that the Atlas fields do not say, so
// that reading the result gives back exactly those records. Atlas tools
// ignore members they do not know.
//
// Records holds a JSON merge patch (RFC 7396) per record of the result, in
// the order Result gives them: the record's JSON members that differ from
// those of the record Result makes from the Atlas fields alone, null for a
// member that record has and the original lacks. Time, vantage, round and
// seq are always there, since Result derives them from the round length.
type Extension struct {
	Records []map[string]json.RawMessage `json:"records"`
}

// identity are the members every patch holds.
var identity = []string{"time", "vantage", "round", "seq"}

// NewExtension is the Extension that makes Result give back recs from the
// Atlas result raw, which was written from them, or an error when raw does
// not give as many records as recs.
func NewExtension(raw []byte, recs []*results.Record) (*Extension, error) {
	plain, err := Result(raw, Options{})
	if err != nil {
		return nil, err
	}
	if len(plain) != len(recs) {
		return nil, fmt.Errorf("atlas: the result gives %d records, written from %d", len(plain), len(recs))
	}
	ext := &Extension{Records: make([]map[string]json.RawMessage, len(recs))}
	for i, rec := range recs {
		if ext.Records[i], err = patch(rec, &plain[i]); err != nil {
			return nil, err
		}
	}
	return ext, nil
}

// patch is the merge patch that turns from into want.
func patch(want, from *results.Record) (map[string]json.RawMessage, error) {
	w, err := members(want)
	if err != nil {
		return nil, err
	}
	f, err := members(from)
	if err != nil {
		return nil, err
	}
	p := map[string]json.RawMessage{}
	for k, v := range w {
		if !bytes.Equal(v, f[k]) || slices.Contains(identity, k) {
			p[k] = v
		}
	}
	for k := range f {
		if _, ok := w[k]; !ok {
			p[k] = json.RawMessage("null")
		}
	}
	for _, k := range identity {
		if _, ok := p[k]; !ok {
			p[k] = json.RawMessage("null")
		}
	}
	return p, nil
}

// members is a record's JSON, member by member.
func members(r *results.Record) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(b, &m)
}

// apply applies the patches to recs.
func (e *Extension) apply(recs []results.Record) ([]results.Record, error) {
	if len(e.Records) != len(recs) {
		return nil, fmt.Errorf("records: %d patches for the %d records of the result", len(e.Records), len(recs))
	}
	out := make([]results.Record, len(recs))
	for i := range recs {
		m, err := members(&recs[i])
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(e.Records[i])) {
			if v := e.Records[i][k]; bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("records[%d]: %w", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("records[%d]: %s", i, strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return out, nil
}
