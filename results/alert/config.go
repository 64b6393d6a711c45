package alert

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"darkwatch/results"
)

// Config is the alerts: section of the configuration: where outage events
// are sent, and which.
type Config struct {
	// Alertmanager are the base URLs of Prometheus Alertmanagers
	// ("http://127.0.0.1:9093"), each sent every alert (API v2).
	Alertmanager []string `mapstructure:"alertmanager"`
	// Webhooks are generic receivers of one JSON message per alert that
	// fires and per alert that resolves.
	Webhooks []Webhook `mapstructure:"webhooks"`
	// Levels are the levels whose events alert (default DefaultLevels).
	Levels []string `mapstructure:"levels"`
	// MinDuration is how long an event must have lasted before it alerts:
	// an event shorter than that never does.
	MinDuration time.Duration `mapstructure:"min_duration"`
	// Resend is how often the firing alerts are sent to Alertmanager again
	// (default DefaultResend); each firing alert says it ends four of them
	// later, so that Alertmanager resolves it if darkwatch stops sending.
	Resend time.Duration `mapstructure:"resend"`
	// Timeout bounds one request to an Alertmanager (default DefaultTimeout).
	Timeout time.Duration `mapstructure:"timeout"`
	// DashboardURL, when set, is the link each alert carries back
	// (generatorURL): the collector's dashboard.
	DashboardURL string `mapstructure:"dashboard_url"`
}

// Webhook is one generic webhook receiver.
type Webhook struct {
	URL string `mapstructure:"url"`
	// Timeout bounds one request (default DefaultTimeout).
	Timeout time.Duration `mapstructure:"timeout"`
	// Headers are sent with every request.
	Headers map[string]string `mapstructure:"headers"`
	// BearerTokenFile holds a token sent as "Authorization: Bearer TOKEN"
	// (a file only its owner may read).
	BearerTokenFile string `mapstructure:"bearer_token_file"`
}

// Defaults of the alerts: section.
const (
	DefaultResend  = time.Minute
	DefaultTimeout = 10 * time.Second
)

// DefaultLevels are the levels that alert when levels: is not given: the
// roll-ups an on-call person acts on, not every /24.
var DefaultLevels = []string{results.LevelPrefix, results.LevelASN, results.LevelCountry}

// ConfigError is a bad value of the alerts: section. Key names it within
// the section ("webhooks[0].url"); the caller puts the section's name
// before it.
type ConfigError struct {
	Key string
	Msg string
}

// Error names the key and says what is wrong with its value.
func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// Field returns the key and the complaint apart.
func (e *ConfigError) Field() (key, msg string) { return e.Key, e.Msg }

// Enabled reports whether the section names anywhere to send alerts.
func (c *Config) Enabled() bool { return len(c.Alertmanager) > 0 || len(c.Webhooks) > 0 }

// Validate checks the section; it fills in nothing (see AlertLevels,
// ResendEvery and AlertmanagerTimeout for the values derived from it).
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	for i, u := range c.Alertmanager {
		if err := checkURL(u); err != nil {
			return bad(fmt.Sprintf("alertmanager[%d]", i), "%v", err)
		}
	}
	for i, w := range c.Webhooks {
		if err := w.validate(); err != nil {
			return within(fmt.Sprintf("webhooks[%d]", i), err)
		}
	}
	for i, l := range c.Levels {
		if !slices.Contains(results.Levels, l) {
			return bad(fmt.Sprintf("levels[%d]", i), "%q is not one of %s", l, strings.Join(results.Levels, ", "))
		}
	}
	switch {
	case c.MinDuration < 0:
		return bad("min_duration", "must not be negative")
	case c.Resend < 0 || c.Resend > 0 && c.Resend < time.Second:
		return bad("resend", "%v: at least 1s, or leave it out for %v", c.Resend, DefaultResend)
	case c.Timeout < 0:
		return bad("timeout", "must not be negative")
	}
	if c.DashboardURL != "" {
		if err := checkURL(c.DashboardURL); err != nil {
			return bad("dashboard_url", "%v", err)
		}
	}
	return nil
}

// validate checks one webhook; keys are within it.
func (w *Webhook) validate() error {
	if err := checkURL(w.URL); err != nil {
		return &ConfigError{Key: "url", Msg: err.Error()}
	}
	if w.Timeout < 0 {
		return &ConfigError{Key: "timeout", Msg: "must not be negative"}
	}
	for name := range w.Headers {
		canon := http.CanonicalHeaderKey(name)
		switch {
		case name == "" || strings.ContainsAny(name, " :\r\n"):
			return &ConfigError{Key: "headers", Msg: fmt.Sprintf("%q is not a header name", name)}
		case canon == "Content-Type" || canon == "Content-Length" || canon == "Host":
			return &ConfigError{Key: "headers." + name, Msg: "is set by darkwatch itself"}
		case canon == "Authorization" && w.BearerTokenFile != "":
			return &ConfigError{Key: "headers." + name, Msg: "and bearer_token_file both set the Authorization header; keep one"}
		}
	}
	return nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: write it as http://HOST:PORT", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: only http:// and https:// URLs", Redact(s))
	case u.Host == "":
		return fmt.Errorf("%q names no host", Redact(s))
	}
	return nil
}

// within makes an error of a subsection an error of this section, its key
// below prefix.
func within(prefix string, err error) error {
	if ce, ok := err.(*ConfigError); ok {
		return &ConfigError{Key: prefix + "." + ce.Key, Msg: ce.Msg}
	}
	return err
}

// AlertLevels are the levels whose events alert: Levels, else DefaultLevels.
func (c *Config) AlertLevels() []string {
	if len(c.Levels) > 0 {
		return c.Levels
	}
	return DefaultLevels
}

// ResendEvery is how often firing alerts go to Alertmanager again: Resend,
// else DefaultResend.
func (c *Config) ResendEvery() time.Duration {
	if c.Resend > 0 {
		return c.Resend
	}
	return DefaultResend
}

// AlertmanagerTimeout bounds one request to an Alertmanager: Timeout, else
// DefaultTimeout.
func (c *Config) AlertmanagerTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Redact returns a URL as it may be logged and shown in metrics: without
// its user information and query, which may hold secrets.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
