package serve

import (
	"errors"
	"fmt"
	"net"
	"time"

	"darkwatch/results/transport"
)

// Config is the serve: section of the configuration: the collector's HTTP
// side and its NATS.
type Config struct {
	// Listen is the HTTP address of the dashboard, API, /metrics and /healthz.
	Listen string `mapstructure:"listen"`
	// Tokens may read the API and the dashboard's data.
	Tokens []APIToken `mapstructure:"tokens"`
	// Refresh is how often verdicts and events are recomputed (default:
	// the round); Window how far back (default 6h).
	Refresh time.Duration       `mapstructure:"refresh"`
	Window  time.Duration       `mapstructure:"window"`
	NATS    transport.ServeNATS `mapstructure:"nats"`
}

// APIToken is one bearer token of the API, read from File. Role "read" (the
// default and, for now, the only one) may read everything the API shows.
type APIToken struct {
	Name string `mapstructure:"name"`
	File string `mapstructure:"file"`
	Role string `mapstructure:"role"`
}

// Defaults of the serve: section.
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultWindow = 6 * time.Hour
)

// ConfigError is a bad value of the serve: section. Key names it within
// the section ("tokens[0].file", "nats.listen"); the caller puts the
// section's name before it.
type ConfigError struct {
	Key string
	Msg string
}

// Error names the key and says what is wrong with its value.
func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// Field returns the key and the complaint apart.
func (e *ConfigError) Field() (key, msg string) { return e.Key, e.Msg }

// within makes an error of a subsection (one with a Field method, as
// transport's) an error of this section, its key below prefix.
func within(prefix string, err error) error {
	var f interface{ Field() (string, string) }
	if errors.As(err, &f) {
		key, msg := f.Field()
		if prefix != "" {
			key = prefix + "." + key
		}
		return &ConfigError{Key: key, Msg: msg}
	}
	return err
}

// Validate checks the section; it fills in nothing (see HTTPAddr,
// AnalysisWindow and RefreshEvery for the values derived from it).
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return bad("listen", "%q is not host:port", c.Listen)
		}
	}
	names := map[string]bool{}
	for i, t := range c.Tokens {
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
	if c.Refresh < 0 || c.Window < 0 {
		return bad("refresh", "and window must be positive")
	}
	if err := c.NATS.Validate(); err != nil {
		return within("nats", err)
	}
	return nil
}

// HTTPAddr is the HTTP address: flag when given, else the configured one,
// else DefaultListen.
func (c *Config) HTTPAddr(flag string) string {
	switch {
	case flag != "":
		return flag
	case c.Listen != "":
		return c.Listen
	}
	return DefaultListen
}

// AnalysisWindow is how far back verdicts are computed at start and the
// dashboard looks: Window, else DefaultWindow.
func (c *Config) AnalysisWindow() time.Duration {
	if c.Window > 0 {
		return c.Window
	}
	return DefaultWindow
}

// RefreshEvery is how often verdicts are recomputed: Refresh, else round.
func (c *Config) RefreshEvery(round time.Duration) time.Duration {
	if c.Refresh > 0 {
		return c.Refresh
	}
	return round
}
