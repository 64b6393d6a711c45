package transport

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// NodeConfig configures a node's link to its collector.
type NodeConfig struct {
	Vantage string
	// URL names the collector's NATS server(s), comma-separated
	// (nats://host:4222, tls://host:4222).
	URL string
	// User and Password, or NkeySeed (the node's nkey seed, "SU..."), are
	// the node's credentials.
	User     string
	Password string
	NkeySeed []byte
	// TLS, when set, is used for tls:// URLs (its RootCAs name the
	// collector's CA).
	TLS *tls.Config
	// Store is the node's local store: its outbox is what is sent.
	Store OutboxStore
	// Batch is the most records published before waiting for their
	// acknowledgements (default 20,000).
	Batch int
	// Heartbeat is the interval between heartbeats (default 10 s).
	Heartbeat time.Duration
	// MaxBackoff caps the wait between attempts after a failure (default
	// 30 s; the first wait is a second).
	MaxBackoff time.Duration
	// Version is sent in heartbeats.
	Version string
	Log     *slog.Logger
}

// NodeStats are a node's running totals and state.
type NodeStats struct {
	Connected bool
	// Delivered counts records the collector's stream acknowledged;
	// Duplicates those of them it already had.
	Delivered  uint64
	Duplicates uint64
	// Failed counts records whose publication was not acknowledged (they
	// are sent again).
	Failed uint64
	// Offsetms and RTTms are from the latest answered heartbeat.
	Offsetms float64
	RTTms    float64
	// LastHeartbeat is when the latest heartbeat was answered.
	LastHeartbeat time.Time
}

// Node sends a node's outbox to the collector.
type Node struct {
	cfg  NodeConfig
	wake chan struct{}
	// idKey keys the message ids (messageID).
	idKey []byte

	connected                     atomic.Bool
	delivered, duplicates, failed atomic.Uint64
	round                         atomic.Int64

	mu       sync.Mutex
	offsetMS float64
	rttMS    float64
	lastHB   time.Time
}

// NewNode checks cfg and returns a Node; Run sends.
func NewNode(cfg NodeConfig) (*Node, error) {
	if err := CheckVantage(cfg.Vantage); err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	if cfg.URL == "" {
		return nil, errors.New("transport: the node needs the collector's URL")
	}
	if cfg.Store == nil {
		return nil, errors.New("transport: the node needs its local store")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20000
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	secret := cfg.NkeySeed
	if len(secret) == 0 {
		secret = []byte(cfg.Password)
	}
	return &Node{cfg: cfg, wake: make(chan struct{}, 1), idKey: idKey(secret)}, nil
}

// Wake tells the node that records were queued.
func (n *Node) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Vantage is the vantage point the node sends for.
func (n *Node) Vantage() string { return n.cfg.Vantage }

// SetRound tells the node its latest round, for heartbeats.
func (n *Node) SetRound(k int64) { n.round.Store(k) }

// Stats returns the running totals.
func (n *Node) Stats() NodeStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return NodeStats{Connected: n.connected.Load(), Delivered: n.delivered.Load(), Duplicates: n.duplicates.Load(),
		Failed: n.failed.Load(), Offsetms: n.offsetMS, RTTms: n.rttMS, LastHeartbeat: n.lastHB}
}

