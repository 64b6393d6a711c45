package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// The lab tests of the collector: three nodes (`darkwatch run`) in the three
// vantage namespaces send to `darkwatch serve` in the col namespace, through a
// collector outage, a node crash, a wrong password and a node that publishes
// on another vantage's subject.

// proc is a darkwatch (or nats-server) process of the test.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *testenv.Buffer
}

func startProc(t *testing.T, l *lab.Lab, node, name string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: l.Command(t.Context(), node, bin, args...), log: &testenv.Buffer{}}
	p.cmd.Stderr, p.cmd.Stdout = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// kill stops the process with sig and waits for it.
func (p *proc) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	// ip netns exec execs the command, so the pid is the command's own.
	_ = p.cmd.Process.Signal(sig)
	err := p.cmd.Wait()
	if sig == syscall.SIGTERM && err != nil {
		t.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", p.name, err, p.log)
	}
}

// waitLog waits until the process's log matches re.
func (p *proc) waitLog(t *testing.T, d time.Duration, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for !rx.MatchString(p.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line matching %q in %v:\n%s", p.name, re, d, p.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// storeIDs returns the record ids of a store, by vantage.
func storeIDs(t *testing.T, dsn string) map[string]map[string]bool {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := map[string]map[string]bool{}
	err = st.EachRecord(context.Background(), store.Query{}, func(r results.Record) error {
		if ids[r.Vantage] == nil {
			ids[r.Vantage] = map[string]bool{}
		}
		ids[r.Vantage][r.ID()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func outboxLen(t *testing.T, dsn string) int64 {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.OutboxLen(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// consoleMessage is how Chromium logs a page's console messages and uncaught
// errors with --enable-logging=stderr (as results/report's Chromium test reads them).
var consoleMessage = regexp.MustCompile(`:CONSOLE[:(]\d+|Uncaught`)

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const labCollectorBase = `allow: [198.18.0.0/15]
metrics: "off"
round: 2s
quorum: 2
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 500ms}
canaries: [{addr: 198.19.255.1, methods: [icmp]}]
vantages: [vp1, vp2, vp3]
`

const labCollectorTargets = `targets:
  - name: lab
    prefixes: [198.18.0.0/24]
    asn: 64500
    country: ZZ
    methods: [icmp, "tcp:80", trace]
    trace_every: 1
`

// TestLabCollector runs the scenario against the NATS server embedded in
// `darkwatch serve` and against Debian's nats-server, side by side.
func TestLabCollector(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		labCollector(t, false)
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("nats-server"); err != nil {
			if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
				lab.Missing(t, "nats-server not found: install the Debian package nats-server (scripts/install-deps.sh)")
			}
		}
		labCollector(t, true)
	})
}

func labCollector(t *testing.T, external bool) {
	l := lab.Start(t)
	bin := lab.Binary(t)
	dir := t.TempDir()
	natsURL := "nats://" + lab.Collector4 + ":4222"
	token := "dashboard-token-" + l.Prefix
	pass := func(v string) string { return "secret-" + v + "-" + l.Prefix }
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		writeFile(t, filepath.Join(dir, v+".pass"), pass(v)+"\n")
	}
	writeFile(t, filepath.Join(dir, "wrong.pass"), "not-the-password\n")
	writeFile(t, filepath.Join(dir, "api.token"), token+"\n")
	writeFile(t, filepath.Join(dir, "collector.pass"), "collector-secret\n")

	colDB := "sqlite://" + filepath.Join(dir, "collector.db")
	// The lab is an isolated network: NATS in clear is allowed, explicitly.
	natsSection := fmt.Sprintf(`  nats:
    listen: %s:4222
    insecure_plaintext: true
    store_dir: %s
    nodes:
      - {user: vp1, password_file: %s/vp1.pass}
      - {user: vp2, password_file: %s/vp2.pass}
      - {user: vp3, password_file: %s/vp3.pass}
`, lab.Collector4, filepath.Join(dir, "jetstream"), dir, dir, dir)
	var natsConf string
	if external {
		natsSection = fmt.Sprintf(`  nats:
    url: %s
    insecure_plaintext: true
    user: collector
    password_file: %s/collector.pass
`, natsURL, dir)
		perm := func(v string) string {
			return fmt.Sprintf(`    {user: %s, password: "%s", permissions: {publish: ["%s", "%s"], subscribe: ["%s.>"]}}
`, v, pass(v), transport.ResultSubject(v), transport.HeartbeatSubject(v), transport.InboxPrefix(v))
		}
		natsConf = writeFile(t, filepath.Join(dir, "nats-server.conf"), fmt.Sprintf(`listen: "%s:4222"
max_payload: %d
jetstream { store_dir: "%s" }
authorization {
  users: [
    {user: collector, password: "collector-secret"}
%s%s%s  ]
}
`, lab.Collector4, transport.MaxPayload, filepath.Join(dir, "nats-server"), perm("vp1"), perm("vp2"), perm("vp3")))
	}
	colCfg := writeFile(t, filepath.Join(dir, "collector.yaml"), labCollectorBase+labCollectorTargets+`store: `+colDB+`
serve:
  listen: `+lab.Collector4+`:8080
  refresh: 2s
  window: 1h
  tokens: [{name: test, file: `+dir+`/api.token}]
`+natsSection)

	nodeDB := func(v string) string { return "sqlite://" + filepath.Join(dir, v+".db") }
	nodeCfg := func(name, vantage, user, passFile, targets string) string {
		return writeFile(t, filepath.Join(dir, name+".yaml"), labCollectorBase+targets+`store: `+nodeDB(name)+`
collector: {url: "`+natsURL+`", user: `+user+`, password_file: `+passFile+`, heartbeat: 1s, insecure_plaintext: true}
`)
	}

	var natsProc *proc
	startNATS := func() {
		if external {
			natsProc = startProc(t, l, "col", "nats-server", "nats-server", "-c", natsConf)
			natsProc.waitLog(t, 20*time.Second, "Server is ready")
		}
	}
	startCollector := func() *proc {
		p := startProc(t, l, "col", "serve", bin, "--config", colCfg, "serve")
		p.waitLog(t, 30*time.Second, `msg=serving`)
		return p
	}
	startNATS()
	col := startCollector()
	nodes := map[string]*proc{}
	startNode := func(v string) {
		nodes[v] = startProc(t, l, v, v, bin, "--config", nodeCfg(v, v, v, filepath.Join(dir, v+".pass"), labCollectorTargets),
			"--vantage", v, "run", "--cooldown", "500ms")
	}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		startNode(v)
	}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		nodes[v].waitLog(t, 20*time.Second, "connected to the collector")
	}
	time.Sleep(4 * time.Second)

	// The collector goes away for 20 s; the border is cut meanwhile.
	col.kill(t, syscall.SIGKILL)
	if external {
		natsProc.kill(t, syscall.SIGKILL)
	}
	down := time.Now()
	t.Logf("collector killed at %s", down.Format(time.RFC3339Nano))
	time.Sleep(2 * time.Second)
	l.Fault(t, "border-cut")
	cutStart := time.Now()
	time.Sleep(12 * time.Second)
	l.Restore(t)
	cutEnd := time.Now()
	time.Sleep(time.Until(down.Add(20 * time.Second)))
	startNATS()
	col = startCollector()
	t.Logf("collector back after %v", time.Since(down).Round(time.Millisecond))
	defer col.kill(t, syscall.SIGTERM)

	// A node crashes and comes back with its store.
	time.Sleep(3 * time.Second)
	nodes["vp2"].kill(t, syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	startNode("vp2")

	// A node with a wrong password, and one that publishes on another
	// vantage's subject (vp1's credentials, vantage vp2), probing prefixes
	// of their own so that any of their records would show in the
	// collector's store.
	rogueTargets := func(prefix string) string {
		return "targets:\n  - {name: rogue, prefixes: [" + prefix + "], methods: [icmp]}\n"
	}
	badPass := startProc(t, l, "vp3", "wrong-password", bin, "--config",
		nodeCfg("wrongpass", "vp1", "vp1", filepath.Join(dir, "wrong.pass"), rogueTargets("198.18.201.0/28")),
		"--vantage", "vp1", "run", "--cooldown", "500ms")
	cross := startProc(t, l, "vp3", "other-subject", bin, "--config",
		nodeCfg("othersubject", "vp2", "vp1", filepath.Join(dir, "vp1.pass"), rogueTargets("198.18.202.0/28")),
		"--vantage", "vp2", "run", "--cooldown", "500ms")
	badPass.waitLog(t, 20*time.Second, `collector refused user \\"vp1\\".*(?i:authorization violation)`)
	cross.waitLog(t, 20*time.Second, `(?i)permissions violation for publish to \\"darkwatch.results.vp2\\"`)
	if external {
		natsProc.waitLog(t, 10*time.Second, `(?i)authentication error - user "vp1"`)
		natsProc.waitLog(t, 10*time.Second, `Publish Violation - (User "vp1", )?Subject "darkwatch.results.vp2"`)
	} else {
		col.waitLog(t, 10*time.Second, `(?i)authentication error - user \\"vp1\\"`)
		col.waitLog(t, 10*time.Second, `Publish Violation - Subject \\"darkwatch.results.vp2\\"`)
	}
	time.Sleep(4 * time.Second)
	for _, p := range []*proc{badPass, cross} {
		p.kill(t, syscall.SIGTERM)
	}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		nodes[v].kill(t, syscall.SIGTERM)
	}

	// Every node's records are in the collector's store, once. Records the
	// killed collector had in hand come again after transport.AckWait.
	const settle = 3 * transport.AckWait
	deadline := time.Now().Add(settle)
	for {
		got := storeIDs(t, colDB)
		var diffs, summary []string
		for _, v := range []string{"vp1", "vp2", "vp3"} {
			want := storeIDs(t, nodeDB(v))[v]
			missing, extra := 0, 0
			for id := range want {
				if !got[v][id] {
					missing++
				}
			}
			for id := range got[v] {
				if !want[id] {
					extra++
				}
			}
			if len(want) == 0 || missing > 0 || extra > 0 || outboxLen(t, nodeDB(v)) != 0 {
				diffs = append(diffs, fmt.Sprintf("%s: node %d, collector %d, missing %d, extra %d, outbox %d",
					v, len(want), len(got[v]), missing, extra, outboxLen(t, nodeDB(v))))
			} else {
				summary = append(summary, fmt.Sprintf("%s: node %d records, collector %d: 0 lost, 0 extra", v, len(want), len(got[v])))
			}
		}
		if len(diffs) == 0 {
			t.Log(strings.Join(summary, "; "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the collector's store differs from the nodes':\n%s\ncollector log:\n%s",
				settle, strings.Join(diffs, "\n"), col.log)
		}
		time.Sleep(time.Second)
	}
	got := storeIDs(t, colDB)
	for v, ids := range got {
		for id := range ids {
			if strings.Contains(id, "/198.18.201.") || strings.Contains(id, "/198.18.202.") {
				t.Fatalf("a refused node's record %s (vantage %s) is in the collector's store", id, v)
			}
		}
	}
	for _, name := range []string{"wrongpass", "othersubject"} {
		if n := outboxLen(t, nodeDB(name)); n == 0 {
			t.Errorf("%s: outbox empty, but nothing may have been acknowledged", name)
		}
	}
	for _, p := range []*proc{col, badPass, cross, nodes["vp1"]} {
		for _, secret := range []string{pass("vp1"), pass("vp2"), token, "collector-secret"} {
			if strings.Contains(p.log.String(), secret) {
				t.Errorf("%s logged a secret", p.name)
			}
		}
	}
	if !external {
		dashboardInChromium(t, l, token, cutStart, cutEnd)
	}
}

// dashboardInChromium loads the collector's dashboard in headless Chromium,
// inside the col namespace, and checks that it shows the three vantages and
// the outage event of the border cut, without console errors.
func dashboardInChromium(t *testing.T, l *lab.Lab, token string, cutStart, cutEnd time.Time) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		lab.Missing(t, "%s not found: install the Debian package chromium to test the dashboard", chromium)
	}
	dir := os.Getenv("DARKWATCH_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	page := "http://" + lab.Collector4 + ":8080/#token=" + token
	browse := func(args ...string) (string, string) {
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
			"--virtual-time-budget=8000"}, args...)
		cmd := l.Command(t.Context(), "col", chromium, append(args, page)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	// The verdicts are recomputed every 2 s: wait for an event that ends.
	var dom string
	event := regexp.MustCompile(`<tr class="event" data-level="prefix" data-entity="198.18.0.0/24" data-kind="outage" data-start="([^"]+)" data-end="([^"]+)"`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var stderr string
		dom, stderr = browse("--dump-dom")
		for _, line := range strings.Split(stderr, "\n") {
			if consoleMessage.MatchString(line) {
				t.Errorf("console message from the dashboard: %s", line)
			}
		}
		if event.MatchString(dom) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		if !strings.Contains(dom, `data-vantage="`+v+`"`) {
			t.Errorf("the dashboard lists no vantage %s", v)
		}
	}
	found := false
	for _, m := range event.FindAllStringSubmatch(dom, -1) {
		start, err1 := time.Parse(time.RFC3339Nano, m[1])
		end, err2 := time.Parse(time.RFC3339Nano, m[2])
		if err1 == nil && err2 == nil && start.Sub(cutStart).Abs() <= 6*time.Second && end.Sub(cutEnd).Abs() <= 6*time.Second {
			found = true
		}
		t.Logf("dashboard event %s to %s (border cut %s to %s)", m[1], m[2], cutStart.Format(time.RFC3339), cutEnd.Format(time.RFC3339))
	}
	if !found {
		t.Errorf("the dashboard shows no prefix outage event matching the border cut; page:\n%s", dom)
	}
	shot := filepath.Join(dir, "dashboard.png")
	if _, stderr := browse("--screenshot=" + shot); stderr != "" {
		if fi, err := os.Stat(shot); err != nil || fi.Size() < 20_000 {
			t.Errorf("no useful screenshot at %s: %v\n%s", shot, err, stderr)
		}
	}
	t.Logf("dashboard screenshot: %s", shot)
}
