package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"darkwatch/results"
)

// step is one Observe of a notifier test: the events known Minutes
// minutes after t0, the healthy vantages, and the alerts held then, each
// "KEY firing" or "KEY resolved HH:MM" (its end), by key.
type step struct {
	minutes float64
	events  []results.Event
	healthy []string
	want    []string
}

const round = time.Minute

func ev(level, entity, kind string, start, end float64) results.Event {
	e := results.Event{Level: level, Entity: entity, Kind: kind, Start: t0.Add(time.Duration(start * float64(time.Minute)))}
	if end > 0 {
		e.End = t0.Add(time.Duration(end * float64(time.Minute)))
	}
	return e
}

func summary(as []Alert) []string {
	var out []string
	for _, a := range as {
		s := a.Key() + " firing"
		if !a.EndsAt.IsZero() {
			s = a.Key() + " resolved " + a.EndsAt.Format("15:04")
		}
		out = append(out, s)
	}
	return out
}

// TestObserve: which events fire, and when their alerts resolve.
func TestObserve(t *testing.T) {
	const p = "prefix|198.18.0.0/22|"
	for _, tt := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"fires after min_duration, resolves two rounds after the end", Config{MinDuration: 3 * time.Minute}, []step{
			{1, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, nil},
			{3, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, []string{p + "outage firing"}},
			{10, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 9)}, nil, []string{p + "outage firing"}},
			{11, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 9)}, nil, []string{p + "outage resolved 03:09"}},
			{12, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 9)}, nil, []string{p + "outage resolved 03:09"}},
		}},
		{"an event shorter than min_duration never fires", Config{MinDuration: 5 * time.Minute}, []step{
			{2, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, nil},
			{9, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 3)}, nil, nil},
		}},
		{"levels: blocks do not alert by default", Config{}, []step{
			{1, []results.Event{ev("block", "198.18.0.0/24", "outage", 0, 0), ev("asn", "AS64500", "outage", 0, 0)}, nil,
				[]string{"asn|AS64500|outage firing"}},
		}},
		{"levels: blocks alert when named", Config{Levels: []string{"block"}}, []step{
			{1, []results.Event{ev("block", "198.18.0.0/24", "outage", 0, 0), ev("asn", "AS64500", "outage", 0, 0)}, nil,
				[]string{"block|198.18.0.0/24|outage firing"}},
		}},
		{"a kind that changes resolves the old alert and fires the new", Config{}, []step{
			{1, []results.Event{ev("prefix", "198.18.0.0/22", "partial", 0, 0)}, nil, []string{p + "partial firing"}},
			{5, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil,
				[]string{p + "outage firing", p + "partial resolved 03:05"}},
		}},
		{"an event that is gone resolves now", Config{}, []step{
			{1, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, []string{p + "outage firing"}},
			{7, nil, nil, []string{p + "outage resolved 03:07"}},
		}},
		{"an event that ends and comes back fires again", Config{}, []step{
			{1, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, []string{p + "outage firing"}},
			{6, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 3)}, nil, []string{p + "outage resolved 03:03"}},
			{9, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 3), ev("prefix", "198.18.0.0/22", "outage", 8, 0)}, nil,
				[]string{p + "outage firing"}},
		}},
		{"an end undone within two rounds does not resolve", Config{}, []step{
			{1, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, []string{p + "outage firing"}},
			{4, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 3)}, nil, []string{p + "outage firing"}},
			{5, []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil, []string{p + "outage firing"}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newTestNotifier(t, tt.cfg)
			for i, s := range tt.steps {
				n.Observe(t0.Add(time.Duration(s.minutes*float64(time.Minute))), s.events, s.healthy)
				if got := summary(n.Alerts()); !slices.Equal(got, s.want) {
					t.Fatalf("step %d (minute %v): alerts %q, want %q", i, s.minutes, got, s.want)
				}
			}
		})
	}
}

