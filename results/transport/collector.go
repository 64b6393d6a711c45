package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"darkwatch/results"
	"darkwatch/results/store"
)

// fetchBytes is how much the collector takes from the stream at a time, and
// stores in one transaction: some 50,000 packed records.
const fetchBytes = 1 << 20

// AckWait is how long the stream waits for the collector to acknowledge a
// record before it delivers it again: a collector that died with records in
// hand gets them again this long after they were first delivered (or after
// the NATS server restarted). A batch is stored in well under a second; one
// that took longer would only be delivered twice, and stored once.
const AckWait = 10 * time.Second

// RecordStore is what the collector needs of its store.
type RecordStore interface {
	Ingest(ctx context.Context, recs []results.Record) (added int, err error)
}

// CollectorConfig configures the collector's consumer.
type CollectorConfig struct {
	// Store receives the records.
	Store RecordStore
	// MaxAckPending is the most messages the stream hands the collector
	// before it acknowledges some (default 20,000).
	MaxAckPending int
	// Replicas is the stream's replica count on a JetStream cluster
	// (default 1).
	Replicas int
	// MaxBytes and MaxAge bound what the stream holds while the collector
	// does not take it (default DefaultMaxBytes and DefaultMaxAge). A full
	// stream refuses new messages, which stay in the nodes' outboxes; a
	// message older than MaxAge is dropped.
	MaxBytes int64
	MaxAge   time.Duration
	// OnHeartbeat, when set, is called with each node's heartbeat.
	OnHeartbeat func(Heartbeat)
	Log         *slog.Logger
}

// Defaults of the stream's limits.
const (
	DefaultMaxBytes = 8 << 30
	DefaultMaxAge   = 7 * 24 * time.Hour
)

// CollectorStats are the collector's running totals.
type CollectorStats struct {
	// Received counts messages taken from the stream, redeliveries included.
	Received uint64
	// Stored counts records new to the store.
	Stored uint64
	// Refused counts messages that were not records of the vantage whose
	// subject they came on, whose id named another vantage, or that held a
	// record the store refuses; they are terminated and dropped, and the
	// other messages of their batch are stored.
	Refused uint64
	// Batches counts store transactions; IngestSeconds is their total time.
	Batches       uint64
	IngestSeconds float64
	// StoreErrors counts failed store transactions (retried).
	StoreErrors uint64
	// Stalled is set while a batch waits for the store to take it: no
	// record of any vantage is stored meanwhile.
	Stalled bool
}

// Collector writes the records of the stream to a store.
type Collector struct {
	cfg  CollectorConfig
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer
	hb   *nats.Subscription

	received, stored, refused, batches, storeErrors atomic.Uint64
	ingestNanos                                     atomic.Int64
	stalled                                         atomic.Bool

	mu         sync.Mutex
	byVantage  map[string]uint64
	lastRecord map[string]time.Time
	// oldest is the time of the oldest record stored since TakeOldest.
	oldest time.Time
}

