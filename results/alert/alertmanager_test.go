package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

// alertmanagerBinary is where Debian's prometheus-alertmanager package puts
// Alertmanager.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

// amNotification is what Alertmanager's webhook receiver is sent.
type amNotification struct {
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
		EndsAt   time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

// amReceiver keeps what Alertmanager notifies.
type amReceiver struct {
	mu   sync.Mutex
	got  []amNotification
	errs []string
}

func (r *amReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n amNotification
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal(b, &n); err != nil {
		r.errs = append(r.errs, fmt.Sprintf("%v: %s", err, b))
		return
	}
	r.got = append(r.got, n)
}

// find returns the first notification of status for entity.
func (r *amReceiver) find(status, entity string) (amNotification, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		if n.Status == status && n.GroupLabels["entity"] == entity {
			return n, true
		}
	}
	return amNotification{}, false
}

// freePort returns a port of 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs Debian's Alertmanager on addr, a 127.0.0.1
// address (its cluster listener off), with a webhook receiver at hook,
// grouping by level and entity, and waits until it is ready. It is stopped
// when the test ends.
func startAlertmanager(t *testing.T, addr, hook string) {
	t.Helper()
	if _, err := os.Stat(alertmanagerBinary); err != nil {
		lab.Missing(t, "%s not found: install the Debian package prometheus-alertmanager (scripts/install-deps.sh)", alertmanagerBinary)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	err := os.WriteFile(conf, []byte(`route:
  receiver: test
  group_by: [level, entity]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: `+hook+`
        send_resolved: true
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedLog
	cmd := exec.Command(alertmanagerBinary, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitFor(t, "alertmanager ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// getJSON decodes the JSON answer of a GET.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestAlertmanager: the notifier fires two events while Alertmanager is
// not yet up, and keeps trying; Alertmanager, once up, holds them in a
// group of their level and entity each (GET /api/v2/alerts and
// /api/v2/alerts/groups) and notifies its webhook receiver that they fire,
// with darkwatch's labels; when the prefix's event ends, the notifier
// re-posts its alert with the end, and Alertmanager notifies that it is
// resolved.
func TestAlertmanager(t *testing.T) {
	rcv := &amReceiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	n, err := New(Options{Config: Config{Alertmanager: []string{base}, Resend: time.Second}, Sets: sets,
		Round: time.Second, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.backoff = func(int) time.Duration { return 200 * time.Millisecond }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now().Add(-3 * time.Minute).Truncate(time.Second).UTC()
	prefix := results.Event{Level: "prefix", Entity: "198.18.0.0/22", Kind: "outage", Start: start}
	asn := results.Event{Level: "asn", Entity: "AS64500", Kind: "partial", Start: start}
	n.Observe(time.Now(), []results.Event{prefix, asn}, []string{"vp1", "vp2"})
	waitFor(t, "a failed post to the Alertmanager that is not up", func() bool {
		return value(t, n.notifications.WithLabelValues("alertmanager", base, "failed")) >= 1
	})
	startAlertmanager(t, addr, hook.URL)

	firing := waitNotification(t, rcv, "firing", prefix.Entity)
	want := map[string]string{"alertname": AlertName, "severity": "critical", "level": "prefix", "entity": prefix.Entity,
		"kind": "outage", "asn": "AS64500", "country": "ZZ", "vantages": "vp1,vp2"}
	checkNotified(t, firing, want, start)
	waitNotification(t, rcv, "firing", asn.Entity)

	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	getJSON(t, base+"/api/v2/alerts", &alerts)
	active := map[string]string{}
	for _, a := range alerts {
		active[a.Labels["entity"]] = a.Status.State + " " + a.Labels["severity"]
	}
	if active[prefix.Entity] != "active critical" || active[asn.Entity] != "active warning" {
		t.Errorf("GET /api/v2/alerts: %v", alerts)
	}
	var groups []struct {
		Labels map[string]string `json:"labels"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	getJSON(t, base+"/api/v2/alerts/groups", &groups)
	grouped := map[string]int{}
	for _, g := range groups {
		for _, a := range g.Alerts {
			if g.Labels["level"] == a.Labels["level"] && g.Labels["entity"] == a.Labels["entity"] && len(g.Labels) == 2 {
				grouped[g.Labels["entity"]]++
			}
		}
	}
	if grouped[prefix.Entity] != 1 || grouped[asn.Entity] != 1 {
		t.Errorf("GET /api/v2/alerts/groups: %+v, want a group of level and entity for each alert", groups)
	}

	end := time.Now().Add(-10 * time.Second).Truncate(time.Second).UTC()
	prefix.End = end
	n.Observe(time.Now(), []results.Event{prefix, asn}, []string{"vp1"})
	resolved := waitNotification(t, rcv, "resolved", prefix.Entity)
	checkNotified(t, resolved, want, start)
	if !resolved.Alerts[0].EndsAt.Equal(end) {
		t.Errorf("resolved at %v, want the event's end %v", resolved.Alerts[0].EndsAt, end)
	}
	if _, ok := rcv.find("resolved", asn.Entity); ok {
		t.Error("the AS's alert resolved, but its event goes on")
	}
	if len(rcv.errs) > 0 {
		t.Errorf("undecodable notifications: %v", rcv.errs)
	}
}

// waitNotification waits, a generous minute, for Alertmanager's
// notification of status for entity.
func waitNotification(t *testing.T, rcv *amReceiver, status, entity string) amNotification {
	t.Helper()
	var n amNotification
	waitFor(t, status+" notification of "+entity, func() bool {
		var ok bool
		n, ok = rcv.find(status, entity)
		return ok
	})
	return n
}

// checkNotified checks that a notification holds one alert, with labels
// want, starting at start.
func checkNotified(t *testing.T, n amNotification, want map[string]string, start time.Time) {
	t.Helper()
	if len(n.Alerts) != 1 {
		t.Fatalf("%s notification of %d alerts, want 1: %+v", n.Status, len(n.Alerts), n)
	}
	a := n.Alerts[0]
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("%s notification: label %s = %q, want %q", n.Status, k, a.Labels[k], v)
		}
	}
	if len(a.Labels) != len(want) || a.Status != n.Status || !a.StartsAt.Equal(start) {
		t.Errorf("%s notification: %+v, want labels %v from %v", n.Status, a, want, start)
	}
}
