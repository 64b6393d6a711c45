package config

import (
	"errors"
	"strings"

	"github.com/spf13/viper"
)

// NewViper returns a viper with darkwatch's defaults that reads
// DARKWATCH_<KEY> environment variables (nested keys joined by '_').
func NewViper() *viper.Viper {
	v := viper.New()
	for key, val := range Defaults() {
		v.SetDefault(key, val)
	}
	v.SetEnvPrefix("DARKWATCH")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	return v
}

// Load reads the YAML file (if any) into v and decodes it strictly: unknown
// keys and ill-typed values are errors naming the key, and the whole is
// validated. Its errors are *Error, naming file.
func Load(v *viper.Viper, file string) (*Config, error) {
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var pe viper.ConfigParseError
			if errors.As(err, &pe) {
				return nil, &Error{File: file, Msg: "not valid YAML: " + strings.TrimSpace(pe.Error())}
			}
			return nil, &Error{File: file, Msg: err.Error()}
		}
	}
	var c Config
	if err := v.Unmarshal(&c, Decoding); err != nil {
		return nil, &Error{File: file, Msg: DecodeMessage(err)}
	}
	if err := c.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	return &c, nil
}

// Reload reads file again for a running daemon: the keys the command line
// set (set) and its --allow ranges keep their values. A configuration that
// changes what c's daemon keeps from its start is refused (FixedAtStart).
func (c *Config) Reload(file string, set map[string]string, allow []string) (*Config, error) {
	v := NewViper()
	for k, val := range set {
		v.Set(k, val)
	}
	next, err := Load(v, file)
	if err == nil && len(allow) > 0 {
		err = next.AddAllow(allow)
	}
	if err == nil {
		err = c.FixedAtStart(next)
	}
	if err != nil {
		return nil, err
	}
	return next, nil
}
