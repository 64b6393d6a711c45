package transport

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NodeUser is one node's credentials on the embedded server. The user name
// is the node's vantage name; it may publish only on that vantage's
// subjects.
type NodeUser struct {
	Vantage string
	// Password is the node's password, in clear or as a bcrypt hash
	// ("$2a$..."), which the server checks as such.
	Password string
	// Nkey is the node's public nkey ("U..."), instead of a password.
	Nkey string
}

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// Listen is the client address, host:port ("127.0.0.1:0" picks a port).
	Listen string
	// StoreDir holds JetStream's files; records on their way survive a
	// restart there.
	StoreDir string
	// TLS, when set, is required of every client.
	TLS   *tls.Config
	Nodes []NodeUser
	// Log receives the server's own log (connections refused, permission
	// violations); nil discards it.
	Log *slog.Logger
}

// Server is the NATS server with JetStream embedded in the collector.
type Server struct {
	ns *server.Server
	// user and password are the collector's own, made afresh at each start.
	user, password string
	// certs are the server's own certificates (DER), which the collector's
	// in-process connection accepts when TLS is on.
	certs [][]byte
}

// collectorUser is the user the collector itself connects as.
const collectorUser = "darkwatch-collector"

// NodePermissions are what a node may do: publish its records and
// heartbeats, and receive the replies to them.
func NodePermissions(vantage string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{ResultSubject(vantage), HeartbeatSubject(vantage)}},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(vantage) + ".>"}},
	}
}

// StartServer starts the embedded server and waits until it takes
// connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	host, port, err := listenHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("transport: the embedded server needs a storage directory")
	}
	var secret [24]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	s := &Server{user: collectorUser, password: hex.EncodeToString(secret[:])}
	if cfg.TLS != nil {
		for _, c := range cfg.TLS.Certificates {
			if len(c.Certificate) > 0 {
				s.certs = append(s.certs, c.Certificate[0])
			}
		}
	}
	opts := s.options(cfg, host, port)
	if err := addNodeUsers(opts, cfg.Nodes); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("transport: NATS server: %w", err)
	}
	if cfg.Log != nil {
		ns.SetLoggerV2(serverLog{cfg.Log.With("part", "nats")}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("transport: NATS server on %s did not start within 30 s", cfg.Listen)
	}
	s.ns = ns
	return s, nil
}

// listenHostPort splits the listen address into its host and port, port 0
// asking for a random one.
func listenHostPort(listen string) (host string, port int, err error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("transport: listen address %q: %v", listen, err)
	}
	port, err = strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("transport: listen address %q: port %q is not a number", listen, portText)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// options are the embedded server's options: JetStream on cfg's storage
// directory, TLS as cfg gives it, and the collector's own user, s's.
func (s *Server) options(cfg ServerConfig, host string, port int) *server.Options {
	return &server.Options{
		ServerName: "darkwatch-collector",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// A record the stream acknowledged to a node leaves that node's
		// outbox. A stream of one replica writes each message to its file
		// before acknowledging it (flush in place), so a killed collector
		// loses none; fsync waits for the sync interval, as only a crash of
		// the machine itself could lose what the kernel holds.
		MaxPayload: MaxPayload,
		NoSigs:     true,
		TLSConfig:  cfg.TLS,
		TLS:        cfg.TLS != nil,
		TLSVerify:  cfg.TLS != nil && cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert,
		TLSTimeout: 5,
		// The collector itself may do anything in its account.
		Users:       []*server.User{{Username: s.user, Password: s.password}},
		AuthTimeout: 5,
	}
}

// addNodeUsers adds each node's user to opts, by nkey or password, allowed
// only NodePermissions; a node named twice, or like the collector, or
// without a credential is an error.
func addNodeUsers(opts *server.Options, nodes []NodeUser) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		if err := CheckVantage(n.Vantage); err != nil {
			return fmt.Errorf("transport: node user: %w", err)
		}
		if seen[n.Vantage] || n.Vantage == collectorUser {
			return fmt.Errorf("transport: node user %q is given twice", n.Vantage)
		}
		seen[n.Vantage] = true
		switch {
		case n.Nkey != "":
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: n.Nkey, Permissions: NodePermissions(n.Vantage)})
		case n.Password != "":
			opts.Users = append(opts.Users, &server.User{Username: n.Vantage, Password: n.Password, Permissions: NodePermissions(n.Vantage)})
		default:
			return fmt.Errorf("transport: node user %q has neither a password nor an nkey", n.Vantage)
		}
	}
	return nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ns.Addr() }

// Connect connects the collector itself to the server, in process.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.UserInfo(s.user, s.password), nats.InProcessServer(s.ns),
		nats.Name("darkwatch collector"), nats.MaxReconnects(-1)}
	if len(s.certs) > 0 {
		// With TLS required, the in-process connection speaks TLS too. It
		// never leaves this process, and it is pinned to the server's own
		// certificate rather than checked against a CA the nodes use.
		base = append(base, nats.Secure(&tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pinning below
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					for _, der := range s.certs {
						if bytes.Equal(cs.PeerCertificates[0].Raw, der) {
							return nil
						}
					}
				}
				return errors.New("the embedded server presented a certificate not its own")
			},
		}))
	}
	return nats.Connect(s.ns.ClientURL(), append(base, opts...)...)
}

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// serverLog passes the NATS server's log to slog. Authentication and
// permission errors come through Errorf, naming user and subject, never a
// password.
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
