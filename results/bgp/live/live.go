// Package live is darkwatch's passive BGP route collector: it accepts BGP
// sessions from configured peers with GoBGP's server, announces nothing, and
// hands every announcement, withdrawal and session state change on as a
// results/bgp Route; Collect hands those routes on to a bgp.RouteStore in
// batches. It knows nothing of SQL, MRT files or verdicts.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"

	"darkwatch/results/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Peer is a BGP neighbour the collector accepts a session from.
type Peer struct {
	Addr netip.Addr
	ASN  uint32
}

// Config configures a passive route collector.
type Config struct {
	// LocalASN is the collector's AS number.
	LocalASN uint32
	// RouterID is the collector's BGP identifier, an IPv4 address; the
	// zero value takes the first IPv4 listen address, else 192.0.2.255.
	RouterID netip.Addr
	// Listen is where the collector accepts sessions; the zero value is
	// 0.0.0.0:179 and [::]:179.
	Listen []netip.AddrPort
	// Peers are the only neighbours whose sessions are accepted. The
	// collector never connects out: the peers connect to it.
	Peers []Peer
	// Logger receives GoBGP's log (nil: none).
	Logger *slog.Logger
}

// Collector is a passive BGP route collector built on GoBGP's server: it
// accepts sessions from its configured peers, announces nothing, and hands
// every announcement, withdrawal and session state change to a function,
// with the time it was received, the peer and the AS path.
type Collector struct {
	s      *server.BgpServer
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start starts a collector and returns once it listens. fn is
// called from one goroutine, in the order events arrive, until ctx ends or
// Stop is called; it must not block for long (BGP sessions wait on it).
// A peer's session going down is a StateChange route, after which the
// peer's routes count as withdrawn (bgp.View does so).
func Start(ctx context.Context, cfg Config, fn func(bgp.Route)) (*Collector, error) {
	if cfg.LocalASN == 0 {
		return nil, errors.New("bgp collector: no local AS number")
	}
	if len(cfg.Peers) == 0 {
		return nil, errors.New("bgp collector: no peers to accept")
	}
	var opts []server.ServerOption
	if cfg.Logger != nil {
		opts = append(opts, server.LoggerOption(cfg.Logger, nil))
	}
	s := server.NewBgpServer(opts...)
	go s.Serve()
	ctx, cancel := context.WithCancel(ctx)
	c := &Collector{s: s, cancel: cancel, done: make(chan struct{})}
	events := make(chan bgp.Route, 4096)
	if err := c.setUp(ctx, cfg, events); err != nil {
		c.Stop()
		return nil, fmt.Errorf("bgp collector: %w", err)
	}
	go c.deliver(ctx, events, fn)
	return c, nil
}

// listenOn is the port and the addresses the collector listens on: the
// last port given in listen (179 if none), and every address of listen, or
// 0.0.0.0 and :: when listen is empty.
func listenOn(listen []netip.AddrPort) (port uint16, addrs []string) {
	port = 179
	for _, l := range listen {
		if l.Port() != 0 {
			port = l.Port()
		}
		addrs = append(addrs, l.Addr().String())
	}
	if len(addrs) == 0 {
		addrs = []string{"0.0.0.0", "::"}
	}
	return port, addrs
}

// routerID is cfg's router ID, else its first specified IPv4 listen
// address, else 192.0.2.255.
func routerID(cfg Config) netip.Addr {
	if cfg.RouterID.IsValid() {
		return cfg.RouterID
	}
	for _, l := range cfg.Listen {
		if a := l.Addr(); a.Is4() && !a.IsUnspecified() {
			return a
		}
	}
	return netip.MustParseAddr("192.0.2.255")
}

// setUp starts BGP on the collector's server, has it send every route and
// session state change to events, and adds the peers, passive.
func (c *Collector) setUp(ctx context.Context, cfg Config, events chan<- bgp.Route) error {
	port, addrs := listenOn(cfg.Listen)
	if err := c.s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: cfg.LocalASN, RouterId: routerID(cfg).String(), ListenPort: int32(port), ListenAddresses: addrs,
	}}); err != nil {
		return err
	}
	err := c.s.WatchEvent(ctx, watchRoutes(ctx, events), server.WatchUpdate(true, "", ""), server.WatchAdjInWithdraw(), server.WatchPeer())
	if err != nil {
		return err
	}
	return c.addPeers(ctx, cfg.Peers)
}

// watchRoutes is the server's event callbacks: each announced or withdrawn
// path and each session state change goes to events as a Route, until ctx
// ends.
func watchRoutes(ctx context.Context, events chan<- bgp.Route) server.WatchEventMessageCallbacks {
	states := map[netip.Addr]uint16{} // each peer's last state, for OldState
	return server.WatchEventMessageCallbacks{
		OnPathUpdate: func(paths []*apiutil.Path, t time.Time) {
			for _, p := range paths {
				if r, ok := bgp.UpdateRoute(t, p.PeerAddress, p.PeerASN, p.RemoteID, p.Nlri, p.Attrs, p.Withdrawal); ok {
					select {
					case events <- r:
					case <-ctx.Done():
						return
					}
				}
			}
		},
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, t time.Time) {
			if ev.Type != apiutil.PEER_EVENT_STATE {
				return
			}
			st := ev.Peer.State
			// GoBGP counts FSM states from 0 (idle); MRT and bgpdump from 1.
			r := bgp.Route{Time: t.UTC(), Record: "BGP4MP", Kind: bgp.StateChange, Peer: st.NeighborAddress,
				PeerAS: st.PeerASN, OldState: states[st.NeighborAddress], NewState: uint16(st.SessionState) + 1}
			states[st.NeighborAddress] = r.NewState
			select {
			case events <- r:
			case <-ctx.Done():
			}
		},
	}
}

// addPeers adds each peer as a passive IPv4 and IPv6 unicast neighbour.
func (c *Collector) addPeers(ctx context.Context, peers []Peer) error {
	families := []*api.AfiSafi{
		{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
		{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
	}
	for _, p := range peers {
		err := c.s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: p.Addr.String(), PeerAsn: p.ASN},
			Transport: &api.Transport{PassiveMode: true},
			AfiSafis:  families,
		}})
		if err != nil {
			return fmt.Errorf("peer %v AS%d: %w", p.Addr, p.ASN, err)
		}
	}
	return nil
}

// deliver hands each route from events to fn, one at a time, until ctx
// ends; it closes c.done when it returns.
func (c *Collector) deliver(ctx context.Context, events <-chan bgp.Route, fn func(bgp.Route)) {
	defer close(c.done)
	for {
		select {
		case r := <-events:
			fn(r)
		case <-ctx.Done():
			return
		}
	}
}

// Stop closes the sessions and stops the collector; fn is not called after
// Stop returns.
func (c *Collector) Stop() {
	c.once.Do(func() {
		c.cancel()
		c.s.Stop()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
	})
}
