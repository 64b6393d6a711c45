package probe

import (
	"net/netip"
	"testing"
)

func TestWaits(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	var ws waits[uint16, int]
	n := uint16(0)
	next := func() uint16 { n++; return n % 3 } // keys 1, 2, 0, 1, …
	k1, w1, ok := ws.add(a, 1, next)
	if !ok || k1 != 1 {
		t.Fatalf("first add: key %d ok %v", k1, ok)
	}
	k2, _, ok := ws.add(b, 1, next)
	if !ok || k2 != 2 {
		t.Fatalf("second add: key %d ok %v", k2, ok)
	}
	k0, _, _ := ws.add(a, 1, next) // key 0
	if _, _, ok := ws.add(a, 2, next); ok {
		t.Error("add found a free key among 1 and 2, both waiting")
	}
	if ws.len() != 3 {
		t.Errorf("len %d, want 3", ws.len())
	}
	for _, tc := range []struct {
		name string
		key  uint16
		addr netip.Addr
		want bool
	}{
		{"wrong address", k1, b, false},
		{"no such key", 7, a, false},
		{"match", k1, a, true},
		{"taken already", k1, a, false},
		{"any address", k2, netip.Addr{}, true},
	} {
		if got := ws.take(tc.key, tc.addr); (got != nil) != tc.want {
			t.Errorf("%s: take(%d, %v) = %v, want found %v", tc.name, tc.key, tc.addr, got, tc.want)
		}
	}
	ws.forget(k1, w1) // taken already: nothing to drop
	ws.forget(k0, nil)
	if ws.len() != 1 {
		t.Errorf("len %d after forgetting a wait that is not k0's, want 1", ws.len())
	}
}
