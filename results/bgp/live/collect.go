package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"darkwatch/results/bgp"
)

// FlushEvery is how often Collect hands its routes to the store.
const FlushEvery = 500 * time.Millisecond

// ConfigFor is the route collector the bgp: section s asks for, listening
// on listen when given (else on s.Listen, else on port 179 everywhere).
func ConfigFor(s bgp.Section, listen []string) (Config, error) {
	cc := Config{LocalASN: s.LocalASN}
	if s.LocalASN == 0 || len(s.Peers) == 0 {
		return cc, errors.New("the collector needs bgp.local_asn and bgp.peers in the configuration")
	}
	for _, p := range s.Peers {
		addr, err := netip.ParseAddr(p.Addr)
		if err != nil {
			return cc, fmt.Errorf("bgp.peers: %q is not an IP address", p.Addr)
		}
		cc.Peers = append(cc.Peers, Peer{Addr: addr, ASN: p.ASN})
	}
	if len(listen) == 0 && s.Listen != "" {
		listen = []string{s.Listen}
	}
	for _, l := range listen {
		ap, err := netip.ParseAddrPort(l)
		if err != nil {
			return cc, fmt.Errorf("--listen %q: want ADDR:PORT, as 198.51.100.10:179 or [2001:db8::1]:179", l)
		}
		cc.Listen = append(cc.Listen, ap)
	}
	return cc, nil
}

// Collect runs a route collector until ctx ends, storing its routes in st
// every FlushEvery and writing them as bgpdump -m lines to out (when out is
// not nil). It returns when ctx ends, after storing the last routes, or
// when the collector cannot start or the store fails.
func Collect(ctx context.Context, st bgp.RouteStore, cc Config, out io.Writer, log *slog.Logger) error {
	routes := make(chan bgp.Route, 4096)
	c, err := Start(ctx, cc, func(r bgp.Route) {
		select {
		case routes <- r:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	log.Info("bgp collector up", "local_asn", cc.LocalASN, "peers", len(cc.Peers))
	b := &routeBatch{st: st, log: log}
	tick := time.NewTicker(FlushEvery)
	defer tick.Stop()
	var line []byte
	for {
		select {
		case r := <-routes:
			b.routes = append(b.routes, r)
			if out != nil {
				line = bgp.AppendDump(line[:0], &r)
				out.Write(line)
			}
			if len(b.routes) >= bgp.ImportBatch {
				if err := b.flush(ctx); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := b.flush(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return b.flush(ctx)
		}
	}
}

// routeBatch holds the routes Collect has not stored yet.
type routeBatch struct {
	st     bgp.RouteStore
	log    *slog.Logger
	routes []bgp.Route
}

func (b *routeBatch) flush(ctx context.Context) error {
	if len(b.routes) == 0 {
		return nil
	}
	// The store's own context: the last routes are stored on the way out.
	n, err := b.st.PutRoutes(context.WithoutCancel(ctx), "bgp collector", b.routes)
	if err != nil {
		return err
	}
	b.log.Debug("bgp routes stored", "routes", len(b.routes), "new", n)
	b.routes = b.routes[:0]
	return nil
}
