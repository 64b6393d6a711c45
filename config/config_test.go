package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"darkwatch/results/alert"
	"darkwatch/schedule"
)

// TestConfigVantageRules: the settings that would make the merge of vantage
// points misjudge (a quorum it can never reach, vantages without canaries,
// canaries among the targets) are refused, naming the field; their
// neighbours that are sound are not.
func TestConfigVantageRules(t *testing.T) {
	canary := []schedule.HostConfig{{Addr: "198.51.100.1"}}
	targets := []schedule.TargetSet{{Name: "space", Prefixes: []string{"203.0.113.0/24"},
		Hosts: []schedule.HostConfig{{Addr: "203.0.113.15"}}}}
	tests := []struct {
		name string
		edit func(c *Config)
		key  string // the key the error names; "" for a valid configuration
		want string // in the error
	}{
		{"defaults", func(c *Config) {}, "", ""},
		{"quorum above redundancy", func(c *Config) { c.Redundancy, c.Quorum = 1, 2 }, "quorum", "redundancy 1"},
		{"quorum equal to redundancy", func(c *Config) { c.Redundancy, c.Quorum = 2, 2 }, "", ""},
		{"quorum with no redundancy", func(c *Config) { c.Redundancy, c.Quorum = 0, 5 }, "", ""},
		{"quorum above vantages", func(c *Config) {
			c.Vantages, c.Canaries, c.Quorum = []string{"vp1", "vp2"}, canary, 3
		}, "quorum", "vantages (2)"},
		{"quorum of one vantage", func(c *Config) { c.Vantages, c.Quorum = []string{"vp1"}, 2 }, "quorum", "vantages (1)"},
		{"quorum equal to vantages", func(c *Config) {
			c.Vantages, c.Canaries, c.Quorum = []string{"vp1", "vp2"}, canary, 2
		}, "", ""},
		{"quorum above redundancy, vantages enough", func(c *Config) {
			c.Vantages, c.Canaries, c.Redundancy, c.Quorum = []string{"vp1", "vp2", "vp3"}, canary, 1, 2
		}, "quorum", "redundancy 1"},
		{"vantages without canaries", func(c *Config) { c.Vantages = []string{"vp1", "vp2", "vp3"} }, "canaries", "target outage"},
		{"one vantage without canaries", func(c *Config) { c.Vantages, c.Quorum = []string{"vp1"}, 1 }, "", ""},
		{"canary that does not parse", func(c *Config) { c.Canaries = []schedule.HostConfig{{Addr: "198.51.100"}} }, "canaries[0].addr", "not an IP address"},
		{"canary inside a target prefix", func(c *Config) {
			c.Targets, c.Canaries = targets, []schedule.HostConfig{{Addr: "198.51.100.1"}, {Addr: "203.0.113.254"}}
		}, "canaries[1].addr", "targets[0].prefixes[0]"},
		{"canary on a known host", func(c *Config) {
			c.Targets = []schedule.TargetSet{{Name: "ns", Hosts: []schedule.HostConfig{{Addr: "2001:db8::53"}}}}
			c.Canaries = []schedule.HostConfig{{Addr: "2001:db8::53"}}
		}, "canaries[0].addr", "targets[0].hosts[0]"},
		{"canaries away from the targets", func(c *Config) {
			c.Targets, c.Canaries = targets, []schedule.HostConfig{{Addr: "198.51.100.2"}, {Addr: "2001:db8::1"}}
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{LogLevel: "info", Config: schedule.Config{Vantage: "vp1", Round: time.Minute, Quorum: 2,
				Probe: schedule.ProbeConfig{Timeout: time.Second, Count: 1, Parallel: 1}}}
			tt.edit(c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want an Error for %s", err, tt.key)
			}
			if ce.Key != tt.key || !strings.Contains(ce.Msg, tt.want) || strings.Contains(ce.Msg, "\n") {
				t.Errorf("error %q (key %q), want one line for %s mentioning %q", err, ce.Key, tt.key, tt.want)
			}
		})
	}
}

