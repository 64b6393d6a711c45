package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results/alert"
)

// The lab test of alerts: three nodes send to `darkwatch serve`, which sends
// its events to Debian's Alertmanager and to a webhook, all in the col
// namespace; a border cut must reach both as a firing prefix outage, and
// as resolved once the cut heals.

// alertmanagerBin is where Debian's prometheus-alertmanager package puts
// Alertmanager.
const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

// notifiedAlert is one alert of an Alertmanager webhook notification.
type notifiedAlert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
}

// alertSink is the test's receiver, in the col namespace: Alertmanager's
// notifications on /alertmanager, darkwatch's webhook messages on
// /darkwatch.
type alertSink struct {
	mu    sync.Mutex
	am    []notifiedAlert
	hook  []alert.Message
	other []string
}

func (s *alertSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch r.URL.Path {
	case "/alertmanager":
		var n struct {
			Alerts []notifiedAlert `json:"alerts"`
		}
		if err = json.Unmarshal(b, &n); err == nil {
			s.am = append(s.am, n.Alerts...)
		}
	case "/darkwatch":
		var m alert.Message
		if err = json.Unmarshal(b, &m); err == nil {
			s.hook = append(s.hook, m)
		}
	default:
		err = fmt.Errorf("path %s", r.URL.Path)
	}
	if err != nil {
		s.other = append(s.other, fmt.Sprintf("%v: %s", err, b))
	}
}

// find returns the labels of the first alert notified by Alertmanager (am)
// or the webhook (!am) with status of the entity and kind.
func (s *alertSink) find(am bool, status, entity, kind string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(st string, l map[string]string) bool {
		return st == status && l["entity"] == entity && l["kind"] == kind
	}
	if am {
		for _, a := range s.am {
			if match(a.Status, a.Labels) {
				return a.Labels, true
			}
		}
		return nil, false
	}
	for _, m := range s.hook {
		if match(m.Status, m.Labels) {
			return m.Labels, true
		}
	}
	return nil, false
}