// NewCollector creates the stream and the durable consumer when they are not
// there yet (or updates them) and answers heartbeats. Run then consumes.
func NewCollector(ctx context.Context, nc *nats.Conn, cfg CollectorConfig) (*Collector, error) {
	if cfg.Store == nil {
		return nil, errors.New("transport: the collector needs a store")
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = 20000
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "darkwatch records on their way from the nodes to the collector's store",
		Subjects:    []string{ResultsPrefix + "*"},
		// A record leaves the stream once the collector's durable consumer
		// has acknowledged it, that is once it is stored.
		Retention:  jetstream.InterestPolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
		MaxMsgSize: MaxPayload,
		// Full, the stream refuses what comes: a node keeps it in its
		// outbox and sends it again, where dropping the oldest would
		// lose records the nodes have let go.
		MaxBytes: cfg.MaxBytes,
		MaxAge:   cfg.MaxAge,
		Discard:  jetstream.DiscardNew,
		Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("transport: stream %s: %w", Stream, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:     Consumer,
		Description: "the collector's store",
		// Each record is acknowledged on its own. Acknowledging a batch
		// by its last message (AckAll) would also acknowledge records of a
		// lower sequence that a dead collector had taken and not stored,
		// before the stream delivers them again: they would be lost.
		AckPolicy: jetstream.AckExplicitPolicy,
		// Records a collector took and did not acknowledge (it died, with an
		// external server that lives on) are delivered again after AckWait.
		AckWait:       AckWait,
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxAckPending,
		Replicas:      cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("transport: consumer %s: %w", Consumer, err)
	}
	c := &Collector{cfg: cfg, nc: nc, js: js, cons: cons,
		byVantage: map[string]uint64{}, lastRecord: map[string]time.Time{}}
	c.hb, err = nc.Subscribe(HeartbeatPrefix+"*", c.heartbeat)
	if err != nil {
		return nil, fmt.Errorf("transport: heartbeats: %w", err)
	}
	return c, nil
}

// heartbeat answers a node's heartbeat with the collector's clock.
func (c *Collector) heartbeat(m *nats.Msg) {
	now := time.Now().UTC()
	vantage := strings.TrimPrefix(m.Subject, HeartbeatPrefix)
	var hb Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil || hb.Vantage != vantage {
		c.cfg.Log.Warn("heartbeat refused: not a heartbeat of the vantage whose subject it came on", "subject", m.Subject)
		return
	}
	if m.Reply != "" {
		body, _ := json.Marshal(heartbeatReply{Time: now})
		_ = m.Respond(body)
	}
	hb.Received = now
	if c.cfg.OnHeartbeat != nil {
		c.cfg.OnHeartbeat(hb)
	}
}

// batch is what one fetch brought: the messages, each with its decoded
// records, to acknowledge once the records are stored.
type batch struct {
	msgs []jetstream.Msg
	recs [][]results.Record
}

func (b batch) records() []results.Record {
	var all []results.Record
	for _, r := range b.recs {
		all = append(all, r...)
	}
	return all
}

// split halves b.
func (b batch) split() (batch, batch) {
	h := len(b.msgs) / 2
	return batch{b.msgs[:h], b.recs[:h]}, batch{b.msgs[h:], b.recs[h:]}
}

// Run consumes the stream until ctx ends: it fetches records in batches,
// stores each batch in one transaction and acknowledges it after the commit.
// A message that is not its vantage's records, or holds one the store
// refuses, is terminated, never to come again, and the rest of its batch is
// stored. Any other store error is retried, with backoff, until it succeeds
// or ctx ends; the records stay in the stream meanwhile.
func (c *Collector) Run(ctx context.Context) error {
	defer c.hb.Unsubscribe()
	batches := make(chan batch, 2) // fetch the next batch while one is stored
	fetchErr := make(chan error, 1)
	go func() {
		defer close(batches)
		fetchErr <- c.fetch(ctx, batches)
	}()
	for b := range batches {
		c.store(ctx, b)
	}
	return <-fetchErr
}

// fetch pulls batches from the consumer until ctx ends.
func (c *Collector) fetch(ctx context.Context, out chan<- batch) error {
	var loggedErr string
	for ctx.Err() == nil {
		mb, err := c.cons.FetchBytes(fetchBytes, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if msg := err.Error(); msg != loggedErr {
				c.cfg.Log.Warn("fetching records from the stream", "err", err)
				loggedErr = msg
			}
			sleep(ctx, time.Second)
			continue
		}
		var b batch
		for m := range mb.Messages() {
			c.received.Add(1)
			vantage := strings.TrimPrefix(m.Subject(), ResultsPrefix)
			recs, err := decodeMessage(vantage, m.Headers(), m.Data())
			if err == nil {
				err = checkMessageID(vantage, m.Headers().Get(jetstream.MsgIDHeader))
			}
			if err != nil {
				c.refuse(m, err)
				continue
			}
			b.recs = append(b.recs, recs)
			b.msgs = append(b.msgs, m)
		}
		if err := mb.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			if msg := err.Error(); msg != loggedErr {
				c.cfg.Log.Warn("fetching records from the stream", "err", err)
				loggedErr = msg
			}
		} else {
			loggedErr = ""
		}
		if len(b.msgs) == 0 {
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			// Not stored, so not acknowledged: the stream delivers them again.
			return nil
		}
	}
	return nil
}

