package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"time"

	"darkwatch/results/bgp"
)

// RouteQuery selects routes. Zero fields select everything; set fields are
// ANDed.
type RouteQuery struct {
	Since time.Time // routes at or after Since
	Until time.Time // routes before Until
	// Prefix selects the routes of exactly this prefix (state changes,
	// which have none, are then left out).
	Prefix netip.Prefix
}

// ErrInvalidRoute is returned, wrapped with the route's index, by PutRoutes
// for a route that cannot be stored.
var ErrInvalidRoute = errors.New("invalid route")

// routeColumns are the routes table's columns in the order routeArgs gives
// them.
var routeColumns = []string{"id", "time_ns", "kind", "peer", "peer_as", "prefix", "path_id", "as_path", "origin",
	"next_hop", "old_state", "new_state", "record", "source", "seq"}

// PutRoutes stores control-plane routes (results/bgp) learnt from
// source (an MRT file's name, or a live session), in one transaction,
// and returns how many were new: a route already stored, from any
// source, is stored once. A route without a time, kind or peer, or an
// announcement, withdrawal or RIB entry without a prefix, fails the
// whole call.
func (s *Store) PutRoutes(ctx context.Context, source string, routes []bgp.Route) (int, error) {
	if len(routes) == 0 {
		return 0, nil
	}
	// seq keeps the routes' order within one time across batches: a later
	// batch is stored later.
	seq0 := time.Now().UnixNano()
	rows := make([][]any, len(routes))
	for i := range routes {
		var err error
		if rows[i], err = routeArgs(&routes[i], source, seq0+int64(i)); err != nil {
			return 0, fmt.Errorf("store: route %d (%s %v %v): %w: %v", i, routes[i].Kind, routes[i].Peer, routes[i].Prefix,
				ErrInvalidRoute, err)
		}
	}
	var added int64
	err := s.b.inTx(ctx, func(t tx) error {
		var err error
		added, err = t.insertNew(ctx, "routes", routeColumns, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store %s: routes: %w", s.b.name(), err)
	}
	return int(added), nil
}

// routeArgs checks a route and returns its row.
func routeArgs(r *bgp.Route, source string, seq int64) ([]any, error) {
	if r.Time.IsZero() {
		return nil, errors.New("no time")
	}
	ns, err := unixNano(r.Time)
	if err != nil {
		return nil, err
	}
	if _, ok := bgp.ParseKind(r.Kind.String()); !ok {
		return nil, fmt.Errorf("unknown kind %d", r.Kind)
	}
	if !r.Peer.IsValid() {
		return nil, errors.New("no peer")
	}
	var prefix, asPath, nextHop, origin, oldState, newState any
	if r.Kind == bgp.StateChange {
		oldState, newState = int64(r.OldState), int64(r.NewState)
	} else {
		if !r.Prefix.IsValid() {
			return nil, errors.New("no prefix")
		}
		prefix = r.Prefix.Masked().String()
	}
	if r.Attrs != nil {
		if r.Attrs.HasASPath {
			asPath = r.Attrs.ASPath
		}
		origin = int64(r.Attrs.Origin)
	}
	if r.NextHop.IsValid() {
		nextHop = r.NextHop.String()
	}
	record := r.Record
	if record == "" {
		record = "BGP4MP"
	}
	return []any{routeID(r, ns), ns, r.Kind.String(), r.Peer.String(), int64(r.PeerAS), prefix, int64(r.PathID),
		asPath, origin, nextHop, oldState, newState, record, source, seq}, nil
}

// routeID is a hash of what a route says as the store keeps it (time, kind,
// peer, prefix, path id, AS path, origin, next hop, states): the same event,
// from whichever file or session, gets the same id.
func routeID(r *bgp.Route, ns int64) string {
	h := fnv.New128a()
	var b []byte
	b = binary.BigEndian.AppendUint64(b, uint64(ns))
	b = append(b, byte(r.Kind))
	b = r.Peer.AppendTo(b)
	b = binary.BigEndian.AppendUint32(b, r.PeerAS)
	b = append(b, '|')
	if r.Prefix.IsValid() {
		b, _ = r.Prefix.Masked().AppendText(b)
	}
	b = binary.BigEndian.AppendUint32(b, r.PathID)
	if r.Attrs != nil {
		b = append(b, r.Attrs.ASPath...)
		b = append(b, '|', byte(r.Attrs.Origin))
	}
	b = append(b, '|')
	b = r.NextHop.AppendTo(b)
	b = binary.BigEndian.AppendUint16(b, r.OldState)
	b = binary.BigEndian.AppendUint16(b, r.NewState)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// EachRoute calls fn with each route q selects, by time (in the order
// stored within one time). An error from fn stops the walk and is
// returned as it is.
func (s *Store) EachRoute(ctx context.Context, q RouteQuery, fn func(bgp.Route) error) error {
	var w where
	if !q.Since.IsZero() {
		w.add("time_ns >= " + w.arg(clampNano(q.Since)))
	}
	if !q.Until.IsZero() {
		w.add("time_ns < " + w.arg(clampNano(q.Until)))
	}
	if q.Prefix.IsValid() {
		w.add("prefix = " + w.arg(q.Prefix.Masked().String()))
	}
	query := "SELECT time_ns, kind, peer, peer_as, prefix, path_id, as_path, origin, next_hop, old_state, new_state, record" +
		" FROM routes" + w.String() + " ORDER BY time_ns, seq"
	err := s.b.query(ctx, query, w.args, func(scan func(...any) error) error {
		r, err := scanRoute(scan)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return stopWalk{err}
		}
		return nil
	})
	var stop stopWalk
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		return fmt.Errorf("store %s: routes: %w", s.b.name(), err)
	}
	return nil
}

// scanRoute reads one row of EachRoute's query.
func scanRoute(scan func(...any) error) (bgp.Route, error) {
	var (
		ns, peerAS, pathID         int64
		kind, peer, record         string
		prefix, asPath, nextHop    sql.NullString
		origin, oldState, newState sql.NullInt64
	)
	if err := scan(&ns, &kind, &peer, &peerAS, &prefix, &pathID, &asPath, &origin, &nextHop, &oldState, &newState, &record); err != nil {
		return bgp.Route{}, err
	}
	k, ok := bgp.ParseKind(kind)
	if !ok {
		return bgp.Route{}, fmt.Errorf("route of unknown kind %q", kind)
	}
	r := bgp.Route{Time: time.Unix(0, ns).UTC(), Kind: k, PeerAS: uint32(peerAS), PathID: uint32(pathID), Record: record,
		AddPath: strings.HasSuffix(record, "_AP")}
	var err error
	if r.Peer, err = netip.ParseAddr(peer); err != nil {
		return r, fmt.Errorf("route peer %q: %w", peer, err)
	}
	if prefix.Valid {
		if r.Prefix, err = netip.ParsePrefix(prefix.String); err != nil {
			return r, fmt.Errorf("route prefix %q: %w", prefix.String, err)
		}
	}
	if nextHop.Valid {
		if r.NextHop, err = netip.ParseAddr(nextHop.String); err != nil {
			return r, fmt.Errorf("route next hop %q: %w", nextHop.String, err)
		}
	}
	if k == bgp.StateChange {
		r.OldState, r.NewState = uint16(oldState.Int64), uint16(newState.Int64)
	} else if k != bgp.Withdraw {
		r.Attrs = &bgp.Attrs{Origin: -1, ASPath: asPath.String, HasASPath: asPath.Valid}
		if origin.Valid {
			r.Attrs.Origin = int(origin.Int64)
		}
	}
	return r, nil
}