// TestObserveLabelsKept: an alert keeps the vantages and annotations it
// fired with while the vantages' health changes, and is placed in its AS
// and country.
func TestObserveLabelsKept(t *testing.T) {
	n := newTestNotifier(t, Config{})
	e := ev("prefix", "198.18.0.0/22", "outage", 0, 0)
	n.Observe(t0.Add(time.Minute), []results.Event{e}, []string{"vp1", "vp2", "vp3"})
	n.Observe(t0.Add(2*time.Minute), []results.Event{e}, []string{"vp1"})
	as := n.Alerts()
	if len(as) != 1 {
		t.Fatalf("alerts %v", as)
	}
	want := map[string]string{"vantages": "vp1,vp2,vp3", "asn": "AS64500", "country": "ZZ", "severity": "critical"}
	for k, v := range want {
		if as[0].Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, as[0].Labels[k], v)
		}
	}
	if v := value(t, n.firing.WithLabelValues("prefix")); v != 1 {
		t.Errorf("darkwatch_alerts_firing{level=prefix} = %v, want 1", v)
	}
}

func newTestNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(Options{Config: c, Sets: sets, Round: round, Lookback: time.Hour, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// receiver is a webhook or Alertmanager stand-in that refuses the first
// fail requests with 503, then keeps the bodies of those it takes.
type receiver struct {
	mu     sync.Mutex
	fail   int
	bodies []string
	auth   []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		http.Error(w, "not now", http.StatusServiceUnavailable)
		return
	}
	r.bodies = append(r.bodies, string(b))
	r.auth = append(r.auth, req.Header.Get("Authorization")+" "+req.Header.Get("X-Team"))
}

func (r *receiver) taken() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies), slices.Clone(r.auth)
}

