package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// The node's side of the collector: `darkwatch run` with collector.url set
// keeps every record in its local store's outbox and sends the outbox to the
// collector (results/transport).

// validate checks the collector: keys; store is the node's store, which a
// node that reports to a collector must have.
func (c *Collector) validate(storeDSN string) error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: "collector." + key, Msg: fmt.Sprintf(format, a...)}
	}
	if c.URL == "" {
		if c.User != "" || c.PasswordFile != "" || c.NkeyFile != "" || c.CAFile != "" {
			return bad("url", "must be set when other collector keys are (nats://host:4222 or tls://host:4222)")
		}
		return nil
	}
	if err := checkNATSURL(c.URL); err != nil {
		return bad("url", "%v", err)
	}
	if storeDSN == "" {
		return &ConfigError{Key: "store", Msg: "a node that sends to a collector needs a local store, which keeps each record until the collector has it"}
	}
	if c.NkeyFile != "" && (c.User != "" || c.PasswordFile != "") {
		return bad("nkey_file", "goes alone: an nkey replaces user and password_file")
	}
	if c.NkeyFile == "" && (c.User == "") != (c.PasswordFile == "") {
		return bad("user", "and collector.password_file go together")
	}
	if c.Heartbeat < 0 {
		return bad("heartbeat", "must be positive, not %v", c.Heartbeat)
	}
	if err := plaintextCredentials(c.URL, c.CAFile != "", c.PasswordFile != "" || c.NkeyFile != "", c.InsecurePlaintext); err != nil {
		return bad("url", "%v; use tls:// (or ca_file), or set collector.insecure_plaintext: true on an isolated network", err)
	}
	return nil
}

// plaintextCredentials refuses credentials sent over a plain nats:// URL to
// a host that is not this one, unless optIn says so. A tls:// URL, or a CA
// (which makes the client speak TLS), is not plain.
func plaintextCredentials(urls string, tls, credentials, optIn bool) error {
	if !credentials || tls || optIn {
		return nil
	}
	for _, part := range strings.Split(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Scheme != "nats" || loopbackHost(u.Hostname()) {
			continue
		}
		return fmt.Errorf("%s would carry the credentials in clear to %s", redactURL(part), u.Hostname())
	}
	return nil
}

// loopbackHost reports whether host names this machine's loopback.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// readPrivateSecret reads a secret as readSecret does, but refuses a file
// that its group or others may read or write.
func readPrivateSecret(key, file string) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", &ConfigError{Key: key, Msg: err.Error()}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", &ConfigError{Key: key, Msg: fmt.Sprintf("%s is %v: others may read it; chmod 600 it", file, fi.Mode().Perm())}
	}
	return readSecret(key, file)
}

// checkNATSURL checks a comma-separated list of NATS URLs.
func checkNATSURL(s string) error {
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			return fmt.Errorf("%q is not a URL like nats://host:4222", redactURL(part))
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("%q: scheme must be nats:// or tls://", redactURL(part))
		}
		if u.User != nil {
			return fmt.Errorf("%q: give credentials in user and password_file, not in the URL", redactURL(part))
		}
	}
	return nil
}

// redactURL hides a URL's user information.
func redactURL(s string) string {
	if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return s
}

// readSecret reads a secret from file, trimmed, naming key in errors (and
// never the secret).
func readSecret(key, file string) (string, error) {
	if err := checkSecretMode(key, file); err != nil {
		return "", err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", &ConfigError{Key: key, Msg: err.Error()}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", &ConfigError{Key: key, Msg: fmt.Sprintf("%s is empty", file)}
	}
	return s, nil
}

// checkSecretMode refuses a secret file that its group or others may read:
// a password or key anyone on the host can read is no secret.
func checkSecretMode(key, file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return &ConfigError{Key: key, Msg: err.Error()}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("%s is readable by group or others (mode %04o); a secret file must be its owner's alone: chmod 600 %s", file, perm, file)}
	}
	return nil
}