// options are the NATS connection options of the node.
func (n *Node) options(closed chan<- struct{}) ([]nats.Option, error) {
	log := n.cfg.Log
	opts := []nats.Option{
		nats.Name("darkwatch node " + n.cfg.Vantage),
		nats.CustomInboxPrefix(InboxPrefix(n.cfg.Vantage)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		// No buffering while away: a publication fails at once and is sent
		// again from the outbox.
		nats.ReconnectBufSize(-1),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.connected.Store(false)
			if err != nil {
				log.Warn("collector connection lost; records stay in the outbox", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.connected.Store(true)
			log.Info("collector connection back", "server", nc.ConnectedUrlRedacted())
			n.Wake()
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			n.connected.Store(false)
			close(closed)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, nats.ErrAuthorization) {
				log.Error("collector refused", "vantage", n.cfg.Vantage, "user", n.cfg.User, "err", err)
				return
			}
			log.Warn("collector connection", "err", err)
		}),
	}
	switch {
	case len(n.cfg.NkeySeed) > 0:
		kp, err := nkeys.FromSeed(n.cfg.NkeySeed)
		if err != nil {
			return nil, errors.New("transport: the node's nkey seed is not an nkey seed")
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("transport: nkey: %w", err)
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	case n.cfg.User != "":
		opts = append(opts, nats.UserInfo(n.cfg.User, n.cfg.Password))
	}
	if n.cfg.TLS != nil {
		opts = append(opts, nats.Secure(n.cfg.TLS))
	}
	return opts, nil
}

// Run connects to the collector and sends the outbox, as records are queued,
// until ctx ends. A refused or failed connection is logged and tried again
// with backoff; Run returns only when ctx ends (with nil) or the
// configuration is unusable.
func (n *Node) Run(ctx context.Context) error {
	backoff := newBackoff(n.cfg.MaxBackoff)
	for ctx.Err() == nil {
		closed := make(chan struct{})
		opts, err := n.options(closed)
		if err != nil {
			return err
		}
		nc, err := nats.Connect(n.cfg.URL, opts...)
		if err != nil {
			level := slog.LevelWarn
			if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
				level = slog.LevelError
				err = fmt.Errorf("collector refused user %q: %w", n.cfg.User, err)
			}
			wait := backoff.next()
			n.cfg.Log.Log(ctx, level, "cannot reach the collector; records stay in the outbox", "url", redact(n.cfg.URL),
				"err", err, "retry_in", wait.Round(time.Millisecond))
			sleep(ctx, wait)
			continue
		}
		n.connected.Store(true)
		n.cfg.Log.Info("connected to the collector", "server", nc.ConnectedUrlRedacted(), "vantage", n.cfg.Vantage)
		backoff.reset()
		n.session(ctx, nc, closed)
		nc.Close()
		n.connected.Store(false)
	}
	return nil
}

// session sends the outbox over one connection until ctx ends or the
// connection closes for good.
func (n *Node) session(ctx context.Context, nc *nats.Conn, closed <-chan struct{}) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(n.cfg.Batch),
		jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		n.cfg.Log.Error("collector: JetStream", "err", err)
		return
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-closed:
			stop()
		case <-sctx.Done():
		}
	}()
	go n.heartbeats(sctx, nc)
	backoff := newBackoff(n.cfg.MaxBackoff)
	for sctx.Err() == nil {
		sent, err := n.sendBatch(sctx, js)
		switch {
		case err != nil:
			wait := backoff.next()
			n.cfg.Log.Warn("records not acknowledged by the collector; sending again", "err", err,
				"retry_in", wait.Round(time.Millisecond))
			n.pause(sctx, wait)
		case sent == 0:
			backoff.reset()
			n.pause(sctx, 5*time.Second)
		default:
			backoff.reset()
		}
	}
}

// pause waits d, until the node is woken, or until ctx ends.
func (n *Node) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-n.wake:
	}
}

// sendBatch publishes the oldest queued records, in messages of several
// outbox batches, waits for their acknowledgements and takes the
// acknowledged batches out of the outbox. It returns how many records were
// delivered, and an error if any were not.
func (n *Node) sendBatch(ctx context.Context, js jetstream.JetStream) (int, error) {
	batches, err := n.cfg.Store.Outbox(ctx, n.cfg.Vantage, n.cfg.Batch)
	if err != nil || len(batches) == 0 {
		return 0, err
	}
	subject := ResultSubject(n.cfg.Vantage)
	type pending struct {
		msg message
		f   jetstream.PubAckFuture
	}
	msgs := packMessages(n.cfg.Vantage, n.idKey, batches)
	futures := make([]pending, 0, len(msgs))
	var firstErr error
	for _, m := range msgs {
		msg := &nats.Msg{Subject: subject, Data: m.body, Header: nats.Header{FormatHeader: []string{FormatPacked}}}
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(m.id))
		if err != nil {
			firstErr = err
			break
		}
		futures = append(futures, pending{m, f})
	}
	var ids []string
	delivered, failed := 0, 0
	for _, p := range futures {
		select {
		case ack := <-p.f.Ok():
			ids = append(ids, p.msg.batches...)
			delivered += p.msg.records
			if ack.Duplicate {
				n.duplicates.Add(uint64(p.msg.records))
			}
		case err := <-p.f.Err():
			failed += p.msg.records
			if firstErr == nil {
				firstErr = err
			}
		case <-ctx.Done():
			failed += p.msg.records
			if firstErr == nil {
				firstErr = ctx.Err()
			}
		}
	}
	total := 0
	for _, m := range msgs {
		total += m.records
	}
	if len(ids) > 0 {
		// Not ctx: what the collector has must leave the outbox.
		if err := n.cfg.Store.Delivered(context.WithoutCancel(ctx), ids); err != nil {
			return 0, err
		}
		n.delivered.Add(uint64(delivered))
	}
	n.failed.Add(uint64(total - delivered))
	if firstErr != nil {
		return delivered, fmt.Errorf("%d of %d records: %w", total-delivered, total, firstErr)
	}
	return delivered, nil
}

