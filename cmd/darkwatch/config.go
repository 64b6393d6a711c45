package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"darkwatch/config"
)

// newConfigViper returns a viper with darkwatch's defaults that reads
// DARKWATCH_<KEY> environment variables (nested keys joined by '_').
func newConfigViper() *viper.Viper {
	v := viper.New()
	for key, val := range config.Defaults() {
		v.SetDefault(key, val)
	}
	v.SetEnvPrefix("DARKWATCH")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	return v
}

// loadConfig reads the file (if any) into v and decodes it strictly: unknown keys
// and ill-typed values are errors naming the key.
func loadConfig(v *viper.Viper, file string) (*config.Config, error) {
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var pe viper.ConfigParseError
			if errors.As(err, &pe) {
				return nil, &config.Error{File: file, Msg: "not valid YAML: " + strings.TrimSpace(pe.Error())}
			}
			return nil, &config.Error{File: file, Msg: err.Error()}
		}
	}
	var c config.Config
	if err := v.Unmarshal(&c, config.Decoding); err != nil {
		return nil, &config.Error{File: file, Msg: config.DecodeMessage(err)}
	}
	if err := c.Validate(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	return &c, nil
}

// configFile is the configuration file of --config, else of DARKWATCH_CONFIG.
func configFile(cmd interface{ Flags() *pflag.FlagSet }) string {
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = os.Getenv("DARKWATCH_CONFIG")
	}
	return file
}
