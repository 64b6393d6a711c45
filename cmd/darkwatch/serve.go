package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"darkwatch/results/dashboard"
	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// ServeConfig is the serve: section: the collector's HTTP side and its NATS.
type ServeConfig struct {
	// Listen is the HTTP address of the dashboard, API, /metrics and /healthz.
	Listen string `mapstructure:"listen"`
	// Tokens may read the API and the dashboard's data.
	Tokens []APIToken `mapstructure:"tokens"`
	// Refresh is how often verdicts and events are recomputed (default:
	// the round); Window how far back (default 6h).
	Refresh time.Duration `mapstructure:"refresh"`
	Window  time.Duration `mapstructure:"window"`
	NATS    ServeNATS     `mapstructure:"nats"`
}

// APIToken is one bearer token of the API, read from File. Role "read" (the
// default and, for now, the only one) may read everything the API shows.
type APIToken struct {
	Name string `mapstructure:"name"`
	File string `mapstructure:"file"`
	Role string `mapstructure:"role"`
}

// ServeNATS is the collector's NATS: the embedded server (listen, store_dir,
// TLS, nodes) or, with url set, an external one.
type ServeNATS struct {
	Listen       string      `mapstructure:"listen"`
	StoreDir     string      `mapstructure:"store_dir"`
	CertFile     string      `mapstructure:"cert_file"`
	KeyFile      string      `mapstructure:"key_file"`
	ClientCAFile string      `mapstructure:"client_ca_file"`
	Nodes        []NodeLogin `mapstructure:"nodes"`

	URL          string `mapstructure:"url"`
	User         string `mapstructure:"user"`
	PasswordFile string `mapstructure:"password_file"`
	NkeyFile     string `mapstructure:"nkey_file"`
	CAFile       string `mapstructure:"ca_file"`
	Replicas     int    `mapstructure:"replicas"`

	// MaxBytes and MaxAge bound the stream of records on their way
	// (default 8 GiB and 7 days): full, it refuses what nodes send, which
	// stays in their outboxes.
	MaxBytes int64         `mapstructure:"max_bytes"`
	MaxAge   time.Duration `mapstructure:"max_age"`
	// InsecurePlaintext lets the embedded server listen without TLS on an
	// address other than loopback, and the collector send its credentials
	// to an external server over nats://: the nodes' passwords then cross
	// the network in clear (an isolated lab network).
	InsecurePlaintext bool `mapstructure:"insecure_plaintext"`
}

// NodeLogin is one node's credentials on the embedded server: its vantage
// name as user, and a password file (clear or bcrypt) or a public nkey.
type NodeLogin struct {
	User         string `mapstructure:"user"`
	PasswordFile string `mapstructure:"password_file"`
	Nkey         string `mapstructure:"nkey"`
}

// Defaults of the serve: section.
const (
	defaultServeListen = "127.0.0.1:8080"
	// defaultNATSListen is the embedded server's address with TLS;
	// without, it listens on loopback only (see plaintextListen).
	defaultNATSListen          = "0.0.0.0:4222"
	defaultNATSListenPlaintext = "127.0.0.1:4222"
	defaultServeWindow         = 6 * time.Hour
	// maxRequestBytes caps a request's headers; the API takes no body.
	maxRequestBytes = 16 << 10
)