// TestValidateTop: the keys of the top and the joins of the sections are
// checked, naming the key from the top of the file.
func TestValidateTop(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(c *Config)
		key  string // "" for a valid configuration
	}{
		{"defaults", func(c *Config) {}, ""},
		{"log level in capitals", func(c *Config) { c.LogLevel = "DEBUG" }, ""},
		{"unknown log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"collector without a store", func(c *Config) { c.Collector.URL = "tls://collector.example:4222" }, "store"},
		{"bad allow", func(c *Config) { c.Allow = []string{"172.16.0.0/33"} }, "allow[0]"},
		{"retention of 30 days", func(c *Config) { c.Retention = 30 * 24 * time.Hour }, ""},
		{"retention shorter than the baselines", func(c *Config) { c.Retention = 24 * time.Hour }, "retention"},
		{"negative retention", func(c *Config) { c.Retention = -time.Hour }, "retention"},
		{"alerts", func(c *Config) { c.Alerts.Alertmanager = []string{"http://127.0.0.1:9093"} }, ""},
		{"alerts with a bad webhook", func(c *Config) { c.Alerts.Webhooks = []alert.Webhook{{URL: "hooks.example.org"}} }, "alerts.webhooks[0].url"},
		{"alerts of an unknown level", func(c *Config) { c.Alerts.Levels = []string{"city"} }, "alerts.levels[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &Config{LogLevel: "info", Config: schedule.Config{Vantage: "vp1", Round: time.Minute, Quorum: 2,
				Probe: schedule.ProbeConfig{Timeout: time.Second, Count: 1, Parallel: 1}}}
			c.edit(cfg)
			err := cfg.Validate()
			var ce *Error
			switch {
			case c.key == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.key != "" && (!errors.As(err, &ce) || !strings.HasPrefix(ce.Key, c.key)):
				t.Errorf("error %v, want an Error for %s", err, c.key)
			}
		})
	}
}

// fieldError is a section's error with the key inside the section.
type fieldError struct{ key, msg string }

func (e *fieldError) Error() string                { return e.key + ": " + e.msg }
func (e *fieldError) Field() (key, message string) { return e.key, e.msg }

func TestInSection(t *testing.T) {
	for _, c := range []struct {
		section string
		err     error
		key     string
		msg     string
	}{
		{"serve", &fieldError{"nats.replicas", "7 is too many"}, "serve.nats.replicas", "7 is too many"},
		{"", &fieldError{"store_password_file", "empty"}, "store_password_file", "empty"},
		{"collector", errors.New("no url"), "collector", "no url"},
	} {
		err := InSection(c.section, c.err)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key || ce.Msg != c.msg {
			t.Errorf("InSection(%q, %v) = %#v, want key %q message %q", c.section, c.err, err, c.key, c.msg)
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	for _, c := range []struct{ flag, key, want string }{
		{"", "127.0.0.1:9108", "127.0.0.1:9108"},
		{"127.0.0.1:9999", "127.0.0.1:9108", "127.0.0.1:9999"},
		{"off", "127.0.0.1:9108", ""},
		{"", "off", ""},
		{"", "", ""},
	} {
		if got := (&Config{Metrics: c.key}).MetricsAddr(c.flag); got != c.want {
			t.Errorf("flag %q, metrics %q: %q, want %q", c.flag, c.key, got, c.want)
		}
	}
}

// TestFixedAtStart: a SIGHUP's configuration that changes what a running
// daemon cannot change is refused, naming the key; other changes pass.
func TestFixedAtStart(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(c *Config)
		key  string // "" when the change can be applied
	}{
		{"nothing", func(c *Config) {}, ""},
		{"targets and rate", func(c *Config) { c.Rate.PPS = 50; c.Vantage = "vp1b" }, ""},
		{"log level in capitals", func(c *Config) { c.LogLevel = "INFO" }, ""},
		{"store", func(c *Config) { c.Store = "sqlite:///var/lib/darkwatch/other.db" }, "store"},
		{"store password file", func(c *Config) { c.StorePasswordFile = "/etc/darkwatch/pg.pass" }, "store_password_file"},
		{"collector", func(c *Config) { c.Collector.URL = "tls://collector.example:4222" }, "collector"},
		{"metrics", func(c *Config) { c.Metrics = "127.0.0.1:9200" }, "metrics"},
		{"retention", func(c *Config) { c.Retention = 30 * 24 * time.Hour }, "retention"},
		{"log level", func(c *Config) { c.LogLevel = "debug" }, "log_level"},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := &Config{LogLevel: "info", Store: "sqlite:///var/lib/darkwatch/darkwatch.db", Metrics: "127.0.0.1:9108",
				Config: schedule.Config{Vantage: "vp1"}}
			next := *old
			c.edit(&next)
			err := old.FixedAtStart(&next)
			var ce *Error
			switch {
			case c.key == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.key != "" && (!errors.As(err, &ce) || ce.Key != c.key):
				t.Errorf("error %v, want an Error for %s", err, c.key)
			}
		})
	}
}