// caPool reads a PEM CA file into a certificate pool.
func caPool(key, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &ConfigError{Key: key, Msg: err.Error()}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, &ConfigError{Key: key, Msg: fmt.Sprintf("%s holds no PEM certificate", file)}
	}
	return pool, nil
}

// forwarder is a node's way to its collector: records go into the store
// and its outbox together, and a transport.Node sends the outbox. A nil
// forwarder (no collector configured) just stores.
type forwarder struct {
	node   *transport.Node
	st     store.Store
	cancel context.CancelFunc
	done   chan struct{}
	flush  time.Duration
}

// startForwarder starts sending to the configured collector, if any, and
// registers the node's metrics with m.
func (a *app) startForwarder(ctx context.Context, st store.Store, m *metrics) (*forwarder, error) {
	c := a.cfg.Collector
	if c.URL == "" {
		return nil, nil
	}
	if st == nil {
		return nil, &ConfigError{Key: "store", Msg: "a node that sends to a collector needs a local store"}
	}
	nc := transport.NodeConfig{Vantage: a.cfg.Vantage, URL: c.URL, User: c.User, Store: st,
		Heartbeat: c.Heartbeat, Version: version, Log: a.log.With("part", "collector")}
	var err error
	if c.PasswordFile != "" {
		if nc.Password, err = readSecret("collector.password_file", c.PasswordFile); err != nil {
			return nil, err
		}
	}
	if c.NkeyFile != "" {
		seed, err := readSecret("collector.nkey_file", c.NkeyFile)
		if err != nil {
			return nil, err
		}
		nc.NkeySeed = []byte(seed)
	}
	if c.CAFile != "" {
		pool, err := caPool("collector.ca_file", c.CAFile)
		if err != nil {
			return nil, err
		}
		nc.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	node, err := transport.NewNode(nc)
	if err != nil {
		return nil, &ConfigError{Key: "collector", Msg: err.Error()}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_connected",
			Help: "1 while the node is connected to its collector."}, func() float64 {
			if node.Stats().Connected {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_delivered_total",
			Help: "Records the collector acknowledged."}, func() float64 { return float64(node.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_failed_total",
			Help: "Record publications not acknowledged, to be sent again."}, func() float64 { return float64(node.Stats().Failed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_clock_offset_seconds",
			Help: "The collector's clock minus this node's, from the last heartbeat."}, func() float64 { return node.Stats().OffsetMS / 1000 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_outbox_records",
			Help: "Records stored here that the collector has not acknowledged yet."}, func() float64 {
			n, _ := st.OutboxLen(context.Background(), a.cfg.Vantage)
			return float64(n)
		}),
	)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &forwarder{node: node, st: st, cancel: cancel, done: make(chan struct{}), flush: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = node.Run(rctx)
	}()
	a.log.Info("records go to the collector too", "url", redactURL(c.URL), "user", c.User)
	return f, nil
}

// ingest stores recs and, with a collector, queues them for it in the same
// transaction.
func (f *forwarder) ingest(ctx context.Context, st store.Store, recs []results.Record) (int, error) {
	if f == nil {
		return st.Ingest(ctx, recs)
	}
	n, err := f.st.IngestQueued(ctx, recs)
	if err == nil && len(recs) > 0 {
		f.node.SetRound(recs[len(recs)-1].Round)
		f.node.Wake()
	}
	return n, err
}

// close gives the node up to the flush time to deliver what is queued, then
// stops it. What is left stays in the outbox for the next start.
func (f *forwarder) close(log interface{ Info(string, ...any) }) {
	if f == nil {
		return
	}
	deadline := time.Now().Add(f.flush)
	for time.Now().Before(deadline) {
		n, err := f.st.OutboxLen(context.Background(), f.node.Vantage())
		if err != nil || n == 0 || !f.node.Stats().Connected {
			break
		}
		f.node.Wake()
		time.Sleep(100 * time.Millisecond)
	}
	f.cancel()
	<-f.done
	if n, err := f.st.OutboxLen(context.Background(), f.node.Vantage()); err == nil && n > 0 {
		log.Info("records left for the collector; they go at the next start", "outbox", n)
	}
}
