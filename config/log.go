package config

import (
	"io"
	"log/slog"
)

// Logger is a text logger on w at the level of log_level (info when it
// does not parse, which Validate refuses).
func (c *Config) Logger(w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
