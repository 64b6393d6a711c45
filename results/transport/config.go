package transport

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Link is a node's link to its collector, the collector: section of its
// configuration: where the node sends its records, with what credentials.
type Link struct {
	// URL names the collector's NATS server(s), comma-separated
	// (nats://host:4222, tls://host:4222); empty, the node sends nothing.
	URL          string `mapstructure:"url"`
	User         string `mapstructure:"user"`
	PasswordFile string `mapstructure:"password_file"`
	// NkeyFile holds the node's nkey seed, instead of user and password.
	NkeyFile string `mapstructure:"nkey_file"`
	// CAFile is the CA that signed the collector's certificate (tls:// URLs).
	CAFile    string        `mapstructure:"ca_file"`
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// InsecurePlaintext lets a node send its credentials over nats:// to
	// a host other than this one, in clear (an isolated lab network).
	InsecurePlaintext bool `mapstructure:"insecure_plaintext"`
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

// Listen addresses of the embedded server when none is configured: every
// address with TLS, loopback only without (see ServeNATS.PlaintextListen).
const (
	DefaultListen          = "0.0.0.0:4222"
	DefaultListenPlaintext = "127.0.0.1:4222"
)

// ConfigError is a bad value of a configuration section of this package.
// Key names the value within the section ("nodes[0].user"); the caller
// puts the section's own name before it.
type ConfigError struct {
	Key string
	Msg string
}

// Error names the key and says what is wrong with its value.
func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// Field returns the key and the complaint apart.
func (e *ConfigError) Field() (key, msg string) { return e.Key, e.Msg }

func bad(key, format string, a ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
}

// Validate checks the collector: section. Whether the node has a store
// to keep its records in until the collector has them is the caller's to
// check: the store is not this section's.
func (c *Link) Validate() error {
	if c.URL == "" {
		if c.User != "" || c.PasswordFile != "" || c.NkeyFile != "" || c.CAFile != "" {
			return bad("url", "must be set when other collector keys are (nats://host:4222 or tls://host:4222)")
		}
		return nil
	}
	if err := CheckURL(c.URL); err != nil {
		return bad("url", "%v", err)
	}
	if c.NkeyFile != "" && (c.User != "" || c.PasswordFile != "") {
		return bad("nkey_file", "goes alone: an nkey replaces user and password_file")
	}
	if c.NkeyFile == "" && (c.User == "") != (c.PasswordFile == "") {
		return bad("user", "and password_file go together")
	}
	if c.Heartbeat < 0 {
		return bad("heartbeat", "must be positive, not %v", c.Heartbeat)
	}
	if err := plaintextCredentials(c.URL, c.CAFile != "", c.PasswordFile != "" || c.NkeyFile != "", c.InsecurePlaintext); err != nil {
		return bad("url", "%v; use tls:// (or ca_file), or set insecure_plaintext: true on an isolated network", err)
	}
	return nil
}

// Validate checks the collector's nats: section.
func (n *ServeNATS) Validate() error {
	if err := n.validateServer(); err != nil {
		return err
	}
	if err := n.validateNodes(); err != nil {
		return err
	}
	if n.URL != "" {
		if err := CheckURL(n.URL); err != nil {
			return bad("url", "%v", err)
		}
		if len(n.Nodes) > 0 {
			return bad("nodes", "are for the embedded server; with url the external server's configuration holds the node users")
		}
		if n.NkeyFile == "" && (n.User == "") != (n.PasswordFile == "") {
			return bad("user", "and password_file go together")
		}
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		return bad("replicas", "must be 1 to 5, not %d", n.Replicas)
	}
	if n.MaxBytes < 0 {
		return bad("max_bytes", "must be positive, not %d", n.MaxBytes)
	}
	if n.MaxAge < 0 {
		return bad("max_age", "must be positive, not %v", n.MaxAge)
	}
	if n.URL != "" {
		if err := plaintextCredentials(n.URL, n.CAFile != "", n.PasswordFile != "" || n.NkeyFile != "", n.InsecurePlaintext); err != nil {
			return bad("url", "%v; use tls:// (or ca_file), or set insecure_plaintext: true on an isolated network", err)
		}
	} else if n.Listen != "" {
		if err := n.PlaintextListen(n.Listen); err != nil {
			return bad("listen", "%v", err)
		}
	}
	return nil
}

// validateServer checks the embedded server's address and TLS files.
func (n *ServeNATS) validateServer() error {
	if n.Listen != "" {
		if _, _, err := net.SplitHostPort(n.Listen); err != nil {
			return bad("listen", "%q is not host:port", n.Listen)
		}
	}
	if (n.CertFile == "") != (n.KeyFile == "") {
		return bad("cert_file", "and key_file go together")
	}
	if n.ClientCAFile != "" && n.CertFile == "" {
		return bad("client_ca_file", "needs cert_file and key_file")
	}
	return nil
}

// validateNodes checks the node users of the embedded server.
func (n *ServeNATS) validateNodes() error {
	users := map[string]bool{}
	for i, u := range n.Nodes {
		key := fmt.Sprintf("nodes[%d]", i)
		if err := CheckVantage(u.User); err != nil {
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
	return nil
}

// ListenAddr is the embedded server's client address: flag when given,
// else the configured one, else DefaultListen with TLS and
// DefaultListenPlaintext without.
func (n *ServeNATS) ListenAddr(flag string) string {
	switch {
	case flag != "":
		return flag
	case n.Listen != "":
		return n.Listen
	case n.CertFile != "":
		return DefaultListen
	}
	return DefaultListenPlaintext
}

// PlaintextListen refuses an embedded server without TLS on an address
// other than loopback, where the nodes' passwords would cross the network
// in clear, unless insecure_plaintext says so.
func (n *ServeNATS) PlaintextListen(listen string) error {
	if n.CertFile != "" || n.InsecurePlaintext {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%s without TLS: the nodes' passwords would cross the network in clear; "+
		"give cert_file and key_file, listen on 127.0.0.1, or set insecure_plaintext: true "+
		"on an isolated network", listen)
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
		return fmt.Errorf("%s would carry the credentials in clear to %s", redact(part), u.Hostname())
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

// CheckURL checks a comma-separated list of NATS URLs: nats:// or tls://,
// with a host and without credentials. The error never repeats a password.
func CheckURL(s string) error {
	for _, part := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			return fmt.Errorf("%q is not a URL like nats://host:4222", redact(part))
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("%q: scheme must be nats:// or tls://", redact(part))
		}
		if u.User != nil {
			return fmt.Errorf("%q: give credentials in user and password_file, not in the URL", redact(part))
		}
	}
	return nil
}
