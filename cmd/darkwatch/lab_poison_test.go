package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/transport"
)

// poisonTarget is the target of the poisoned record, found nowhere else.
const poisonTarget = "198.18.250.250"

// TestLabPoisonPublisher is not a test of its own: TestLabCollectorPoison runs
// the test binary with it inside a vantage namespace, to publish, with that
// node's credentials, one record the store refuses (a year-3000 time).
func TestLabPoisonPublisher(t *testing.T) {
	url := os.Getenv("DARKWATCH_POISON_URL")
	if url == "" {
		t.Skip("run by TestLabCollectorPoison")
	}
	user, pass := os.Getenv("DARKWATCH_POISON_USER"), os.Getenv("DARKWATCH_POISON_PASS")
	nc, err := nats.Connect(url, nats.UserInfo(user, pass), nats.CustomInboxPrefix(transport.InboxPrefix(user)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r := results.Record{Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Vantage: user, Round: 1,
		Method: results.MethodICMP, Target: poisonTarget, Outcome: results.OutcomeReply}
	body, _ := json.Marshal(&r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: transport.ResultSubject(user), Data: body},
		jetstream.WithMsgID(user+":poison")); err != nil {
		t.Fatal(err)
	}
	fmt.Println("poison published")
}

// TestLabCollectorPoison: three nodes send to `darkwatch serve`; one
// message among theirs holds a record the store refuses. The collector
// refuses that one message, once, stores every good record of every node,
// and goes on doing so across its own restart.
func TestLabCollectorPoison(t *testing.T) {
	l := lab.Start(t)
	bin := lab.Binary(t)
	dir := t.TempDir()
	natsURL := "nats://" + lab.Collector4 + ":4222"
	pass := func(v string) string { return "secret-" + v + "-" + l.Prefix }
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		writeFile(t, filepath.Join(dir, v+".pass"), pass(v)+"\n")
	}
	writeFile(t, filepath.Join(dir, "api.token"), "token-"+l.Prefix+"\n")
	targets := "targets:\n  - {name: lab, prefixes: [198.18.0.0/28], asn: 64500, country: ZZ, methods: [icmp]}\n"
	colDB := "sqlite://" + filepath.Join(dir, "collector.db")
	// The lab is an isolated network: NATS in clear is allowed, explicitly.
	colCfg := writeFile(t, filepath.Join(dir, "collector.yaml"), labCollectorBase+targets+`store: `+colDB+`
serve:
  listen: `+lab.Collector4+`:8080
  refresh: 2s
  window: 1h
  tokens: [{name: test, file: `+dir+`/api.token}]
  nats:
    listen: `+lab.Collector4+`:4222
    insecure_plaintext: true
    store_dir: `+filepath.Join(dir, "jetstream")+`
    nodes:
      - {user: vp1, password_file: `+dir+`/vp1.pass}
      - {user: vp2, password_file: `+dir+`/vp2.pass}
      - {user: vp3, password_file: `+dir+`/vp3.pass}
`)
	nodeDB := func(v string) string { return "sqlite://" + filepath.Join(dir, v+".db") }
	startCollector := func() *proc {
		p := startProc(t, l, "col", "serve", bin, "--config", colCfg, "serve")
		p.waitLog(t, 30*time.Second, `msg=serving`)
		return p
	}
	col := startCollector()
	nodes := map[string]*proc{}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		cfg := writeFile(t, filepath.Join(dir, v+".yaml"), labCollectorBase+targets+`store: `+nodeDB(v)+`
collector: {url: "`+natsURL+`", user: `+v+`, password_file: `+dir+`/`+v+`.pass, heartbeat: 1s, insecure_plaintext: true}
`)
		nodes[v] = startProc(t, l, v, v, bin, "--config", cfg, "--vantage", v, "run", "--cooldown", "500ms")
	}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		nodes[v].waitLog(t, 20*time.Second, "connected to the collector")
	}
	time.Sleep(3 * time.Second)

	// vp2's credentials publish the poison among vp2's own messages.
	poison := l.Command(t.Context(), "vp2", os.Args[0], "-test.run=^TestLabPoisonPublisher$", "-test.v")
	poison.Env = append(os.Environ(), "DARKWATCH_POISON_URL="+natsURL, "DARKWATCH_POISON_USER=vp2",
		"DARKWATCH_POISON_PASS="+pass("vp2"))
	if out, err := poison.CombinedOutput(); err != nil || !strings.Contains(string(out), "poison published") {
		t.Fatalf("publishing the poison: %v\n%s", err, out)
	}
	col.waitLog(t, 15*time.Second, `msg="message refused".*year 3000|msg="message refused".*out of range`)
	time.Sleep(3 * time.Second)

	// The collector restarts; the nodes go on sending.
	first := col.log.String()
	col.kill(t, syscall.SIGTERM)
	col = startCollector()
	defer col.kill(t, syscall.SIGTERM)
	time.Sleep(5 * time.Second)
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		nodes[v].kill(t, syscall.SIGTERM)
	}

	deadline := time.Now().Add(3 * transport.AckWait)
	for {
		got := storeIDs(t, colDB)
		var diffs, summary []string
		for _, v := range []string{"vp1", "vp2", "vp3"} {
			want := storeIDs(t, nodeDB(v))[v]
			missing := 0
			for id := range want {
				if !got[v][id] {
					missing++
				}
			}
			if len(want) == 0 || missing > 0 || outboxLen(t, nodeDB(v)) != 0 {
				diffs = append(diffs, fmt.Sprintf("%s: node %d, collector %d, missing %d, outbox %d",
					v, len(want), len(got[v]), missing, outboxLen(t, nodeDB(v))))
			} else {
				summary = append(summary, fmt.Sprintf("%s: %d records, all stored", v, len(want)))
			}
		}
		if len(diffs) == 0 {
			t.Log(strings.Join(summary, "; "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector's store lacks good records:\n%s\ncollector log:\n%s\nbefore the restart:\n%s",
				strings.Join(diffs, "\n"), col.log, first)
		}
		time.Sleep(time.Second)
	}
	for v, ids := range storeIDs(t, colDB) {
		for id := range ids {
			if strings.Contains(id, "/"+poisonTarget+"/") {
				t.Errorf("the poisoned record %s of %s is in the store", id, v)
			}
		}
	}
	if n := strings.Count(first, `msg="message refused"`); n != 1 {
		t.Errorf("the poison refused %d times before the restart, want once:\n%s", n, first)
	}
	if strings.Contains(col.log.String(), `msg="message refused"`) || strings.Contains(col.log.String(), "retrying") {
		t.Errorf("after the restart the poison came back or the store stalled:\n%s", col.log)
	}
}
