package config

import (
	"strings"
	"testing"
)

func TestUnknownEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want string // in the one warning; "" for none
	}{
		{"DARKWATCH_VANTAGE=vp1", ""},
		{"DARKWATCH_PROBE_TIMEOUT=x", ""},
		{"DARKWATCH_COLLECTOR_PASSWORD_FILE=x", ""},
		{"DARKWATCH_SERVE_NATS_URL=x", ""},
		{"DARKWATCH_CONFIG=x", ""},
		{"PATH=/bin", ""},
		{"DARKWATCH_RATE_PSS=5", "DARKWATCH_RATE_PSS is not a darkwatch setting and is ignored; did you mean DARKWATCH_RATE_PPS?"},
		{"DARKWATCH_NOTHING_LIKE_ANY_SETTING_AT_ALL=1", "is ignored"},
	} {
		w := UnknownEnv([]string{c.env})
		switch {
		case c.want == "" && len(w) != 0:
			t.Errorf("%s: %v", c.env, w)
		case c.want != "" && (len(w) != 1 || !strings.Contains(w[0], c.want)):
			t.Errorf("%s: %v, want a warning saying %q", c.env, w, c.want)
		}
	}
	if w := UnknownEnv([]string{"DARKWATCH_NOTHING_LIKE_ANY_SETTING_AT_ALL=1"}); strings.Contains(w[0], "did you mean") {
		t.Errorf("a far name guessed: %v", w)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"PSS", "PPS", 1},
		{"kitten", "sitting", 3},
		{"DARKWATCH_VANTAGE", "DARKWATCH_VANTAGE", 0},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
