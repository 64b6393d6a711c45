package store

import (
	"context"

	"darkwatch/results/bgp"
)

// Routes gives every route of st that q selects, by time (see EachRoute).
func Routes(ctx context.Context, st Store, q RouteQuery) ([]bgp.Route, error) {
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