func (s *ServeConfig) validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: "serve." + key, Msg: fmt.Sprintf(format, a...)}
	}
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			return bad("listen", "%q is not host:port", s.Listen)
		}
	}
	names := map[string]bool{}
	for i, t := range s.Tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		if t.Name == "" || names[t.Name] {
			return bad(key+".name", "every token needs a name of its own (it names the reader in logs)")
		}
		names[t.Name] = true
		if t.File == "" {
			return bad(key+".file", "names no file holding the token")
		}
		if t.Role != "" && t.Role != "read" {
			return bad(key+".role", "%q: the API is read-only, the one role is read", t.Role)
		}
	}
	if s.Refresh < 0 || s.Window < 0 {
		return bad("refresh", "and serve.window must be positive")
	}
	n := s.NATS
	if n.Listen != "" {
		if _, _, err := net.SplitHostPort(n.Listen); err != nil {
			return bad("nats.listen", "%q is not host:port", n.Listen)
		}
	}
	if (n.CertFile == "") != (n.KeyFile == "") {
		return bad("nats.cert_file", "and serve.nats.key_file go together")
	}
	if n.ClientCAFile != "" && n.CertFile == "" {
		return bad("nats.client_ca_file", "needs serve.nats.cert_file and key_file")
	}
	users := map[string]bool{}
	for i, u := range n.Nodes {
		key := fmt.Sprintf("nats.nodes[%d]", i)
		if err := transport.CheckVantage(u.User); err != nil {
			return bad(key+".user", "%v (the user is the node's vantage name)", err)
		}
		if users[u.User] {
			return bad(key+".user", "%q is given twice", u.User)
		}
		users[u.User] = true
		if (u.PasswordFile == "") == (u.Nkey == "") {
			return bad(key, "give one of password_file and nkey")
		}
		if u.Nkey != "" && !strings.HasPrefix(u.Nkey, "U") {
			return bad(key+".nkey", "is not a user's public nkey (U...)")
		}
	}
	if n.URL != "" {
		if err := checkNATSURL(n.URL); err != nil {
			return bad("nats.url", "%v", err)
		}
		if len(n.Nodes) > 0 {
			return bad("nats.nodes", "are for the embedded server; with serve.nats.url the external server's configuration holds the node users")
		}
		if n.NkeyFile == "" && (n.User == "") != (n.PasswordFile == "") {
			return bad("nats.user", "and serve.nats.password_file go together")
		}
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		return bad("nats.replicas", "must be 1 to 5, not %d", n.Replicas)
	}
	if n.MaxBytes < 0 {
		return bad("nats.max_bytes", "must be positive, not %d", n.MaxBytes)
	}
	if n.MaxAge < 0 {
		return bad("nats.max_age", "must be positive, not %v", n.MaxAge)
	}
	if n.URL != "" {
		if err := plaintextCredentials(n.URL, n.CAFile != "", n.PasswordFile != "" || n.NkeyFile != "", n.InsecurePlaintext); err != nil {
			return bad("nats.url", "%v; use tls:// (or ca_file), or set serve.nats.insecure_plaintext: true on an isolated network", err)
		}
	} else if n.Listen != "" {
		if err := n.plaintextListen(n.Listen); err != nil {
			return bad("nats.listen", "%v", err)
		}
	}
	return nil
}

// plaintextListen refuses an embedded server without TLS on an address
// other than loopback, where the nodes' passwords would cross the network
// in clear, unless insecure_plaintext says so.
func (n *ServeNATS) plaintextListen(listen string) error {
	if n.CertFile != "" || n.InsecurePlaintext {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%s without TLS: the nodes' passwords would cross the network in clear; "+
		"give serve.nats.cert_file and key_file, listen on 127.0.0.1, or set serve.nats.insecure_plaintext: true "+
		"on an isolated network", listen)
}

