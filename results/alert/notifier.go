package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// resolvedRetention is how long a resolved alert is still sent to
// Alertmanager with its end, as Prometheus does: one post of it may be lost
// in an Alertmanager restart.
const resolvedRetention = 15 * time.Minute

// Source is where a Notifier reads the events and the vantage points'
// health: the store.
type Source interface {
	// Events returns the events that overlap [since, until); until zero
	// is open.
	Events(ctx context.Context, since, until time.Time) ([]results.Event, error)
	Verdicts(ctx context.Context, q store.VerdictQuery) ([]results.Verdict, error)
}

// Options are what a Notifier works with.
type Options struct {
	Config Config
	// Sets place entities in their AS and country.
	Sets []results.TargetSet
	// Round is the bin length of the events. An event that ended is
	// resolved two rounds after its end, once the bin after its end has
	// been judged too (a bad bin there would continue it).
	Round time.Duration
	// Lookback is how far back events are read: an alert whose event is
	// older is resolved.
	Lookback time.Duration
	Log      *slog.Logger
}

// Notifier turns the events it observes into alerts and sends them: to
// every Alertmanager and every webhook of its Config, until each has taken
// them.
type Notifier struct {
	cfg      Config
	levels   []string
	places   Places
	hold     time.Duration
	lookback time.Duration
	resend   time.Duration
	log      *slog.Logger
	// backoff is the wait before the attempt-th retry.
	backoff func(attempt int) time.Duration
	now     func() time.Time

	mu     sync.Mutex
	alerts map[string]*tracked
	gen    uint64 // counts the changes of alerts: fired, resolved
	ams    []*amSender
	hooks  []*webhookSender

	notifications *prometheus.CounterVec
	pending       *prometheus.GaugeVec
	firing        *prometheus.GaugeVec
}

// tracked is an alert the notifier has fired.
type tracked struct {
	Alert
	// resolvedAt is when the notifier resolved it, zero while it fires.
	resolvedAt time.Time
}

// New returns a notifier for o; it reads the webhooks' token files, whose
// problems are *ConfigError naming their key.
func New(o Options) (*Notifier, error) {
	c := o.Config
	n := &Notifier{cfg: c, levels: c.AlertLevels(), places: NewPlaces(o.Sets), hold: 2 * o.Round,
		lookback: max(o.Lookback, time.Hour), resend: c.ResendEvery(), log: o.Log, backoff: Backoff(c.ResendEvery()),
		now: time.Now, alerts: map[string]*tracked{}}
	n.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "darkwatch_alert_notifications_total",
		Help: "Alert notifications by receiver (alertmanager: a POST of the alerts; webhook: a message), URL and result: sent, failed (retried), or refused (a webhook's 4xx: dropped)."},
		[]string{"receiver", "url", "result"})
	n.pending = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "darkwatch_alert_notifications_pending",
		Help: "Alerts (alertmanager) or messages (webhook) a receiver has not taken yet because sending fails."},
		[]string{"receiver", "url"})
	n.firing = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "darkwatch_alerts_firing",
		Help: "Alerts firing, by level."}, []string{"level"})
	for _, l := range n.levels {
		n.firing.WithLabelValues(l).Set(0)
	}
	for _, u := range c.Alertmanager {
		n.ams = append(n.ams, newAMSender(u, c.AlertmanagerTimeout()))
	}
	for i, w := range c.Webhooks {
		s, err := newWebhookSender(w)
		if err != nil {
			return nil, within(fmt.Sprintf("webhooks[%d]", i), err)
		}
		n.hooks = append(n.hooks, s)
	}
	for _, s := range n.ams {
		n.pending.WithLabelValues(receiverAlertmanager, s.name).Set(0)
	}
	for _, s := range n.hooks {
		n.pending.WithLabelValues(receiverWebhook, s.name).Set(0)
	}
	return n, nil
}

// Backoff is the wait before a retry: 1s doubling with each attempt, at
// most limit.
func Backoff(limit time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := time.Second << min(max(attempt-1, 0), 16)
		return min(d, max(limit, time.Second))
	}
}

// Collectors are the notifier's metrics, for the caller's registry.
func (n *Notifier) Collectors() []prometheus.Collector {
	return []prometheus.Collector{n.notifications, n.pending, n.firing}
}

// Refresh reads the events of the last Lookback and the vantage points'
// latest health from src, and observes them.
func (n *Notifier) Refresh(ctx context.Context, src Source) error {
	now := n.now()
	events, err := src.Events(ctx, now.Add(-n.lookback), time.Time{})
	if err != nil {
		return fmt.Errorf("alerts: reading events: %w", err)
	}
	vs, err := src.Verdicts(ctx, store.VerdictQuery{Level: results.LevelVantage, Since: now.Add(-n.lookback), At: now})
	if err != nil {
		return fmt.Errorf("alerts: reading the vantages' health: %w", err)
	}
	var healthy []string
	for _, v := range vs {
		if v.Verdict == results.VerdictHealthy && !slices.Contains(healthy, v.Entity) {
			healthy = append(healthy, v.Entity)
		}
	}
	slices.Sort(healthy)
	n.Observe(now, events, healthy)
	return nil
}