// wait waits up to d for find to succeed and returns its labels.
func (s *alertSink) wait(t *testing.T, d time.Duration, am bool, status, entity, kind string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if l, ok := s.find(am, status, entity, kind); ok {
			return l
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("no %s %s alert of %s (alertmanager %v) in %v; alertmanager sent %+v; the webhook %+v; other %q",
				status, kind, entity, am, d, s.am, s.hook, s.other)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startLabAlertmanager runs Alertmanager in the col namespace on a free
// port of its 127.0.0.1, notifying hook, grouping by level and entity, and
// returns its base URL once it is ready.
func startLabAlertmanager(t *testing.T, l *lab.Lab, dir, hook string) string {
	t.Helper()
	ln, err := l.Listen("col", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := writeFile(t, filepath.Join(dir, "alertmanager.yml"), `route:
  receiver: test
  group_by: [level, entity]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs: [{url: "`+hook+`", send_resolved: true}]
`)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	am := startProc(t, l, "col", "alertmanager", alertmanagerBin, "--config.file="+conf,
		"--storage.path="+filepath.Join(dir, "alertmanager"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--cluster.listen-address=")
	t.Cleanup(func() { am.kill(t, syscall.SIGKILL) })
	client := l.HTTPClient("col")
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready in 30s: %v\n%s", err, am.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// labAlertsConfig is the collector's configuration: labCollector's, with
// alerts to the Alertmanager at am and the webhook at hook.
func labAlertsConfig(t *testing.T, dir, am, hook string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, "collector.yaml"), labCollectorBase+labCollectorTargets+`store: sqlite://`+
		filepath.Join(dir, "collector.db")+`
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
alerts:
  alertmanager: [`+am+`]
  webhooks: [{url: "`+hook+`/darkwatch", timeout: 5s}]
  levels: [prefix]
  resend: 2s
`)
}

// TestLabAlerts: a border cut makes serve raise an outage of the lab's
// prefix, which Alertmanager notifies as firing, grouped by level and
// entity, with darkwatch's labels, and the webhook gets as a firing
// message; once the cut heals both say it is resolved, and serve's
// /metrics counts the notifications sent.
func TestLabAlerts(t *testing.T) {
	if _, err := os.Stat(alertmanagerBin); err != nil {
		lab.Missing(t, "%s not found: install the Debian package prometheus-alertmanager (scripts/install-deps.sh)", alertmanagerBin)
	}
	l := lab.Start(t)
	bin := lab.Binary(t)
	dir := t.TempDir()
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		writeFile(t, filepath.Join(dir, v+".pass"), "secret-"+v+"-"+l.Prefix+"\n")
	}
	writeFile(t, filepath.Join(dir, "api.token"), "token-"+l.Prefix+"\n")

	sink := &alertSink{}
	ln, err := l.Listen("col", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	hook := "http://" + ln.Addr().String()
	am := startLabAlertmanager(t, l, dir, hook+"/alertmanager")

	col := startProc(t, l, "col", "serve", bin, "--config", labAlertsConfig(t, dir, am, hook), "serve")
	col.waitLog(t, 30*time.Second, `msg=serving`)
	defer col.kill(t, syscall.SIGTERM)
	var nodes []*proc
	for _, v := range []string{"vp1", "vp2", "vp3"} {
		cfg := writeFile(t, filepath.Join(dir, v+".yaml"), labCollectorBase+labCollectorTargets+`store: sqlite://`+
			filepath.Join(dir, v+".db")+`
collector: {url: "nats://`+lab.Collector4+`:4222", user: `+v+`, password_file: `+dir+`/`+v+`.pass, heartbeat: 1s, insecure_plaintext: true}
`)
		nodes = append(nodes, startProc(t, l, v, v, bin, "--config", cfg, "--vantage", v, "run", "--cooldown", "500ms"))
	}
	defer func() {
		for _, n := range nodes {
			n.kill(t, syscall.SIGTERM)
		}
	}()
	for _, n := range nodes {
		n.waitLog(t, 30*time.Second, "connected to the collector")
	}
	time.Sleep(8 * time.Second)

	const prefix = "198.18.0.0/24"
	l.Fault(t, "border-cut")
	t.Logf("border cut at %s", time.Now().Format(time.RFC3339))
	labels := sink.wait(t, 3*time.Minute, true, "firing", prefix, "outage")
	checkLabAlertLabels(t, "alertmanager, firing", labels)
	checkLabAlertLabels(t, "webhook, firing", sink.wait(t, time.Minute, false, "firing", prefix, "outage"))
	checkGrouped(t, l, am, prefix)

	l.Restore(t)
	t.Logf("border restored at %s", time.Now().Format(time.RFC3339))
	checkLabAlertLabels(t, "alertmanager, resolved", sink.wait(t, 3*time.Minute, true, "resolved", prefix, "outage"))
	checkLabAlertLabels(t, "webhook, resolved", sink.wait(t, time.Minute, false, "resolved", prefix, "outage"))
	checkAlertMetrics(t, l)
	if t.Failed() {
		t.Logf("collector log:\n%s", col.log)
	}
}

// labVantage matches a vantage of the lab.
var labVantage = regexp.MustCompile(`^vp[123]$`)

// checkLabAlertLabels checks the labels of the lab prefix's outage alert.
func checkLabAlertLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	want := map[string]string{"alertname": "DarkwatchOutage", "severity": "critical", "level": "prefix",
		"entity": "198.18.0.0/24", "kind": "outage", "asn": "AS64500", "country": "ZZ"}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q (labels %v)", what, k, labels[k], v, labels)
		}
	}
	vs := strings.Split(labels["vantages"], ",")
	if slices.ContainsFunc(vs, func(v string) bool { return !labVantage.MatchString(v) }) {
		t.Errorf("%s: vantages %q, want some of vp1, vp2, vp3", what, labels["vantages"])
	}
}

// checkGrouped checks that Alertmanager holds the prefix's alert in a group
// of its level and entity.
func checkGrouped(t *testing.T, l *lab.Lab, am, entity string) {
	t.Helper()
	resp, err := l.HTTPClient("col").Get(am + "/api/v2/alerts/groups")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var groups []struct {
		Labels map[string]string `json:"labels"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, a := range g.Alerts {
			if g.Labels["level"] == "prefix" && g.Labels["entity"] == entity && a.Labels["entity"] == entity {
				return
			}
		}
	}
	t.Errorf("GET /api/v2/alerts/groups has no group of level prefix and entity %s holding its alert: %+v", entity, groups)
}

// checkAlertMetrics checks that serve's /metrics counts notifications sent
// to the Alertmanager and the webhook.
func checkAlertMetrics(t *testing.T, l *lab.Lab) {
	t.Helper()
	resp, err := l.HTTPClient("col").Get("http://" + lab.Collector4 + ":8080/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, receiver := range []string{"alertmanager", "webhook"} {
		re := regexp.MustCompile(`darkwatch_alert_notifications_total\{receiver="` + receiver + `",result="sent",url="[^"]+"\} ([0-9.e+]+)`)
		m := re.FindSubmatch(b)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("/metrics counts no notification sent to the %s:\n%s", receiver, b)
		}
	}
}