func (a *app) serveCommand() *cobra.Command {
	var listen, natsListen string
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--nats-listen ADDR]",
		Short: "The collector: receives the nodes' records, keeps verdicts current, serves dashboard, API and metrics",
		Long: `Serve is the collector of a deployment of several vantage points.

It runs a NATS server with JetStream inside itself (serve.nats: listen address,
store_dir for records on their way, TLS with cert_file/key_file, and one user per
node under nodes, who may publish only on darkwatch.results.<its vantage> and its
heartbeat subject), or, with serve.nats.url, uses an external NATS/JetStream cluster.
Every record the nodes publish goes into the store (--store: SQLite or PostgreSQL)
and is acknowledged only once the store has committed it, so nothing is lost when
the collector stops, and nothing is stored twice when a node sends again.

With bgp.peers and bgp.local_asn set, serve is also a passive BGP route collector
(on bgp.listen, default port 179): the peers' announcements and withdrawals go into
the store, and verdicts combine the data plane with that control plane.

At start the verdicts and outage events of the last serve.window (default 6h) are
computed and stored; then every serve.refresh (default: the round) those of the
last rounds are, reaching back to the oldest record that came in meanwhile.

HTTP on --listen (serve.listen, default 127.0.0.1:8080):
  /             the dashboard (open it as /#token=TOKEN, or type the token in)
  /api/...      JSON: verdicts, events, targets, vantages, prefix, target
  /metrics      Prometheus metrics (no secrets, no per-token labels)
  /healthz      200 while the store and NATS are usable
The page and /api/ need a bearer token of serve.tokens (read-only); /metrics and
/healthz do not. SIGTERM or SIGINT stores what was taken and exits 0.`,
		Example: `  darkwatch serve --config /etc/darkwatch/collector.yaml
  darkwatch serve --config configs/lab.yaml --store sqlite:///tmp/collector.db --listen 127.0.0.1:8080
  curl -H "Authorization: Bearer $(cat /etc/darkwatch/api.token)" http://127.0.0.1:8080/api/events?since=24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, listen, natsListen) },
	}
	cmd.Flags().StringVar(&listen, "listen", "", "HTTP `addr` of dashboard, API and metrics (default serve.listen, 127.0.0.1:8080)")
	cmd.Flags().StringVar(&natsListen, "nats-listen", "", "client `addr` of the embedded NATS server (default serve.nats.listen; 0.0.0.0:4222 with TLS, else 127.0.0.1:4222)")
	return cmd
}

// vantageBoard is the collector's live view of the vantages, from heartbeats.
type vantageBoard struct {
	mu sync.Mutex
	hb map[string]transport.Heartbeat
}

func (b *vantageBoard) heartbeat(h transport.Heartbeat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hb[h.Vantage] = h
}

func (a *app) serve(cmd *cobra.Command, listen, natsListen string) error {
	ctx := cmd.Context()
	sc := a.cfg.Serve
	listen = pick(listen, pick(sc.Listen, defaultServeListen))
	defaultListen := defaultNATSListenPlaintext
	if sc.NATS.CertFile != "" {
		defaultListen = defaultNATSListen
	}
	natsListen = pick(natsListen, pick(sc.NATS.Listen, defaultListen))
	if sc.NATS.URL == "" {
		if err := sc.NATS.plaintextListen(natsListen); err != nil {
			return &ConfigError{Key: "serve.nats.listen", Msg: err.Error()}
		}
	}
	window := pick(sc.Window, defaultServeWindow)
	refresh := pick(sc.Refresh, a.cfg.Round)

	tokens := map[[32]byte]string{}
	for i, t := range sc.Tokens {
		secret, err := readSecret(fmt.Sprintf("serve.tokens[%d].file", i), t.File)
		if err != nil {
			return err
		}
		tokens[sha256.Sum256([]byte(secret))] = t.Name
	}
	if len(tokens) == 0 {
		a.log.Warn("serve.tokens is empty: the API and the dashboard's data are refused to everyone")
	}

	st, err := a.openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()

	nc, shutdown, err := a.collectorNATS(natsListen)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	defer shutdown()

	board := &vantageBoard{hb: map[string]transport.Heartbeat{}}
	col, err := transport.NewCollector(ctx, nc, transport.CollectorConfig{Store: st, Replicas: sc.NATS.Replicas,
		MaxBytes: sc.NATS.MaxBytes, MaxAge: sc.NATS.MaxAge, OnHeartbeat: board.heartbeat, Log: a.log.With("part", "collector")})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	colDone := make(chan error, 1)
	go func() { colDone <- col.Run(ctx) }()

	// The live control plane: BGP sessions from bgp.peers, routes to the store.
	bgpDone := make(chan struct{})
	if len(a.cfg.BGP.Peers) > 0 {
		cc, err := a.cfg.BGP.collectorConfig(nil)
		if err != nil {
			return usageErr("%v", err)
		}
		log := a.log.With("part", "bgp")
		cc.Logger = log
		go func() {
			defer close(bgpDone)
			if err := collectRoutes(ctx, st, cc, nil, log); err != nil {
				log.Error("the BGP collector stopped; records are still taken", "err", err)
			}
		}()
	} else {
		close(bgpDone)
	}

	// Verdicts and events: the whole window at start, then every refresh
	// from the oldest record stored since the last one (a node that was
	// away sends late), at least two refreshes back, at most the window.
	refreshDone := make(chan struct{})
	go func() {
		defer close(refreshDone)
		t := time.NewTicker(refresh)
		defer t.Stop()
		since := time.Now().Add(-window)
		for {
			if err := a.refreshAnalysis(ctx, st, since); err != nil {
				a.log.Warn("refreshing verdicts and events", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			since = now.Add(-2 * refresh)
			if oldest := col.TakeOldest(); !oldest.IsZero() && oldest.Before(since) {
				since = oldest
				if floor := now.Add(-window); since.Before(floor) {
					since = floor
				}
			}
		}
	}()

	reg := serveMetrics(col)
	var targets []dashboard.Target
	for _, ts := range a.cfg.Targets {
		t := dashboard.Target{Name: ts.Name, Prefixes: ts.Prefixes, ASN: ts.ASN, Country: ts.Country, Methods: ts.Methods}
		for _, h := range ts.Hosts {
			t.Hosts = append(t.Hosts, h.Addr)
		}
		targets = append(targets, t)
	}
	dash := dashboard.Handler(dashboard.Config{Store: st, Targets: targets, Window: window, Log: a.log.With("part", "api"),
		Refresh: max(refresh, 5*time.Second), Vantages: func() []dashboard.Vantage {
			counts, newest := col.VantageCounts()
			board.mu.Lock()
			defer board.mu.Unlock()
			names := map[string]bool{}
			for _, v := range a.cfg.Vantages {
				names[v] = true
			}
			for v := range counts {
				names[v] = true
			}
			for v := range board.hb {
				names[v] = true
			}
			var out []dashboard.Vantage
			for name := range names {
				h := board.hb[name]
				out = append(out, dashboard.Vantage{Name: name, LastSeen: h.Received, LastRecord: newest[name],
					Received: counts[name], Outbox: h.Outbox, OffsetMS: h.OffsetMS, RTTMS: h.RTTMS,
					Version: h.Version, Round: h.Round})
			}
			return out
		}})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", health{nats: nc.IsConnected, store: st,
		stalled: func() bool { return col.Stats().Stalled }, log: a.log})
	mux.Handle("/", a.guard(tokens, dash))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("serve.listen %s: %w", listen, err)}
	}
	srv := &http.Server{Handler: http.MaxBytesHandler(mux, maxRequestBytes), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: maxRequestBytes}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	a.log.Info("serving", "http", "http://"+ln.Addr().String()+"/", "store", store.Redact(a.cfg.Store))

	select {
	case <-ctx.Done():
	case err := <-httpDone:
		return &exitError{code: exitFailure, err: fmt.Errorf("http: %w", err)}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-colDone; err != nil {
		a.log.Warn("collector", "err", err)
	}
	<-refreshDone
	<-bgpDone
	a.log.Info("stopped; every record taken is stored")
	return nil
}

// guard lets the page through and asks the API for a bearer token of
// tokens (their SHA-256 sums, each compared in constant time). A refusal
// is logged with the client's address, never the token, at most once a
// minute with the count of those not logged.
func (a *app) guard(tokens map[[32]byte]string, h http.Handler) http.Handler {
	refusals := &rateLog{log: a.log, every: time.Minute}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !dashboard.APIOnly(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(given))
		var name string
		for k, n := range tokens {
			if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
				name = n
			}
		}
		if !ok || given == "" || name == "" {
			refusals.warn("API requests refused: no valid bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="darkwatch"`)
			http.Error(w, "a bearer token of serve.tokens is needed", http.StatusUnauthorized)
			return
		}
		a.log.Debug("API request", "reader", name, "path", r.URL.Path)
		h.ServeHTTP(w, r)
	})
}

