package config

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestLogger(t *testing.T) {
	for _, c := range []struct {
		level string
		want  slog.Level // the lowest level logged
	}{
		{"debug", slog.LevelDebug},
		{"info", slog.LevelInfo},
		{"WARN", slog.LevelWarn},
		{"error", slog.LevelError},
	} {
		var b strings.Builder
		log := (&Config{LogLevel: c.level}).Logger(&b)
		if !log.Enabled(context.Background(), c.want) || log.Enabled(context.Background(), c.want-1) {
			t.Errorf("log_level %s: does not log from %v on", c.level, c.want)
		}
		log.Log(context.Background(), c.want, "hello")
		if !strings.Contains(b.String(), "msg=hello") {
			t.Errorf("log_level %s: wrote %q", c.level, b.String())
		}
	}
}
