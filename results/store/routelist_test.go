package store

import (
	"context"
	"testing"
	"time"
)

// TestRoutesList: Routes gives what EachRoute walks, by time, as q selects.
func TestRoutesList(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, sqliteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs := realRoutes(t)[:100]
	if _, err := st.PutRoutes(ctx, "updates", rs); err != nil {
		t.Fatal(err)
	}
	all, err := Routes(ctx, st, RouteQuery{})
	if err != nil || len(all) == 0 {
		t.Fatalf("%d routes, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("route %d at %v before route %d at %v", i, all[i].Time, i-1, all[i-1].Time)
		}
	}
	until := all[len(all)-1].Time
	early, err := Routes(ctx, st, RouteQuery{Until: until})
	if err != nil || len(early) >= len(all) {
		t.Errorf("until the last second: %d of %d routes, %v", len(early), len(all), err)
	}
	none, err := Routes(ctx, st, RouteQuery{Until: all[0].Time.Add(-time.Second)})
	if err != nil || len(none) != 0 {
		t.Errorf("before the first: %d routes, %v", len(none), err)
	}
}