// rateLog logs a warning at most once every so often, with how many like
// it were not logged since, so that a flood of bad requests cannot flood
// the log.
type rateLog struct {
	log   interface{ Warn(string, ...any) }
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *rateLog) warn(msg string, args ...any) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn(msg, append(args, "not_logged_since_last", n)...)
}

// health is /healthz: 200 "ok" while NATS is connected, the store answers
// and the collector is not stalled on it; else 503 naming which.
type health struct {
	nats    func() bool
	store   store.Store
	stalled func() bool
	log     interface{ Warn(string, ...any) }
}

func (h health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var bad []string
	if !h.nats() {
		bad = append(bad, "NATS not connected")
	}
	if err := h.store.Ping(ctx); err != nil {
		h.log.Warn("health check: the store does not answer", "err", err)
		bad = append(bad, "store not answering")
	}
	if h.stalled() {
		bad = append(bad, "collector stalled: the store does not take records")
	}
	if len(bad) > 0 {
		http.Error(w, strings.Join(bad, "; "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// collectorNATS starts the embedded server, or connects to the external one,
// and returns the collector's connection.
func (a *app) collectorNATS(listen string) (*nats.Conn, func(), error) {
	n := a.cfg.Serve.NATS
	log := a.log.With("part", "nats")
	opts := []nats.Option{nats.Name("darkwatch collector"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS connection back", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS", "err", err) }),
	}
	if n.URL != "" {
		if n.PasswordFile != "" {
			pw, err := readSecret("serve.nats.password_file", n.PasswordFile)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, nats.UserInfo(n.User, pw))
		}
		if n.NkeyFile != "" {
			if err := checkSecretMode("serve.nats.nkey_file", n.NkeyFile); err != nil {
				return nil, nil, err
			}
			o, err := nats.NkeyOptionFromSeed(n.NkeyFile)
			if err != nil {
				return nil, nil, &ConfigError{Key: "serve.nats.nkey_file", Msg: err.Error()}
			}
			opts = append(opts, o)
		}
		if n.CAFile != "" {
			pool, err := caPool("serve.nats.ca_file", n.CAFile)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
		}
		nc, err := nats.Connect(n.URL, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("serve.nats.url %s: %w", redactURL(n.URL), err)
		}
		a.log.Info("using external NATS", "server", nc.ConnectedUrlRedacted())
		return nc, nc.Close, nil
	}
	cfg := transport.ServerConfig{Listen: listen, StoreDir: n.StoreDir, Log: log}
	if cfg.StoreDir == "" {
		cfg.StoreDir = filepath.Join(filepath.Dir(strings.TrimPrefix(store.DefaultDSN(), "sqlite://")), "nats")
	}
	for i, u := range n.Nodes {
		nu := transport.NodeUser{Vantage: u.User, Nkey: u.Nkey}
		if u.PasswordFile != "" {
			pw, err := readSecret(fmt.Sprintf("serve.nats.nodes[%d].password_file", i), u.PasswordFile)
			if err != nil {
				return nil, nil, err
			}
			nu.Password = pw
		}
		cfg.Nodes = append(cfg.Nodes, nu)
	}
	if n.CertFile != "" {
		if err := checkSecretMode("serve.nats.key_file", n.KeyFile); err != nil {
			return nil, nil, err
		}
		cert, err := tls.LoadX509KeyPair(n.CertFile, n.KeyFile)
		if err != nil {
			return nil, nil, &ConfigError{Key: "serve.nats.cert_file", Msg: err.Error()}
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if n.ClientCAFile != "" {
			pool, err := caPool("serve.nats.client_ca_file", n.ClientCAFile)
			if err != nil {
				return nil, nil, err
			}
			cfg.TLS.ClientCAs, cfg.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	srv, err := transport.StartServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	nc, err := srv.Connect(opts...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	a.log.Info("NATS with JetStream embedded", "listen", srv.Addr().String(), "store_dir", cfg.StoreDir, "nodes", len(cfg.Nodes),
		"tls", cfg.TLS != nil)
	return nc, func() { nc.Close(); srv.Shutdown() }, nil
}

// refreshAnalysis recomputes the verdicts and events from since to now;
// analyze stores them.
func (a *app) refreshAnalysis(ctx context.Context, st store.Store, since time.Time) error {
	now := time.Now().UTC()
	_, _, err := a.analyze(ctx, st, since.UTC(), now)
	return err
}

// serveMetrics are what serve exports on /metrics.
func serveMetrics(col *transport.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	stat := func(f func(transport.CollectorStats) float64) func() float64 {
		return func() float64 { return f(col.Stats()) }
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_received_total",
			Help: "Messages taken from the stream, redeliveries included."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Received) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_stored_total",
			Help: "Records new to the store."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Stored) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_refused_total",
			Help: "Messages refused and dropped: not records of their subject's vantage, or holding a record the store refuses."}, stat(func(s transport.CollectorStats) float64 { return float64(s.Refused) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_stalled",
			Help: "1 while a batch waits for the store, which fails to take it: nothing is stored meanwhile."}, stat(func(s transport.CollectorStats) float64 {
			if s.Stalled {
				return 1
			}
			return 0
		})),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_store_errors_total",
			Help: "Failed store transactions (retried)."}, stat(func(s transport.CollectorStats) float64 { return float64(s.StoreErrors) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "darkwatch_collector_ingest_seconds_total",
			Help: "Time spent in store transactions."}, stat(func(s transport.CollectorStats) float64 { return s.IngestSeconds })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "darkwatch_collector_pending_records",
			Help: "Records waiting in the stream for the store."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := col.Pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
