package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Pinger is what /healthz asks of the store.
type Pinger interface {
	// Ping checks that the store answers a query.
	Ping(ctx context.Context) error
}

// health is /healthz: 200 "ok" while NATS is connected, the store answers
// and the collector is not stalled on it; else 503 naming which.
type health struct {
	nats    func() bool
	store   Pinger
	stalled func() bool
	log     interface{ Warn(string, ...any) }
}

// ServeHTTP answers 200 "ok", or 503 naming what is not usable.
func (h health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var bad []string
	if !h.nats() {
		bad = append(bad, "NATS not connected")
	}
	if err := h.store.Ping(ctx); err != nil {
		h.log.Warn("health check: the store does not answer", "err", err)
		bad = append(bad, "store not answering")
	}
	if h.stalled() {
		bad = append(bad, "collector stalled: the store does not take records")
	}
	if len(bad) > 0 {
		http.Error(w, strings.Join(bad, "; "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}