// waitFor polls cond until it holds, for at most a generous minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedLog is a log sink written from several goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWebhookRetried: a webhook that fails at first gets the firing
// message, then the resolved one, in order, each once, with its bearer
// token and headers; the failures are counted, and logged once.
func TestWebhookRetried(t *testing.T) {
	rcv := &receiver{fail: 3}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedLog
	n, err := New(Options{Config: Config{Webhooks: []Webhook{{URL: srv.URL + "/hook?key=k", BearerTokenFile: tokFile,
		Headers: map[string]string{"X-Team": "noc"}}}}, Sets: sets, Round: round, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n.backoff = func(int) time.Duration { return 10 * time.Millisecond }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	n.Observe(t0.Add(time.Minute), []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, []string{"vp1"})
	n.Observe(t0.Add(9*time.Minute), []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 5)}, []string{"vp1"})
	waitFor(t, "two messages", func() bool { b, _ := rcv.taken(); return len(b) >= 2 })
	bodies, auth := rcv.taken()
	var got []string
	for _, b := range bodies {
		var m Message
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("message %s: %v", b, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s end=%v", m.Status, m.Labels["entity"], m.Labels["vantages"], m.EndsAt != nil))
	}
	want := []string{"firing 198.18.0.0/22 vp1 end=false", "resolved 198.18.0.0/22 vp1 end=true"}
	if !slices.Equal(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	for _, a := range auth {
		if a != "Bearer s3cret noc" {
			t.Errorf("request headers %q", a)
		}
	}
	url := srv.URL + "/hook"
	if v := value(t, n.notifications.WithLabelValues("webhook", url, "failed")); v != 3 {
		t.Errorf("failed notifications %v, want 3", v)
	}
	if v := value(t, n.notifications.WithLabelValues("webhook", url, "sent")); v != 2 {
		t.Errorf("sent notifications %v, want 2", v)
	}
	if c := strings.Count(logs.String(), "notifications fail"); c != 1 {
		t.Errorf("%d failure lines for 3 failed attempts, want 1:\n%s", c, logs.String())
	}
	if strings.Contains(logs.String(), "key=k") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("a secret in the log:\n%s", logs.String())
	}
}

// TestWebhookRefused: a message a webhook refuses with 400 is dropped and
// counted, and the next one still goes.
func TestWebhookRefused(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m Message
		_ = json.NewDecoder(r.Body).Decode(&m)
		if m.Labels["entity"] == "AS64500" {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, m.Labels["entity"])
		mu.Unlock()
	}))
	defer srv.Close()
	n, err := New(Options{Config: Config{Webhooks: []Webhook{{URL: srv.URL}}}, Sets: sets, Round: round,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	n.Observe(t0.Add(time.Minute), []results.Event{ev("asn", "AS64500", "outage", 0, 0)}, nil)
	n.Observe(t0.Add(2*time.Minute), []results.Event{ev("asn", "AS64500", "outage", 0, 0), ev("country", "ZZ", "outage", 0, 0)}, nil)
	waitFor(t, "the country's message", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	waitFor(t, "the refusal counted", func() bool {
		return value(t, n.notifications.WithLabelValues("webhook", srv.URL, "refused")) == 1
	})
}

// TestAlertmanagerRetried: an Alertmanager that fails at first is posted
// the firing alert, ending four resends later, once it answers; then the
// alert with its end.
func TestAlertmanagerRetried(t *testing.T) {
	rcv := &receiver{fail: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	n, err := New(Options{Config: Config{Alertmanager: []string{srv.URL + "/"}, Resend: time.Hour}, Sets: sets, Round: round,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.backoff = func(int) time.Duration { return 10 * time.Millisecond }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	posted := func(i int) []postableAlert {
		var as []postableAlert
		waitFor(t, fmt.Sprintf("post %d", i), func() bool { b, _ := rcv.taken(); return len(b) > i })
		b, _ := rcv.taken()
		if err := json.Unmarshal([]byte(b[i]), &as); err != nil || len(as) != 1 {
			t.Fatalf("post %s: %v", b[i], err)
		}
		return as
	}
	before := time.Now()
	n.Observe(t0.Add(time.Minute), []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil)
	as := posted(0)
	if as[0].Labels["alertname"] != AlertName || !as[0].EndsAt.After(before.Add(3*time.Hour)) {
		t.Errorf("firing alert %+v: endsAt should be four resends ahead", as[0])
	}
	n.Observe(t0.Add(time.Hour), []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 5)}, nil)
	as = posted(1)
	if !as[0].EndsAt.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("resolved alert ends %v, want the event's end %v", as[0].EndsAt, t0.Add(5*time.Minute))
	}
	if v := value(t, n.notifications.WithLabelValues("alertmanager", srv.URL+"/", "failed")); v != 2 {
		t.Errorf("failed posts %v, want 2", v)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue() + out.GetGauge().GetValue()
}

// TestWebhookFailures: each way a webhook can fail a request is retried
// until it takes the message, which it then gets once.
func TestWebhookFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		// fail answers the first requests (true: it handled the request).
		fail func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"503", func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}},
		{"429", func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}},
		{"slower than the timeout", func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return true
		}},
		{"redirect, not followed", func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			failures, taken := 2, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Read whole, the request's context ends when the client
				// hangs up.
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				fail := failures > 0 && r.URL.Path == "/hook"
				if fail {
					failures--
				}
				mu.Unlock()
				if fail && tt.fail(w, r) {
					return
				}
				mu.Lock()
				taken++
				mu.Unlock()
			}))
			defer srv.Close()
			n, err := New(Options{Config: Config{Webhooks: []Webhook{{URL: srv.URL + "/hook", Timeout: time.Second}}},
				Sets: sets, Round: round, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			n.backoff = func(int) time.Duration { return 10 * time.Millisecond }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { n.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			n.Observe(t0.Add(time.Minute), []results.Event{ev("prefix", "198.18.0.0/22", "outage", 0, 0)}, nil)
			waitFor(t, "the message taken", func() bool { mu.Lock(); defer mu.Unlock(); return taken >= 1 })
			failed := value(t, n.notifications.WithLabelValues("webhook", srv.URL+"/hook", "failed"))
			waitFor(t, "the send counted", func() bool {
				return value(t, n.notifications.WithLabelValues("webhook", srv.URL+"/hook", "sent")) == 1
			})
			if failed != 2 {
				t.Errorf("%v failed attempts counted, want 2", failed)
			}
		})
	}
}
