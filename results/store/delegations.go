package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"darkwatch/results/geo"
)

// DelegationQuery selects delegations. Zero fields select everything; set
// fields are ANDed.
type DelegationQuery struct {
	// Country selects the delegations to one country (ISO 3166 code, any
	// case).
	Country string
	// Type selects one resource type: geo.TypeIPv4, geo.TypeIPv6 or
	// geo.TypeASN.
	Type string
}

// Delegation is a stored delegation with where it came from.
type Delegation struct {
	geo.Delegation
	// Source is the file's base name, Serial the serial of its version
	// line, FileRegistry its version line's registry (nro for the NRO's
	// combined file).
	Source, Serial, FileRegistry string
}

// delegationColumns are the delegations table's columns in the order
// delegationArgs gives them.
var delegationColumns = []string{"file_registry", "line", "registry", "country", "type", "start", "value", "prefixes",
	"date", "status", "opaque_id", "serial", "source"}

// PutDelegations replaces every delegation stored from statistics
// files of h.Registry with ds, read from source (a file's name), in
// one transaction, and returns how many it stored.
func (s *Store) PutDelegations(ctx context.Context, source string, h geo.Header, ds []geo.Delegation) (int, error) {
	rows := make([][]any, len(ds))
	for i := range ds {
		rows[i] = delegationArgs(&ds[i], source, h)
	}
	var added int64
	err := s.b.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM delegations WHERE file_registry = $1`, h.Registry); err != nil {
			return err
		}
		var err error
		added, err = t.insertNew(ctx, "delegations", delegationColumns, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: delegations: %w", s.b.name(), err)
	}
	return int(added), nil
}

// delegationArgs is a delegation's row.
func delegationArgs(d *geo.Delegation, source string, h geo.Header) []any {
	var prefixes, date, opaque any
	if len(d.Prefixes) > 0 {
		ps := make([]string, len(d.Prefixes))
		for i, p := range d.Prefixes {
			ps[i] = p.String()
		}
		prefixes = strings.Join(ps, " ")
	}
	if d.Date != "" {
		date = d.Date
	}
	if d.OpaqueID != "" {
		opaque = d.OpaqueID
	}
	return []any{h.Registry, int64(d.Line), d.Registry, d.Country, d.Type, d.Start, int64(d.Value), prefixes,
		date, d.Status, opaque, h.Serial, source}
}

// Delegations returns the delegations q selects, by the registry of their
// file and their line in it.
func (s *Store) Delegations(ctx context.Context, q DelegationQuery) ([]Delegation, error) {
	var w where
	if q.Country != "" {
		w.add("country = " + w.arg(strings.ToUpper(q.Country)))
	}
	if q.Type != "" {
		w.add("type = " + w.arg(q.Type))
	}
	query := "SELECT " + strings.Join(delegationColumns, ", ") + " FROM delegations" + w.String() + " ORDER BY file_registry, line"
	ds, err := queryAll(ctx, s.b, query, w.args, scanDelegation)
	if err != nil {
		return nil, fmt.Errorf("store %s: delegations: %w", s.b.name(), err)
	}
	return ds, nil
}

// scanDelegation reads one row of the delegations table.
func scanDelegation(scan func(...any) error, d *Delegation) error {
	var (
		line, value              int64
		prefixes, date, opaqueID sql.NullString
	)
	if err := scan(&d.FileRegistry, &line, &d.Registry, &d.Country, &d.Type, &d.Start, &value, &prefixes,
		&date, &d.Status, &opaqueID, &d.Serial, &d.Source); err != nil {
		return err
	}
	d.Line, d.Value, d.Date, d.OpaqueID = int(line), uint64(value), date.String, opaqueID.String
	if prefixes.Valid {
		for _, s := range strings.Fields(prefixes.String) {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return fmt.Errorf("delegation prefix %q: %w", s, err)
			}
			d.Prefixes = append(d.Prefixes, p)
		}
	}
	if d.Type == geo.TypeASN {
		d.FirstASN, d.ASNs = parseASN(d.Start), uint32(value)
	}
	return nil
}

// parseASN is a stored asn record's first AS number (0 if it is not one).
func parseASN(s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}
