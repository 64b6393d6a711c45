package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"darkwatch/results"
	"darkwatch/results/store"
)

// pendingCollector starts the embedded server and a collector that has made
// its stream but does not consume yet: what is published before run is
// taken in one fetch.
func pendingCollector(t *testing.T, cfg CollectorConfig, nodes []NodeUser) (srv *Server, col *Collector, run func()) {
	t.Helper()
	srv, err := StartServer(ServerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	col, err = NewCollector(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	started := false
	t.Cleanup(func() {
		cancel()
		if started {
			if err := <-done; err != nil {
				t.Errorf("collector: %v", err)
			}
		}
		nc.Close()
		srv.Shutdown()
	})
	return srv, col, func() {
		started = true
		go func() { done <- col.Run(ctx) }()
	}
}

// publisher connects as a node and publishes raw messages on its subject,
// waiting for the stream's acknowledgement.
func publisher(t *testing.T, srv *Server, user, password string) func(subject, id string, h nats.Header, body []byte) {
	t.Helper()
	nc, err := nats.Connect("nats://"+srv.Addr().String(), nats.UserInfo(user, password),
		nats.CustomInboxPrefix(InboxPrefix(user)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return func(subject, id string, h nats.Header, body []byte) {
		t.Helper()
		if h == nil {
			h = nats.Header{}
		}
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Header: h, Data: body},
			jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publishing %s: %v", id, err)
		}
	}
}

func packed(recs []results.Record) (nats.Header, []byte) {
	p := results.PackRecords(nil, recs)
	var body []byte
	body = fmt.Appendf(body, "%c", len(p)) // uvarint of a length below 128
	if len(p) >= 128 {
		panic("packed test batch too long")
	}
	return nats.Header{FormatHeader: []string{FormatPacked}}, append(body, p...)
}

// TestPoisonedMessage: messages of three vantages, among them records the
// store refuses (a year-3000 time, an empty target, packed or JSON), all in
// one fetch: every good record is stored, each bad message is refused once
// and counted, and the collector goes on taking what comes next.
func TestPoisonedMessage(t *testing.T) {
	central := openStore(t, "collector.db")
	nodes := []NodeUser{{Vantage: "vp1", Password: "p1"}, {Vantage: "vp2", Password: "p2"}, {Vantage: "vp3", Password: "p3"}}
	srv, col, run := pendingCollector(t, CollectorConfig{Store: central}, nodes)
	pub := map[string]func(string, string, nats.Header, []byte){}
	for _, n := range nodes {
		pub[n.Vantage] = publisher(t, srv, n.Vantage, n.Password)
	}
	good := 0
	for i, v := range []string{"vp1", "vp2", "vp3"} {
		for round := int64(1); round <= 3; round++ {
			h, body := packed(records(v, round, 3))
			pub[v](ResultSubject(v), fmt.Sprintf("%s:good%d", v, round), h, body)
			good += 3
		}
		_ = i
	}
	future := records("vp2", 9, 1)[0]
	future.Time = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	body, _ := json.Marshal(&future)
	pub["vp2"](ResultSubject("vp2"), "vp2:year3000", nil, body)
	noTarget := records("vp1", 9, 2)
	noTarget[1].Target = ""
	h, pb := packed(noTarget)
	pub["vp1"](ResultSubject("vp1"), "vp1:notarget", h, pb)
	nul := records("vp3", 9, 1)
	nul[0].Error = "a\x00b"
	h, pb = packed(nul)
	pub["vp3"](ResultSubject("vp3"), "vp3:nul", h, pb)
	run()

	waitFor(t, 20*time.Second, "good records not stored", func() bool {
		return countVantage(t, central, "vp1")+countVantage(t, central, "vp2")+countVantage(t, central, "vp3") == good
	})
	waitFor(t, 10*time.Second, "bad messages not refused", func() bool { return col.Stats().Refused == 3 })
	h, pb = packed(records("vp3", 10, 3))
	pub["vp3"](ResultSubject("vp3"), "vp3:after", h, pb)
	waitFor(t, 10*time.Second, "a record sent after the poison not stored", func() bool { return countVantage(t, central, "vp3") == 12 })
	if s := col.Stats(); s.Refused != 3 || s.StoreErrors != 0 || s.Stalled {
		t.Errorf("stats %+v, want 3 refused, no store error, not stalled", s)
	}
	// Acknowledgements reach the server after the store has the records, so
	// the stream is read until it settles.
	waitFor(t, 10*time.Second, "messages still pending: the refused are terminated, the stored acknowledged", func() bool {
		n, err := col.Pending(context.Background())
		return err == nil && n == 0
	})
}

// refusingStore refuses, as invalid, any batch that holds a record of target
// bad: a store whose rules the decoder does not know.
type refusingStore struct {
	*store.Store
	bad string
}

func (s refusingStore) Ingest(ctx context.Context, recs []results.Record) (int, error) {
	for i, r := range recs {
		if r.Target == s.bad {
			return 0, fmt.Errorf("store: record %d: %w: refused", i, store.ErrInvalidRecord)
		}
	}
	return s.Store.Ingest(ctx, recs)
}

// TestBatchSplit: when the store refuses a batch for one record, the batch is
// halved until that record's message stands alone; it alone is refused.
func TestBatchSplit(t *testing.T) {
	central := openStore(t, "collector.db")
	const bad = "198.18.66.66"
	nodes := []NodeUser{{Vantage: "vp1", Password: "p1"}}
	srv, col, run := pendingCollector(t, CollectorConfig{Store: refusingStore{central, bad}}, nodes)
	pub := publisher(t, srv, "vp1", "p1")
	want := 0
	for round := int64(1); round <= 7; round++ {
		recs := records("vp1", round, 3)
		if round == 4 {
			recs[2].Target = bad
		} else {
			want += 3
		}
		h, body := packed(recs)
		pub(ResultSubject("vp1"), fmt.Sprintf("vp1:%d", round), h, body)
	}
	run()
	waitFor(t, 20*time.Second, "good records not stored", func() bool { return countVantage(t, central, "vp1") == want })
	waitFor(t, 10*time.Second, "the bad message not refused", func() bool { return col.Stats().Refused == 1 })
	if s := col.Stats(); s.Stalled || s.StoreErrors != 0 {
		t.Errorf("stats %+v: an invalid record is not a store error", s)
	}
}

// TestMessageIDsPerVantage: another node publishes, first, messages with the
// ids it can guess of vp1's: vp1's messages are still stored, and the ones
// naming vp1 on vp2's subject are refused.
func TestMessageIDsPerVantage(t *testing.T) {
	central := openStore(t, "collector.db")
	local := openStore(t, "node.db")
	nodes := []NodeUser{{Vantage: "vp1", Password: "p1"}, {Vantage: "vp2", Password: "p2"}}
	srv, col, run := pendingCollector(t, CollectorConfig{Store: central}, nodes)
	run()
	ctx := context.Background()
	if _, err := local.IngestQueued(ctx, records("vp1", 1, 50)); err != nil {
		t.Fatal(err)
	}
	batches, err := local.Outbox(ctx, "vp1", 1000)
	if err != nil || len(batches) == 0 {
		t.Fatalf("outbox: %v, %v", batches, err)
	}
	evil := publisher(t, srv, "vp2", "p2")
	h, body := packed(records("vp2", 1, 1))
	plain := batches[0].ID + "+" + fmt.Sprint(len(batches))
	for _, id := range []string{plain, "vp1:" + plain, messageID("vp1", nil, plain)} {
		evil(ResultSubject("vp2"), id, h, body)
	}
	startNode(t, NodeConfig{Vantage: "vp1", URL: "nats://" + srv.Addr().String(), User: "vp1", Password: "p1", Store: local})
	waitFor(t, 20*time.Second, "vp1's records not stored: another node's message took their id", func() bool {
		return countVantage(t, central, "vp1") == 50
	})
	waitFor(t, 10*time.Second, "messages naming vp1 on vp2's subject not refused", func() bool { return col.Stats().Refused >= 2 })

	a := messageID("vp1", idKey([]byte("p1")), plain)
	b := messageID("vp2", idKey([]byte("p2")), plain)
	if !strings.HasPrefix(a, "vp1:") || !strings.HasPrefix(b, "vp2:") || a[4:] == b[4:] {
		t.Errorf("ids %q and %q: want each vantage's prefix and keys apart", a, b)
	}
	if checkMessageID("vp2", a) == nil || checkMessageID("vp1", a) != nil || checkMessageID("vp1", "vp1/1/icmp/198.18.0.1/0/0@1+1") != nil {
		t.Error("checkMessageID takes another vantage's id or refuses its own")
	}
}

// TestStreamLimits: the stream takes the configured limits and refuses new
// messages when full rather than dropping records the nodes let go.
func TestStreamLimits(t *testing.T) {
	central := openStore(t, "collector.db")
	srv, _, _ := pendingCollector(t, CollectorConfig{Store: central, MaxBytes: 1 << 20, MaxAge: time.Hour}, nil)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxBytes != 1<<20 || c.MaxAge != time.Hour || c.Discard != jetstream.DiscardNew {
		t.Errorf("stream limits %d bytes, %v, discard %v; want 1 MiB, 1h, new", c.MaxBytes, c.MaxAge, c.Discard)
	}
}
