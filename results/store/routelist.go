package store

import (
	"context"
	"fmt"

	"darkwatch/results/bgp"
)

// Routes gives every route of st that q selects, by time (see EachRoute).
func Routes(ctx context.Context, st *Store, q RouteQuery) ([]bgp.Route, error) {
	var routes []bgp.Route
	err := st.EachRoute(ctx, q, func(r bgp.Route) error {
		routes = append(routes, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return routes, nil
}

// RoutesStored is how many routes st holds. Routes are never deleted, so
// a count that has not changed says that no route came since.
func (s *Store) RoutesStored(ctx context.Context) (int64, error) {
	var n int64
	if err := s.b.query(ctx, "SELECT COUNT(*) FROM routes", nil, func(scan func(...any) error) error { return scan(&n) }); err != nil {
		return 0, fmt.Errorf("store %s: routes: %w", s.b.name(), err)
	}
	return n, nil
}