// refuse terminates m, which is never delivered again, and counts it.
func (c *Collector) refuse(m jetstream.Msg, err error) {
	c.refused.Add(1)
	c.cfg.Log.Warn("message refused", "subject", m.Subject(), "err", err)
	if err := m.Term(); err != nil {
		c.cfg.Log.Warn("terminating a refused message", "err", err)
	}
}

// store writes b to the store, retrying until it is committed, then
// acknowledges it. When the store refuses a record of b, b is halved until
// the message that holds it stands alone: that one is refused, the others
// are stored.
func (c *Collector) store(ctx context.Context, b batch) {
	wait := 100 * time.Millisecond
	defer c.stalled.Store(false)
	for {
		recs := b.records()
		start := time.Now()
		// The store's own context is not ctx: a batch taken is finished.
		n, err := c.cfg.Store.Ingest(context.WithoutCancel(ctx), recs)
		if err == nil {
			c.stalled.Store(false)
			c.ingestNanos.Add(int64(time.Since(start)))
			c.batches.Add(1)
			c.stored.Add(uint64(n))
			for _, m := range b.msgs {
				if err := m.Ack(); err != nil {
					// The record is stored; the stream delivers it again
					// and the store drops the copy.
					c.cfg.Log.Warn("acknowledging a stored record", "err", err)
					break
				}
			}
			c.count(recs)
			return
		}
		if errors.Is(err, store.ErrInvalidRecord) {
			if len(b.msgs) == 1 {
				c.refuse(b.msgs[0], err)
				return
			}
			first, second := b.split()
			c.store(ctx, first)
			c.store(ctx, second)
			return
		}
		c.stalled.Store(true)
		c.storeErrors.Add(1)
		c.cfg.Log.Error("storing records from the stream; retrying", "records", len(recs), "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return // not acknowledged: delivered again after a restart
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (c *Collector) count(recs []results.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		c.byVantage[r.Vantage]++
		if r.Time.After(c.lastRecord[r.Vantage]) {
			c.lastRecord[r.Vantage] = r.Time
		}
		if c.oldest.IsZero() || r.Time.Before(c.oldest) {
			c.oldest = r.Time
		}
	}
}

// TakeOldest returns the time of the oldest record stored since the last
// call (zero when none was), and starts over: what a refresh of the verdicts
// must reach back to, for records a node sends late.
func (c *Collector) TakeOldest() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.oldest
	c.oldest = time.Time{}
	return t
}

// Stats returns the running totals.
func (c *Collector) Stats() CollectorStats {
	return CollectorStats{
		Received:      c.received.Load(),
		Stored:        c.stored.Load(),
		Refused:       c.refused.Load(),
		Batches:       c.batches.Load(),
		IngestSeconds: time.Duration(c.ingestNanos.Load()).Seconds(),
		StoreErrors:   c.storeErrors.Load(),
		Stalled:       c.stalled.Load(),
	}
}

// VantageCounts returns, per vantage, the records taken from the stream and
// stored (copies included) since the collector started, and the time of the
// newest.
func (c *Collector) VantageCounts() (counts map[string]uint64, newest map[string]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts = make(map[string]uint64, len(c.byVantage))
	newest = make(map[string]time.Time, len(c.lastRecord))
	for k, v := range c.byVantage {
		counts[k] = v
	}
	for k, v := range c.lastRecord {
		newest[k] = v
	}
	return counts, newest
}

// Pending returns how many records wait in the stream for the collector.
func (c *Collector) Pending(ctx context.Context) (uint64, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
