package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"darkwatch/internal/testenv"
	"darkwatch/results"
	"darkwatch/results/store"
)

func logTo(w *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openStore(t *testing.T, name string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var t0 = time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)

func records(vantage string, round int64, n int) []results.Record {
	recs := make([]results.Record, n)
	for i := range recs {
		recs[i] = results.Record{Time: t0.Add(time.Duration(round)*time.Minute + time.Duration(i)*time.Microsecond),
			Vantage: vantage, Round: round, Method: results.MethodICMP,
			Target: fmt.Sprintf("198.18.%d.%d", i/256%256, i%256), Seq: i / 65536, Outcome: results.OutcomeReply, RTTms: 0.2}
	}
	return recs
}

func countVantage(t *testing.T, st *store.Store, vantage string) int {
	t.Helper()
	n := 0
	if err := st.EachRecord(context.Background(), store.Query{Vantage: vantage}, func(results.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// collectorAt starts the embedded server on listen with storeDir and a
// collector writing to st; stop stops both.
func collectorAt(t *testing.T, listen, storeDir string, st *store.Store, nodes []NodeUser, log *slog.Logger) (srv *Server, stop func()) {
	t.Helper()
	return collectorWith(t, ServerConfig{Listen: listen, StoreDir: storeDir, Nodes: nodes, Log: log}, st)
}

// collectorWith starts the embedded server as cfg says and a collector
// writing to st; stop stops both.
func collectorWith(t *testing.T, cfg ServerConfig, st *store.Store) (srv *Server, stop func()) {
	t.Helper()
	log := cfg.Log
	srv, err := StartServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := NewCollector(ctx, nc, CollectorConfig{Store: st, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return srv, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
		nc.Close()
		srv.Shutdown()
	}
}

func startNode(t *testing.T, cfg NodeConfig) *Node {
	t.Helper()
	cfg.MaxBackoff = 2 * time.Second
	cfg.Heartbeat = 200 * time.Millisecond
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// TestDeliveryAcrossCollectorRestart queues records on a node, stops the
// collector, queues more and starts it again: the collector's store ends
// with every record once and the node's outbox empty.
func TestDeliveryAcrossCollectorRestart(t *testing.T) {
	var logs testenv.Buffer
	log := logTo(&logs)
	central := openStore(t, "collector.db")
	local := openStore(t, "node.db")
	jsDir := t.TempDir()
	nodes := []NodeUser{{Vantage: "vp1", Password: "vp1-secret"}}
	srv, stop := collectorAt(t, "127.0.0.1:0", jsDir, central, nodes, log)
	addr := srv.Addr().String()

	n := startNode(t, NodeConfig{Vantage: "vp1", URL: "nats://" + addr, User: "vp1", Password: "vp1-secret", Store: local, Log: log})
	ctx := context.Background()
	if _, err := local.IngestQueued(ctx, records("vp1", 1, 5000)); err != nil {
		t.Fatal(err)
	}
	n.Wake()
	waitFor(t, 20*time.Second, "first 5000 records not in the collector's store", func() bool { return countVantage(t, central, "vp1") == 5000 })

	stop()
	if _, err := local.IngestQueued(ctx, records("vp1", 2, 3000)); err != nil {
		t.Fatal(err)
	}
	n.Wake()
	time.Sleep(1500 * time.Millisecond) // the node tries and fails meanwhile
	if l, _ := local.OutboxLen(ctx, ""); l != 3000 {
		t.Fatalf("outbox holds %d while the collector is away, want 3000", l)
	}
	_, stop = collectorAt(t, addr, jsDir, central, nodes, log)
	defer stop()
	waitFor(t, 30*time.Second, "records queued during the outage not delivered", func() bool {
		l, _ := local.OutboxLen(ctx, "")
		return countVantage(t, central, "vp1") == 8000 && l == 0
	})
	st := n.Stats()
	if st.Delivered < 8000 {
		t.Errorf("node counts %d delivered, want at least 8000", st.Delivered)
	}
	waitFor(t, 5*time.Second, "no heartbeat answered", func() bool { return !n.Stats().LastHeartbeat.IsZero() })
	if st := n.Stats(); st.Offsetms < -50 || st.Offsetms > 50 {
		t.Errorf("clock offset %v ms on one machine", st.Offsetms)
	}
	if strings.Contains(logs.String(), "vp1-secret") {
		t.Error("a password is in the log")
	}
}

// TestRefusals: a wrong password is refused and logged on both sides; a node
// publishing on another vantage's subject is refused; an nkey user is let in.
func TestRefusals(t *testing.T) {
	var srvLog, badLog, crossLog testenv.Buffer
	central := openStore(t, "collector.db")
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	nodes := []NodeUser{{Vantage: "vp1", Password: "right"}, {Vantage: "vp2", Password: "two"}, {Vantage: "vp3", Nkey: pub}}
	srv, stop := collectorAt(t, "127.0.0.1:0", t.TempDir(), central, nodes, logTo(&srvLog))
	defer stop()
	url := "nats://" + srv.Addr().String()
	ctx := context.Background()

	bad := openStore(t, "bad.db")
	bad.IngestQueued(ctx, records("vp1", 1, 10))
	startNode(t, NodeConfig{Vantage: "vp1", URL: url, User: "vp1", Password: "wrong", Store: bad, Log: logTo(&badLog)})

	// vp1's credentials, but records of vp2: published on vp2's subject.
	cross := openStore(t, "cross.db")
	cross.IngestQueued(ctx, records("vp2", 1, 10))
	startNode(t, NodeConfig{Vantage: "vp2", URL: url, User: "vp1", Password: "right", Store: cross, Log: logTo(&crossLog)})

	nk := openStore(t, "nkey.db")
	nk.IngestQueued(ctx, records("vp3", 1, 10))
	startNode(t, NodeConfig{Vantage: "vp3", URL: url, NkeySeed: seed, Store: nk, Log: logTo(&srvLog)})

	waitFor(t, 15*time.Second, "the nkey node's records not delivered", func() bool { return countVantage(t, central, "vp3") == 10 })
	waitFor(t, 15*time.Second, "the wrong password not logged by the node", func() bool {
		return strings.Contains(badLog.String(), "collector refused") && strings.Contains(badLog.String(), "Authorization Violation")
	})
	waitFor(t, 15*time.Second, "the wrong password not logged by the server:\n"+srvLog.String(), func() bool {
		return strings.Contains(strings.ToLower(srvLog.String()), "authentication error - user")
	})
	waitFor(t, 15*time.Second, "the publication on another vantage's subject not logged by the server", func() bool {
		return strings.Contains(srvLog.String(), `Publish Violation`) && strings.Contains(srvLog.String(), ResultSubject("vp2"))
	})
	waitFor(t, 15*time.Second, "the refused publication not logged by the node", func() bool {
		return strings.Contains(crossLog.String(), "ermissions violation")
	})
	for _, v := range []string{"vp1", "vp2"} {
		if n := countVantage(t, central, v); n != 0 {
			t.Errorf("%d records of %s reached the store", n, v)
		}
	}
	for name, st := range map[string]*store.Store{"wrong password": bad, "other subject": cross} {
		if l, _ := st.OutboxLen(ctx, ""); l != 10 {
			t.Errorf("%s: outbox %d, want all 10 kept", name, l)
		}
	}
	if strings.Contains(srvLog.String()+badLog.String()+crossLog.String(), "wrong") {
		t.Error("a password is in a log")
	}
}

// TestMessages packs outbox batches into messages and reads them back, and
// refuses what a node may not send.
func TestMessages(t *testing.T) {
	// 300 batches of 100 records: more than one message's worth.
	var batches []store.Batch
	var all []results.Record
	for i := range 300 {
		recs := records("vp1", int64(i), 100)
		batches = append(batches, store.Batch{ID: fmt.Sprintf("b%d", i), Vantage: "vp1", Len: len(recs),
			Packed: results.PackRecords(nil, recs)})
		all = append(all, recs...)
	}
	msgs := packMessages("vp1", nil, batches)
	if len(msgs) < 2 {
		t.Fatalf("%d messages for 30,000 records, want several of at most %d bytes", len(msgs), messageBytes)
	}
	var got []results.Record
	ids := map[string]bool{}
	nb := 0
	for _, m := range msgs {
		if len(m.body) > messageBytes {
			t.Errorf("message %s is %d bytes, over %d", m.id, len(m.body), messageBytes)
		}
		if ids[m.id] {
			t.Errorf("two messages have id %s", m.id)
		}
		ids[m.id] = true
		nb += len(m.batches)
		recs, err := decodeMessage("vp1", nats.Header{FormatHeader: []string{FormatPacked}}, m.body)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != m.records {
			t.Errorf("message %s: %d records, want %d", m.id, len(recs), m.records)
		}
		got = append(got, recs...)
	}
	if nb != len(batches) || !reflect.DeepEqual(got, all) {
		t.Errorf("messages carry %d batches and %d records; want %d and the records as queued", nb, len(got), len(batches))
	}
	// On another node's subject, packed records are that node's: the
	// subject, not the body, names the vantage.
	if recs, err := decodeMessage("vp2", nats.Header{FormatHeader: []string{FormatPacked}}, msgs[0].body); err != nil || recs[0].Vantage != "vp2" {
		t.Errorf("packed records on vp2's subject: %v, %v", recs[0].Vantage, err)
	}

	r := records("vp1", 1, 1)[0]
	body, _ := json.Marshal(&r)
	packed := msgs[0].body
	for _, tc := range []struct {
		name    string
		vantage string
		format  string
		body    []byte
		ok      bool
	}{
		{"a JSON record", "vp1", "", body, true},
		{"a JSON record of vp1 on vp2's subject", "vp2", "", body, false},
		{"broken JSON", "vp1", "", []byte("{"), false},
		{"a JSON record without target", "vp1", "", []byte(`{"vantage":"vp1"}`), false},
		{"an unknown format", "vp1", "packed/9", packed, false},
		{"a batch cut short", "vp1", FormatPacked, packed[:len(packed)-1], false},
		{"a length past the end", "vp1", FormatPacked, []byte{0xff, 0x01, 1}, false},
		{"a corrupt batch", "vp1", FormatPacked, []byte{2, 9, 9}, false},
		{"nothing", "vp1", FormatPacked, nil, true},
	} {
		h := nats.Header{}
		if tc.format != "" {
			h.Set(FormatHeader, tc.format)
		}
		_, err := decodeMessage(tc.vantage, h, tc.body)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestMessagesCarryDNSAnswers: a DNS record's answer section, SOA serial,
// NSID and source address travel from node to collector in packed messages.
func TestMessagesCarryDNSAnswers(t *testing.T) {
	r := results.Record{Time: time.Date(2026, 12, 6, 3, 0, 0, 123456789, time.UTC), Vantage: "vp1", Round: 7,
		Method: results.MethodDNS, Target: "198.18.0.53", Port: 53, Seq: 1, Source: "192.0.2.10",
		Outcome: results.OutcomeReply, RTTms: 0.5, Qname: "dw.example.", Qtype: "SOA", Rcode: "NOERROR",
		AA: results.Bool(true), Answers: results.Int(1), Serial: results.Uint32(1), NSID: "6461726b77617463682d6c6162",
		Answer: []results.RR{{Name: "dw.example.", Type: "SOA", TTL: 300,
			Data: "ns.dw.example. hostmaster.dw.example. 1 3600 600 86400 300"}}}
	batches := []store.Batch{{ID: "b0", Vantage: "vp1", Len: 1, Packed: results.PackRecords(nil, []results.Record{r})}}
	msgs := packMessages("vp1", nil, batches)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	got, err := decodeMessage("vp1", nats.Header{FormatHeader: []string{FormatPacked}}, msgs[0].body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], r) {
		t.Errorf("got %+v\nwant %+v", got, r)
	}
}
