package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Receivers, as the metrics name them.
const (
	receiverAlertmanager = "alertmanager"
	receiverWebhook      = "webhook"
)

// maxQueue bounds a webhook's queue of messages: past it, the oldest are
// dropped (and logged), so that a receiver gone for good cannot take the
// collector's memory.
const maxQueue = 10000

// postableAlert is an alert as Alertmanager's API v2 takes it
// (POST /api/v2/alerts, a JSON array of them).
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Message is what a webhook receives, one JSON object a request: an alert
// that fires (status "firing", no endsAt) or resolves ("resolved", with the
// end of its event).
type Message struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Statuses of a Message.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// MessageOf is the webhook message of a.
func MessageOf(a Alert) Message {
	m := Message{Status: StatusFiring, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt,
		GeneratorURL: a.GeneratorURL}
	if !a.EndsAt.IsZero() {
		end := a.EndsAt
		m.Status, m.EndsAt = StatusResolved, &end
	}
	return m
}

// postables are the alerts as Alertmanager is sent them at now: a firing
// alert ends four resends later unless sent again (Prometheus' rule), a
// resolved one at its event's end. gen is the state they are of.
func (n *Notifier) postables(now time.Time) (alerts []postableAlert, gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.alerts {
		end := t.EndsAt
		if t.resolvedAt.IsZero() {
			end = now.Add(4 * n.resend).UTC()
		}
		alerts = append(alerts, postableAlert{Labels: t.Labels, Annotations: t.Annotations, StartsAt: t.StartsAt,
			EndsAt: end, GeneratorURL: t.GeneratorURL})
	}
	return alerts, n.gen
}

// amSender sends the alerts to one Alertmanager.
type amSender struct {
	endpoint string // .../api/v2/alerts
	name     string // the base URL, redacted
	client   *http.Client
	kick     chan struct{}
	failing  failureStreak

	// lastOK is when the alerts were last taken (guarded by the
	// notifier's mu).
	lastOK time.Time
}

func newAMSender(base string, timeout time.Duration) *amSender {
	return &amSender{endpoint: strings.TrimRight(base, "/") + "/api/v2/alerts", name: Redact(base),
		client: client(timeout), kick: make(chan struct{}, 1)}
}

