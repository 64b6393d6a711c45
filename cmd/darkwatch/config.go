package main

import (
	"os"

	"github.com/spf13/pflag"
)

// configFile is the configuration file of --config, else of DARKWATCH_CONFIG.
func configFile(cmd interface{ Flags() *pflag.FlagSet }) string {
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = os.Getenv("DARKWATCH_CONFIG")
	}
	return file
}
