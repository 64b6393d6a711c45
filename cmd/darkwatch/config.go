package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"darkwatch/results/bgp"
	"darkwatch/results/serve"
	"darkwatch/results/transport"
	"darkwatch/schedule"
)

// Config is darkwatch's whole configuration, as read from YAML, DARKWATCH_*
// environment variables and flags. Packages below cmd/ never see viper: they get
// the typed values this struct yields. The scheduler's settings (vantage,
// targets, blocklist, rate, round, probe, vantages, redundancy, quorum) are
// schedule.Config's, which checks them itself.
type Config struct {
	schedule.Config `mapstructure:",squash"`

	Store string `mapstructure:"store"`
	// StorePasswordFile holds the PostgreSQL store's password, so that it
	// is in neither the DSN, the logs nor ps (refused when others may read it).
	StorePasswordFile string `mapstructure:"store_password_file"`
	// Collector, Serve and BGP are the sections of results/transport,
	// results/serve and results/bgp, which validate them.
	Collector transport.Link `mapstructure:"collector"`
	Serve     serve.Config   `mapstructure:"serve"`
	BGP       bgp.Section    `mapstructure:"bgp"`
	LogLevel  string         `mapstructure:"log_level"`
	// Metrics is the listen address of /metrics on `run` ("" = none).
	Metrics string `mapstructure:"metrics"`
}

// ConfigError is a bad configuration: it names the key and, when there is one,
// the file. It makes darkwatch exit 2.
type ConfigError = schedule.ConfigError

// defaults are set on every viper instance before the file is read.
func setDefaults(v *viper.Viper) {
	host, _ := os.Hostname()
	v.SetDefault("vantage", host)
	v.SetDefault("store", "")
	v.SetDefault("store_password_file", "")
	v.SetDefault("contact", "darkwatch measurement probe")
	v.SetDefault("rate.pps", 10000)
	v.SetDefault("rate.per_block_pps", 10)
	v.SetDefault("round", 11*time.Minute)
	v.SetDefault("quorum", 2)
	v.SetDefault("probe.timeout", 2*time.Second)
	v.SetDefault("probe.interval", time.Second)
	v.SetDefault("probe.count", 1)
	v.SetDefault("probe.parallel", 256)
	v.SetDefault("log_level", "info")
	v.SetDefault("metrics", "127.0.0.1:9108")
	v.SetDefault("bgp.full_feed.ipv4", bgp.FullFeedIPv4)
	v.SetDefault("bgp.full_feed.ipv6", bgp.FullFeedIPv6)
}

// loadConfig reads the file (if any) into v and decodes it strictly: unknown keys
// and ill-typed values are errors naming the key.
func loadConfig(v *viper.Viper, file string) (*Config, error) {
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var pe viper.ConfigParseError
			if errors.As(err, &pe) {
				return nil, &ConfigError{File: file, Msg: "not valid YAML: " + strings.TrimSpace(pe.Error())}
			}
			return nil, &ConfigError{File: file, Msg: err.Error()}
		}
	}
	var c Config
	dec := func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			refuseBareDuration,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	}
	if err := v.Unmarshal(&c, dec); err != nil {
		return nil, &ConfigError{File: file, Msg: decodeMessage(err)}
	}
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	return &c, nil
}

// durationType is the type of every duration key.
var durationType = reflect.TypeFor[time.Duration]()

// refuseBareDuration refuses a number where a duration goes: YAML's
// `timeout: 5` would otherwise be 5 nanoseconds, and every probe would time out.
func refuseBareDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v is a bare number, not a duration: write it with a unit, as %vs (seconds) or %vms", data, data, data)
	}
	return data, nil
}

// decodeMessage turns mapstructure's error list into one readable sentence.
func decodeMessage(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	s = strings.ReplaceAll(s, "\n", "; ")
	s = strings.ReplaceAll(s, "has invalid keys", "has unknown keys")
	return s
}

// Validate checks every value; the error, a *ConfigError, names the
// offending key. It changes nothing.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	return c.validateSections()
}

// validateSections has each library section validate itself, naming the
// key from the top of the file, and checks what joins them.
func (c *Config) validateSections() error {
	if err := c.Collector.Validate(); err != nil {
		return inSection("collector", err)
	}
	if c.Collector.URL != "" && c.Store == "" {
		return &ConfigError{Key: "store", Msg: "a node that sends to a collector needs a local store, which keeps each record until the collector has it"}
	}
	if err := c.Serve.Validate(); err != nil {
		return inSection("serve", err)
	}
	if err := c.BGP.Validate(); err != nil {
		return inSection("bgp", err)
	}
	return nil
}

// inSection makes the error of a library's configuration section (one with
// a Field method giving the key within the section) a ConfigError naming
// the key from the top of the file; section "" is the top itself.
func inSection(section string, err error) error {
	var f interface{ Field() (string, string) }
	if !errors.As(err, &f) {
		return &ConfigError{Key: section, Msg: err.Error()}
	}
	key, msg := f.Field()
	if section != "" {
		key = section + "." + key
	}
	return &ConfigError{Key: key, Msg: msg}
}

// envPrefix begins every environment variable darkwatch reads.
const envPrefix = "DARKWATCH_"

// otherEnv are DARKWATCH_ variables that are not configuration keys: the
// configuration file, and those of the test suite and benchmarks.
var otherEnv = []string{"CONFIG", "TEST_POSTGRES", "ARTIFACTS", "UPDATE_GOLDEN", "BENCH_SECONDS", "ICMP_UNPRIV_CHILD",
	"STORE_HELPER_DB", "STORE_HELPER_START", "STORE_HELPER_VANTAGE"}

// envNames gives the DARKWATCH_ variable of every configuration key: the
// key path of Config's fields, upper case, joined by '_'.
func envNames() []string {
	var names []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if opts == "squash" {
				walk(f.Type, prefix)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			name := prefix + strings.ToUpper(tag)
			names = append(names, envPrefix+name)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, name+"_")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	for _, n := range otherEnv {
		names = append(names, envPrefix+n)
	}
	return names
}

// unknownEnv returns a warning for every DARKWATCH_ variable of environ that
// darkwatch does not read, naming the closest one it does: a misspelt
// variable would otherwise be ignored without a word.
func unknownEnv(environ []string) []string {
	known := envNames()
	var warns []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || slices.Contains(known, name) {
			continue
		}
		best, dist := "", -1
		for _, k := range known {
			if d := editDistance(name, k); dist < 0 || d < dist {
				best, dist = k, d
			}
		}
		w := fmt.Sprintf("environment variable %s is not a darkwatch setting and is ignored", name)
		if dist <= max(3, len(name)/4) {
			w += fmt.Sprintf("; did you mean %s?", best)
		}
		warns = append(warns, w)
	}
	return warns
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
