package probe

// This file sizes a trace's first window from its neighbours' paths, as
// Doubletree (Donnet et al., SIGMETRICS 2005) reuses what traces of nearby
// destinations learned: targets of one /24 (/48 in IPv6) are almost always as
// many hops away as each other, so the first trace of a prefix tells the others
// at which TTL the destination answers, and they send up to that TTL and no
// further. Every trace still probes each TTL from the first up to where it
// ends, so the hops it finds are the same; only probes past the end are saved.

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// Prefix lengths whose destinations share a hop distance, and how many
// prefixes a Trace remembers before it forgets those it no longer waits on.
const (
	hintBits4   = 24
	hintBits6   = 48
	maxHopHints = 1 << 16
)

// hopHints are the hop distances of destination prefixes, learned by the
// first trace of each prefix (its leader) and read by the others.
type hopHints struct {
	mu sync.Mutex
	m  map[netip.Prefix]*hopHint
}

// hopHint is the hop distance of one prefix.
type hopHint struct {
	ready chan struct{} // closed once the leader's first window is over
	dist  int           // the TTL at which the leader's destination answered; 0: unknown
}

// hintPrefix is the prefix of dst whose destinations share a hint.
func hintPrefix(dst netip.Addr) netip.Prefix {
	bits := hintBits6
	if dst.Is4() {
		bits = hintBits4
	}
	p, _ := dst.Prefix(bits)
	return p
}

// join returns the hint of dst's prefix and whether the caller leads it: a
// leader must call learn exactly once, after its first window.
func (h *hopHints) join(dst netip.Addr) (*hopHint, bool) {
	p := hintPrefix(dst)
	h.mu.Lock()
	defer h.mu.Unlock()
	if hint, ok := h.m[p]; ok {
		return hint, false
	}
	if h.m == nil {
		h.m = make(map[netip.Prefix]*hopHint)
	}
	if len(h.m) >= maxHopHints {
		h.forget()
	}
	hint := &hopHint{ready: make(chan struct{})}
	h.m[p] = hint
	return hint, true
}

// forget drops the hints whose leader is done, so that the map stays bounded
// by maxHopHints plus the traces in flight. h.mu is held.
func (h *hopHints) forget() {
	for p, hint := range h.m {
		select {
		case <-hint.ready:
			delete(h.m, p)
		default:
		}
	}
}

// learn is the leader's: it records the TTL at which its destination answered
// (0 if it did not within the first window) and releases the waiting traces.
func (h *hopHints) learn(hint *hopHint, dist int) {
	h.mu.Lock()
	hint.dist = dist
	h.mu.Unlock()
	close(hint.ready)
}

// distance waits until the leader of hint has learned what it can and returns
// it (0: unknown).
func (h *hopHints) distance(ctx context.Context, hint *hopHint, closed <-chan struct{}) (int, error) {
	select {
	case <-hint.ready:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-closed:
		return 0, net.ErrClosed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return hint.dist, nil
}

// firstWindow is how many TTLs a trace from first sends before it waits: up
// to the TTL at which its prefix's destinations answer, when that is known,
// else firstTraceWindow.
func firstWindow(first, dist int) int {
	if dist < first {
		return firstTraceWindow
	}
	return min(dist-first+1, traceWindow)
}
