package transport

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLinkValidate: the collector: section of a node, each bad value
// refused naming its key within the section, and never repeating a
// password given in the URL.
func TestLinkValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		link Link
		key  string // "" for valid
		want string
	}{
		{"none", Link{}, "", ""},
		{"keys without url", Link{User: "vp1"}, "url", "must be set"},
		{"tls with password", Link{URL: "tls://192.0.2.1:4222", User: "vp1", PasswordFile: "/p"}, "", ""},
		{"loopback in clear", Link{URL: "nats://127.0.0.1:4222", User: "vp1", PasswordFile: "/p"}, "", ""},
		{"credentials in clear", Link{URL: "nats://192.0.2.1:4222", User: "vp1", PasswordFile: "/p"}, "url", "in clear"},
		{"in clear, opted in", Link{URL: "nats://192.0.2.1:4222", User: "vp1", PasswordFile: "/p", InsecurePlaintext: true}, "", ""},
		{"password in url", Link{URL: "nats://vp1:secret@192.0.2.1:4222"}, "url", "not in the URL"},
		{"bad scheme", Link{URL: "http://192.0.2.1:4222"}, "url", "scheme"},
		{"nkey and user", Link{URL: "tls://192.0.2.1:4222", NkeyFile: "/k", User: "vp1"}, "nkey_file", "alone"},
		{"user without password", Link{URL: "tls://192.0.2.1:4222", User: "vp1"}, "user", "password_file"},
		{"negative heartbeat", Link{URL: "tls://192.0.2.1:4222", Heartbeat: -time.Second}, "heartbeat", "positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkKey(t, tt.link.Validate(), tt.key, tt.want)
		})
	}
}

// TestServeNATSValidate: the collector's nats: section.
func TestServeNATSValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    ServeNATS
		key  string
		want string
	}{
		{"defaults", ServeNATS{}, "", ""},
		{"loopback in clear", ServeNATS{Listen: "127.0.0.1:4222"}, "", ""},
		{"network in clear", ServeNATS{Listen: "198.51.100.10:4222"}, "listen", "198.51.100.10:4222 without TLS"},
		{"network with TLS", ServeNATS{Listen: "198.51.100.10:4222", CertFile: "/c", KeyFile: "/k"}, "", ""},
		{"bad listen", ServeNATS{Listen: "4222"}, "listen", "host:port"},
		{"cert without key", ServeNATS{CertFile: "/c"}, "cert_file", "key_file"},
		{"client CA without cert", ServeNATS{ClientCAFile: "/ca"}, "client_ca_file", "cert_file"},
		{"node without secret", ServeNATS{Nodes: []NodeLogin{{User: "vp1"}}}, "nodes[0]", "one of password_file and nkey"},
		{"node twice", ServeNATS{Nodes: []NodeLogin{{User: "vp1", Nkey: "UA"}, {User: "vp1", Nkey: "UB"}}}, "nodes[1].user", "twice"},
		{"node with a dot", ServeNATS{Nodes: []NodeLogin{{User: "vp.1", Nkey: "UA"}}}, "nodes[0].user", "vantage"},
		{"seed as nkey", ServeNATS{Nodes: []NodeLogin{{User: "vp1", Nkey: "SUA"}}}, "nodes[0].nkey", "public"},
		{"nodes with url", ServeNATS{URL: "tls://192.0.2.1:4222", Nodes: []NodeLogin{{User: "vp1", Nkey: "UA"}}}, "nodes", "external"},
		{"url in clear", ServeNATS{URL: "nats://192.0.2.1:4222", User: "c", PasswordFile: "/p"}, "url", "in clear"},
		{"replicas", ServeNATS{Replicas: 7}, "replicas", "7"},
		{"max bytes", ServeNATS{MaxBytes: -1}, "max_bytes", "positive"},
		{"max age", ServeNATS{MaxAge: -time.Hour}, "max_age", "positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkKey(t, tt.n.Validate(), tt.key, tt.want)
		})
	}
}

// TestListenAddr: the flag, then the configuration, then the default,
// which is loopback without TLS.
func TestListenAddr(t *testing.T) {
	n := ServeNATS{}
	if got := n.ListenAddr(""); got != DefaultListenPlaintext {
		t.Errorf("plain default %q", got)
	}
	n.CertFile = "/c"
	if got := n.ListenAddr(""); got != DefaultListen {
		t.Errorf("TLS default %q", got)
	}
	n.Listen = "192.0.2.1:4222"
	if got := n.ListenAddr(""); got != n.Listen {
		t.Errorf("configured %q", got)
	}
	if got := n.ListenAddr("127.0.0.1:1"); got != "127.0.0.1:1" {
		t.Errorf("flag %q", got)
	}
}

func checkKey(t *testing.T, err error, key, want string) {
	t.Helper()
	if key == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a ConfigError for %s", err, key)
	}
	if ce.Key != key || !strings.Contains(ce.Msg, want) || strings.Contains(ce.Msg, "secret") {
		t.Errorf("error %q (key %q), want key %s mentioning %q", err, ce.Key, key, want)
	}
}