// heartbeats sends a heartbeat every interval and measures the clock offset
// from the collector's replies.
func (n *Node) heartbeats(ctx context.Context, nc *nats.Conn) {
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		n.heartbeat(ctx, nc)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) heartbeat(ctx context.Context, nc *nats.Conn) {
	outbox, _ := n.cfg.Store.OutboxLen(ctx, n.cfg.Vantage)
	n.mu.Lock()
	hb := Heartbeat{Vantage: n.cfg.Vantage, Offsetms: n.offsetMS, RTTms: n.rttMS, Outbox: outbox,
		Round: n.round.Load(), Version: n.cfg.Version}
	n.mu.Unlock()
	t0 := time.Now()
	hb.Sent = t0.UTC()
	body, _ := json.Marshal(hb)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, HeartbeatSubject(n.cfg.Vantage), body)
	if err != nil {
		if ctx.Err() == nil {
			n.cfg.Log.Debug("heartbeat not answered", "err", err)
		}
		return
	}
	t2 := time.Now()
	var r heartbeatReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return
	}
	rtt := t2.Sub(t0)
	// The collector's clock at the middle of the round trip, less ours.
	offset := r.Time.Sub(t0.Add(rtt / 2))
	n.mu.Lock()
	n.offsetMS = float64(offset.Microseconds()) / 1000
	n.rttMS = float64(rtt.Microseconds()) / 1000
	n.lastHB = t2
	n.mu.Unlock()
}

// Flush sends what is queued until the outbox is empty, ctx ends or the
// collector cannot be reached; for a node that is stopping. It returns how
// many records are left.
func (n *Node) Flush(ctx context.Context) (int64, error) {
	closed := make(chan struct{})
	opts, err := n.options(closed)
	if err != nil {
		return 0, err
	}
	opts = append(opts, nats.MaxReconnects(0))
	nc, err := nats.Connect(n.cfg.URL, opts...)
	if err != nil {
		left, _ := n.cfg.Store.OutboxLen(ctx, n.cfg.Vantage)
		return left, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(n.cfg.Batch),
		jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return 0, err
	}
	for ctx.Err() == nil {
		sent, err := n.sendBatch(ctx, js)
		if err != nil || sent == 0 {
			left, _ := n.cfg.Store.OutboxLen(context.WithoutCancel(ctx), n.cfg.Vantage)
			return left, err
		}
	}
	left, _ := n.cfg.Store.OutboxLen(context.WithoutCancel(ctx), n.cfg.Vantage)
	return left, ctx.Err()
}

// backoff is an exponential wait with jitter: 1 s, 2 s, 4 s, ... up to max.
type backoff struct {
	max, cur time.Duration
}

func newBackoff(max time.Duration) *backoff { return &backoff{max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = time.Second
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	// ±20 % so that nodes that lost the collector together do not return
	// together.
	return time.Duration(float64(b.cur) * (0.8 + 0.4*rand.Float64()))
}

func (b *backoff) reset() { b.cur = 0 }

// redact removes user information from a comma-separated URL list, for logs.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
