package transport

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"darkwatch/results/store"
)

// ConnectCollector starts the embedded server on listen, or connects to
// the external one n.URL names, and returns the collector's connection and
// what closes it (and stops the embedded server). Secrets are read from the
// files n names; an unusable one is a *ConfigError naming its key.
func ConnectCollector(n ServeNATS, listen string, log *slog.Logger) (*nats.Conn, func(), error) {
	opts := collectorOptions(log)
	if n.URL != "" {
		return connectExternal(n, opts, log)
	}
	return startEmbedded(n, listen, opts, log)
}

// collectorOptions are the collector connection's options: reconnect for
// ever, and log what happens to the connection.
func collectorOptions(log *slog.Logger) []nats.Option {
	return []nats.Option{nats.Name("darkwatch collector"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS connection back", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS", "err", err) }),
	}
}

// connectExternal connects to the external server of n.URL with n's
// credentials and CA.
func connectExternal(n ServeNATS, opts []nats.Option, log *slog.Logger) (*nats.Conn, func(), error) {
	if n.PasswordFile != "" {
		pw, err := ReadSecret("password_file", n.PasswordFile)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, nats.UserInfo(n.User, pw))
	}
	if n.NkeyFile != "" {
		if err := CheckSecretMode("nkey_file", n.NkeyFile); err != nil {
			return nil, nil, err
		}
		o, err := nats.NkeyOptionFromSeed(n.NkeyFile)
		if err != nil {
			return nil, nil, &ConfigError{Key: "nkey_file", Msg: err.Error()}
		}
		opts = append(opts, o)
	}
	if n.CAFile != "" {
		pool, err := CAPool("ca_file", n.CAFile)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats url %s: %w", redact(n.URL), err)
	}
	log.Info("using external NATS", "server", nc.ConnectedUrlRedacted())
	return nc, nc.Close, nil
}

// startEmbedded starts the embedded server on listen with n's node users
// and TLS, and connects to it.
func startEmbedded(n ServeNATS, listen string, opts []nats.Option, log *slog.Logger) (*nats.Conn, func(), error) {
	if err := n.PlaintextListen(listen); err != nil {
		return nil, nil, &ConfigError{Key: "listen", Msg: err.Error()}
	}
	cfg, err := n.serverConfig(listen, log)
	if err != nil {
		return nil, nil, err
	}
	srv, err := StartServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	nc, err := srv.Connect(opts...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	log.Info("NATS with JetStream embedded", "listen", srv.Addr().String(), "store_dir", cfg.StoreDir, "nodes", len(cfg.Nodes),
		"tls", cfg.TLS != nil)
	return nc, func() { nc.Close(); srv.Shutdown() }, nil
}

// serverConfig is the embedded server n describes, its secrets read: the
// store directory (default: nats beside the default store), the node users
// and TLS.
func (n ServeNATS) serverConfig(listen string, log *slog.Logger) (ServerConfig, error) {
	cfg := ServerConfig{Listen: listen, StoreDir: n.StoreDir, Log: log}
	if cfg.StoreDir == "" {
		cfg.StoreDir = filepath.Join(filepath.Dir(strings.TrimPrefix(store.DefaultDSN(), "sqlite://")), "nats")
	}
	for i, u := range n.Nodes {
		nu := NodeUser{Vantage: u.User, Nkey: u.Nkey}
		if u.PasswordFile != "" {
			pw, err := ReadSecret(fmt.Sprintf("nodes[%d].password_file", i), u.PasswordFile)
			if err != nil {
				return cfg, err
			}
			nu.Password = pw
		}
		cfg.Nodes = append(cfg.Nodes, nu)
	}
	if n.CertFile == "" {
		return cfg, nil
	}
	if err := CheckSecretMode("key_file", n.KeyFile); err != nil {
		return cfg, err
	}
	cert, err := tls.LoadX509KeyPair(n.CertFile, n.KeyFile)
	if err != nil {
		return cfg, &ConfigError{Key: "cert_file", Msg: err.Error()}
	}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if n.ClientCAFile != "" {
		pool, err := CAPool("client_ca_file", n.ClientCAFile)
		if err != nil {
			return cfg, err
		}
		cfg.TLS.ClientCAs, cfg.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