// Observe takes the events known at now and the healthy vantage points: an
// open event of a level that alerts, lasting at least MinDuration, fires
// its alert (once); an alert whose event ended two rounds ago resolves with
// the event's end, one whose event is gone (its kind changed, or it left
// the lookback) resolves at now. The alert's labels, vantages included,
// are those it fired with.
func (n *Notifier) Observe(now time.Time, events []results.Event, healthy []string) {
	current := n.current(events)
	n.mu.Lock()
	defer n.mu.Unlock()
	var changes []Alert
	for key, e := range current {
		t := n.alerts[key]
		if !e.End.IsZero() || now.Sub(e.Start) < n.cfg.MinDuration {
			continue
		}
		if t != nil && t.resolvedAt.IsZero() {
			t.Annotations = n.alertOf(e, splitVantages(t.Labels[LabelVantages])).Annotations
			continue
		}
		a := n.alertOf(e, healthy)
		a.EndsAt = time.Time{}
		n.alerts[key] = &tracked{Alert: a}
		changes = append(changes, a)
	}
	for key, t := range n.alerts {
		if !t.resolvedAt.IsZero() {
			continue
		}
		e, ok := current[key]
		switch {
		case ok && e.End.IsZero(), ok && now.Sub(e.End) < n.hold:
			continue
		case ok && !e.End.Before(t.StartsAt):
			t.EndsAt = e.End.UTC()
			t.Annotations = n.alertOf(e, splitVantages(t.Labels[LabelVantages])).Annotations
		default:
			t.EndsAt = now.UTC()
		}
		t.resolvedAt = now
		changes = append(changes, t.Alert)
	}
	n.prune(now)
	n.countFiring()
	if len(changes) == 0 {
		return
	}
	n.gen++
	for _, s := range n.ams {
		s.wake()
	}
	for _, h := range n.hooks {
		h.enqueue(changes, n)
	}
}

// current picks, per alert key, the event an alert follows among events of
// the levels that alert: an open one (the latest), else the one that ended
// last.
func (n *Notifier) current(events []results.Event) map[string]results.Event {
	out := map[string]results.Event{}
	for _, e := range events {
		if !slices.Contains(n.levels, e.Level) {
			continue
		}
		key := eventKey(e)
		old, ok := out[key]
		switch {
		case !ok,
			e.End.IsZero() && (!old.End.IsZero() || e.Start.After(old.Start)),
			!e.End.IsZero() && !old.End.IsZero() && e.End.After(old.End):
			out[key] = e
		}
	}
	return out
}

// alertOf is the alert of e as seen from vantages.
func (n *Notifier) alertOf(e results.Event, vantages []string) Alert {
	w := Where{Vantages: vantages}
	w.ASN, w.Country = n.places.Of(e.Level, e.Entity)
	if e.Level == results.LevelVantage {
		w.Vantages = []string{e.Entity}
	}
	return FromEvent(e, w, n.cfg.DashboardURL)
}

// splitVantages undoes the join of the vantages label.
func splitVantages(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// prune forgets the resolved alerts every Alertmanager has taken since
// they resolved, resolvedRetention after they did. n.mu is held.
func (n *Notifier) prune(now time.Time) {
	for key, t := range n.alerts {
		if t.resolvedAt.IsZero() || now.Sub(t.resolvedAt) < resolvedRetention {
			continue
		}
		taken := true
		for _, s := range n.ams {
			taken = taken && s.lastOK.After(t.resolvedAt)
		}
		if taken {
			delete(n.alerts, key)
		}
	}
}

// countFiring sets the firing gauge. n.mu is held.
func (n *Notifier) countFiring() {
	counts := map[string]int{}
	for _, t := range n.alerts {
		if t.resolvedAt.IsZero() {
			counts[t.Labels[LabelLevel]]++
		}
	}
	for _, l := range n.levels {
		n.firing.WithLabelValues(l).Set(float64(counts[l]))
	}
}

// Alerts returns the alerts the notifier holds, firing (EndsAt zero) and
// resolved, by key.
func (n *Notifier) Alerts() []Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Alert, 0, len(n.alerts))
	for _, t := range n.alerts {
		out = append(out, t.Alert)
	}
	slices.SortFunc(out, func(a, b Alert) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// Run sends until ctx ends: every Alertmanager the alerts, again every
// Resend and whenever one fires or resolves; every webhook its messages, in
// order. A failure is retried with backoff, logged when a receiver starts
// failing (and every 10 minutes while it does) and when it takes
// notifications again.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range n.ams {
		wg.Go(func() { s.run(ctx, n) })
	}
	for _, h := range n.hooks {
		wg.Go(func() { h.run(ctx, n) })
	}
	wg.Wait()
}

// count counts one notification's result.
func (n *Notifier) count(receiver, url, result string) {
	n.notifications.WithLabelValues(receiver, url, result).Inc()
}

// client is an HTTP client with timeout that follows no redirects (a
// receiver that moved is a configuration to fix, not to guess).
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// readToken reads a webhook's bearer token file (its owner's alone).
func readToken(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	tok, err := transport.ReadSecret("bearer_token_file", file)
	if err != nil {
		var f interface{ Field() (string, string) }
		if errors.As(err, &f) {
			key, msg := f.Field()
			return "", &ConfigError{Key: key, Msg: msg}
		}
		return "", err
	}
	return tok, nil
}