// wake has the sender post now.
func (s *amSender) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run posts the alerts until ctx ends: every resend, when woken, and after
// a failure with backoff.
func (s *amSender) run(ctx context.Context, n *Notifier) {
	attempt := 0
	for {
		now := n.now()
		alerts, _ := n.postables(now)
		wait := n.resend
		if len(alerts) > 0 {
			err := s.post(ctx, alerts)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				attempt++
				wait = n.backoff(attempt)
				n.count(receiverAlertmanager, s.name, "failed")
				n.pending.WithLabelValues(receiverAlertmanager, s.name).Set(float64(len(alerts)))
				s.failing.fail(n.log, now, receiverAlertmanager, s.name, err)
			default:
				attempt = 0
				n.count(receiverAlertmanager, s.name, "sent")
				n.pending.WithLabelValues(receiverAlertmanager, s.name).Set(0)
				s.failing.ok(n.log, receiverAlertmanager, s.name)
				n.mu.Lock()
				s.lastOK = now
				n.mu.Unlock()
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// post sends alerts in one request.
func (s *amSender) post(ctx context.Context, alerts []postableAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	return send(ctx, s.client, s.endpoint, body, nil)
}

// send POSTs a JSON body with headers and wants a 2xx answer.
func send(ctx context.Context, c *http.Client, url string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	return nil
}

// statusError is a receiver's answer other than 2xx.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// permanent reports whether the receiver refused the request itself (a 4xx
// other than 408 and 429): sending it again would be refused again.
func (e *statusError) permanent() bool {
	return e.code/100 == 4 && e.code != http.StatusRequestTimeout && e.code != http.StatusTooManyRequests
}

// webhookSender sends messages to one webhook, in order.
type webhookSender struct {
	url     string
	name    string // the URL, redacted
	headers map[string]string
	client  *http.Client
	kick    chan struct{}
	failing failureStreak

	mu    sync.Mutex
	queue []Message
}

func newWebhookSender(w Webhook) (*webhookSender, error) {
	tok, err := readToken(w.BearerTokenFile)
	if err != nil {
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range w.Headers {
		headers[k] = v
	}
	if tok != "" {
		headers["Authorization"] = "Bearer " + tok
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &webhookSender{url: w.URL, name: Redact(w.URL), headers: headers, client: client(timeout),
		kick: make(chan struct{}, 1)}, nil
}

// enqueue queues a message per alert, dropping the oldest past maxQueue.
func (s *webhookSender) enqueue(alerts []Alert, n *Notifier) {
	s.mu.Lock()
	for _, a := range alerts {
		s.queue = append(s.queue, MessageOf(a))
	}
	dropped := max(len(s.queue)-maxQueue, 0)
	s.queue = s.queue[dropped:]
	n.pending.WithLabelValues(receiverWebhook, s.name).Set(float64(len(s.queue)))
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	if dropped > 0 {
		n.log.Warn("webhook queue full: oldest alert messages dropped", "url", s.name, "dropped", dropped)
	}
}

// head returns the first queued message, if any.
func (s *webhookSender) head() (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Message{}, false
	}
	return s.queue[0], true
}

// pop removes the first queued message and returns how many are left.
func (s *webhookSender) pop() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = s.queue[1:]
	return len(s.queue)
}

// run sends the queue's messages in order until ctx ends, each until the
// webhook takes it (or refuses it for good), with backoff between tries.
func (s *webhookSender) run(ctx context.Context, n *Notifier) {
	attempt := 0
	for {
		m, ok := s.head()
		var wait <-chan time.Time
		if ok {
			err := s.post(ctx, m)
			if ctx.Err() != nil {
				return
			}
			if err == nil || isPermanent(err) {
				s.done(n, m, err)
				attempt = 0
				continue
			}
			attempt++
			n.count(receiverWebhook, s.name, "failed")
			s.failing.fail(n.log, n.now(), receiverWebhook, s.name, err)
			wait = time.After(n.backoff(attempt))
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-s.kick:
			if wait != nil {
				// A new message does not cut a backoff short.
				select {
				case <-ctx.Done():
					return
				case <-wait:
				}
			}
		}
	}
}

// done takes a message the webhook answered off the queue: taken, or
// refused for good (err), which is logged.
func (s *webhookSender) done(n *Notifier, m Message, err error) {
	left := s.pop()
	n.pending.WithLabelValues(receiverWebhook, s.name).Set(float64(left))
	if err != nil {
		n.count(receiverWebhook, s.name, "refused")
		n.log.Error("a webhook refused an alert message; it is dropped", "url", s.name, "status", m.Status,
			"level", m.Labels[LabelLevel], "entity", m.Labels[LabelEntity], "err", err)
		return
	}
	n.count(receiverWebhook, s.name, "sent")
	s.failing.ok(n.log, receiverWebhook, s.name)
}

// post sends one message.
func (s *webhookSender) post(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return send(ctx, s.client, s.url, body, s.headers)
}

// isPermanent reports whether err is a refusal for good.
func isPermanent(err error) bool {
	se, ok := err.(*statusError)
	return ok && se.permanent()
}

// failureStreak logs a receiver's failures: one line when it starts failing
// and one every 10 minutes while it goes on (never one a retry), and one
// when it takes notifications again.
type failureStreak struct {
	mu       sync.Mutex
	failures int
	logged   time.Time
}

func (f *failureStreak) fail(log *slog.Logger, now time.Time, receiver, url string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures++
	if f.failures == 1 || now.Sub(f.logged) >= 10*time.Minute {
		log.Warn("alert notifications fail; retrying with backoff", "receiver", receiver, "url", url,
			"failed_attempts", f.failures, "err", err)
		f.logged = now
	}
}

func (f *failureStreak) ok(log *slog.Logger, receiver, url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		log.Info("alert notifications go through again", "receiver", receiver, "url", url, "failed_attempts", f.failures)
	}
	f.failures = 0
}
