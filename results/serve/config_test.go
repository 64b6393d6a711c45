package serve

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/results/transport"
)

// TestConfigValidate: the serve: section, with errors of its nats:
// subsection named below "nats".
func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Config
		key  string
		want string
	}{
		{"defaults", Config{}, "", ""},
		{"tokens", Config{Tokens: []APIToken{{Name: "a", File: "/a"}, {Name: "b", File: "/b", Role: "read"}}}, "", ""},
		{"bad listen", Config{Listen: "8080"}, "listen", "host:port"},
		{"token without name", Config{Tokens: []APIToken{{File: "/a"}}}, "tokens[0].name", "name"},
		{"token name twice", Config{Tokens: []APIToken{{Name: "a", File: "/a"}, {Name: "a", File: "/b"}}}, "tokens[1].name", "name"},
		{"token without file", Config{Tokens: []APIToken{{Name: "a"}}}, "tokens[0].file", "no file"},
		{"writing token", Config{Tokens: []APIToken{{Name: "a", File: "/a", Role: "write"}}}, "tokens[0].role", "read-only"},
		{"negative window", Config{Window: -time.Hour}, "refresh", "positive"},
		{"nats", Config{NATS: transport.ServeNATS{Replicas: 7}}, "nats.replicas", "7"},
		{"nats in clear", Config{NATS: transport.ServeNATS{Listen: "198.51.100.10:4222"}}, "nats.listen", "insecure_plaintext"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.want) {
				t.Errorf("error %v, want key %s mentioning %q", err, tt.key, tt.want)
			}
		})
	}
}

// TestDerived: the values Validate leaves to functions.
func TestDerived(t *testing.T) {
	var c Config
	if c.HTTPAddr("") != DefaultListen || c.AnalysisWindow() != DefaultWindow || c.RefreshEvery(time.Minute) != time.Minute {
		t.Errorf("defaults: %q %v %v", c.HTTPAddr(""), c.AnalysisWindow(), c.RefreshEvery(time.Minute))
	}
	c = Config{Listen: "127.0.0.1:1", Window: time.Hour, Refresh: time.Second}
	if c.HTTPAddr("") != c.Listen || c.HTTPAddr("127.0.0.1:2") != "127.0.0.1:2" || c.AnalysisWindow() != time.Hour || c.RefreshEvery(time.Minute) != time.Second {
		t.Errorf("configured: %q %v %v", c.HTTPAddr(""), c.AnalysisWindow(), c.RefreshEvery(time.Minute))
	}
}

// TestReadTokens: a token file others may read is refused naming its key;
// a private one gives the token's sum and its reader's name.
func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	open, private := filepath.Join(dir, "open"), filepath.Join(dir, "private")
	os.WriteFile(open, []byte("t0k3n\n"), 0o644)
	os.WriteFile(private, []byte("t0k3n\n"), 0o600)
	_, err := ReadTokens([]APIToken{{Name: "a", File: private}, {Name: "b", File: open}})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "tokens[1].file" || strings.Contains(err.Error(), "t0k3n") {
		t.Errorf("readable token file: %v", err)
	}
	tokens, err := ReadTokens([]APIToken{{Name: "a", File: private}})
	if err != nil || len(tokens) != 1 {
		t.Fatalf("%v, %v", tokens, err)
	}
	for _, name := range tokens {
		if name != "a" {
			t.Errorf("reader %q", name)
		}
	}
}
