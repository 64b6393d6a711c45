package probe

import (
	"net/netip"
	"sync"
)

// waits is a one-shot prober's table of probes waiting for their answer, by
// the key the answer echoes (an ICMP sequence number; a SYN's target, port
// and acknowledgement number). The zero value is ready to use.
type waits[K comparable, A any] struct {
	mu sync.Mutex
	m  map[K]*wait[A]
}

// wait is one probe waiting. An answer must name addr (the target of an
// echo request, our source address for a SYN); got is buffered, so the
// receive goroutine never blocks on it.
type wait[A any] struct {
	addr netip.Addr
	got  chan A
}

// add registers a wait for an answer naming addr under the first of up to
// tries keys from next that is free, and returns it; ok is false when all
// were taken. next is called under the table's lock.
func (t *waits[K, A]) add(addr netip.Addr, tries int, next func() K) (k K, w *wait[A], ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[K]*wait[A])
	}
	for range tries {
		k = next()
		if _, busy := t.m[k]; !busy {
			w = &wait[A]{addr: addr, got: make(chan A, 1)}
			t.m[k] = w
			return k, w, true
		}
	}
	return k, nil, false
}

// forget drops w once its probe is over (unless an answer took it already).
func (t *waits[K, A]) forget(k K, w *wait[A]) {
	t.mu.Lock()
	if t.m[k] == w {
		delete(t.m, k)
	}
	t.mu.Unlock()
}

// take removes and returns the wait for k if it is for addr (any address
// when addr is invalid: a socket that does not tell), else nil.
func (t *waits[K, A]) take(k K, addr netip.Addr) *wait[A] {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.m[k]
	if w == nil || addr.IsValid() && w.addr != addr {
		return nil
	}
	delete(t.m, k)
	return w
}

// len is how many probes wait.
func (t *waits[K, A]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
