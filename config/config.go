// Package config is darkwatch's whole configuration: the sections of the
// library packages (schedule, results/transport, results/serve, results/bgp)
// under one root, as the YAML file lays them out, and the few keys of the top
// (store, log_level, metrics). It gives the defaults (Defaults), says how
// values decode into it (Decoding), checks the whole (Validate: each section
// validates itself, this package checks what joins them), and knows the
// DARKWATCH_ environment variables that set its keys (UnknownEnv).
//
// Load reads a configuration file and the environment with viper and decodes
// them into a Config; Reload does it again for a daemon's SIGHUP. Packages
// below the command line get the typed sections, never this package's Config.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"darkwatch/results"
	"darkwatch/results/alert"
	"darkwatch/results/bgp"
	"darkwatch/results/serve"
	"darkwatch/results/transport"
	"darkwatch/schedule"
)

// Config is darkwatch's whole configuration. The scheduler's settings
// (vantage, targets, blocklist, rate, round, probe, vantages, redundancy,
// quorum) are schedule.Config's, which checks them itself.
type Config struct {
	schedule.Config `mapstructure:",squash"`

	Store string `mapstructure:"store"`
	// StorePasswordFile holds the PostgreSQL store's password, so that it
	// is in neither the DSN, the logs nor ps (refused when others may read it).
	StorePasswordFile string `mapstructure:"store_password_file"`
	// Retention is how long `run` and `serve` keep records and verdicts in
	// the store (0: for ever); at least the roll-up baselines' history.
	Retention time.Duration `mapstructure:"retention"`
	// Collector, Serve, BGP and Alerts are the sections of
	// results/transport, results/serve, results/bgp and results/alert,
	// which validate them.
	Collector transport.Link `mapstructure:"collector"`
	Serve     serve.Config   `mapstructure:"serve"`
	BGP       bgp.Section    `mapstructure:"bgp"`
	Alerts    alert.Config   `mapstructure:"alerts"`
	LogLevel  string         `mapstructure:"log_level"`
	// Metrics is the listen address of /metrics on `run` ("" = none).
	Metrics string `mapstructure:"metrics"`
}

// Error is a bad configuration: it names the key and, when there is one,
// the file. The command line exits 2 on it.
type Error = schedule.ConfigError

// Validate checks every value; the error, an *Error, names the offending
// key. It changes nothing.
func (c *Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log_level", Msg: fmt.Sprintf("%q is not one of debug, info, warn, error", c.LogLevel)}
	}
	if c.Retention < 0 || c.Retention > 0 && c.Retention < results.DefaultRollupSpan {
		return &Error{Key: "retention", Msg: fmt.Sprintf("%v is shorter than the %v of history the roll-up baselines read: give at least that, or 0 to keep everything",
			c.Retention, results.DefaultRollupSpan)}
	}
	return c.validateSections()
}

// validateSections has each library section validate itself, naming the
// key from the top of the file, and checks what joins them.
func (c *Config) validateSections() error {
	if err := c.Collector.Validate(); err != nil {
		return InSection("collector", err)
	}
	if c.Collector.URL != "" && c.Store == "" {
		return &Error{Key: "store", Msg: "a node that sends to a collector needs a local store, which keeps each record until the collector has it"}
	}
	if err := c.Serve.Validate(); err != nil {
		return InSection("serve", err)
	}
	if err := c.BGP.Validate(); err != nil {
		return InSection("bgp", err)
	}
	if err := c.Alerts.Validate(); err != nil {
		return InSection("alerts", err)
	}
	return nil
}

// AddAllow exempts the CIDRs of allow from the blocklist, as --allow does,
// and validates the result.
func (c *Config) AddAllow(allow []string) error {
	c.Allow = append(c.Allow, allow...)
	return c.Validate()
}

// InSection makes the error of a library's configuration section (one with
// a Field method giving the key within the section) an *Error naming the key
// from the top of the file; section "" is the top itself.
func InSection(section string, err error) error {
	var f interface{ Field() (string, string) }
	if !errors.As(err, &f) {
		return &Error{Key: section, Msg: err.Error()}
	}
	key, msg := f.Field()
	if section != "" {
		key = section + "." + key
	}
	return &Error{Key: key, Msg: msg}
}

// MetricsAddr is the address of /metrics: flag (the --metrics of run) when
// set, else the metrics key; "off" is none ("").
func (c *Config) MetricsAddr(flag string) string {
	addr := cmp.Or(flag, c.Metrics)
	if addr == "off" {
		return ""
	}
	return addr
}

// FixedAtStart says which key of next, a configuration read again for a
// SIGHUP, changes what a running daemon keeps from its start (the store,
// the collector link, /metrics, the log level, retention): such a
// configuration is refused whole, naming the key, and a restart applies it.
func (c *Config) FixedAtStart(next *Config) error {
	for _, k := range []struct {
		key     string
		changed bool
	}{
		{"store", c.Store != next.Store},
		{"store_password_file", c.StorePasswordFile != next.StorePasswordFile},
		{"retention", c.Retention != next.Retention},
		{"collector", !reflect.DeepEqual(c.Collector, next.Collector)},
		{"metrics", c.Metrics != next.Metrics},
		{"log_level", !strings.EqualFold(c.LogLevel, next.LogLevel)},
	} {
		if k.changed {
			return &Error{Key: k.key, Msg: "changed, and a running daemon keeps it from its start: restart darkwatch to apply the new file"}
		}
	}
	return nil
}
