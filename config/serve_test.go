package config

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"darkwatch/results/alert"
	"darkwatch/results/bgp"
	"darkwatch/results/dashboard"
	"darkwatch/results/serve"
	"darkwatch/schedule"
)

func TestServeOptions(t *testing.T) {
	c := &Config{Store: "postgres://dw:s3cret@db.example/dw", Config: schedule.Config{Round: time.Minute, Vantages: []string{"vp1", "vp2"},
		Targets: []schedule.TargetSet{{Name: "kp", Prefixes: []string{"175.45.176.0/22"}, ASN: 131279, Country: "KP",
			Methods: []string{"icmp"}, Hosts: []schedule.HostConfig{{Addr: "175.45.176.15"}}}}}}
	o, err := c.ServeOptions("127.0.0.1:8081", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []dashboard.Target{{Name: "kp", Prefixes: []string{"175.45.176.0/22"}, ASN: 131279, Country: "KP",
		Methods: []string{"icmp"}, Hosts: []string{"175.45.176.15"}}}
	if !reflect.DeepEqual(o.Targets, want) || o.HTTPListen != "127.0.0.1:8081" || o.Round != time.Minute ||
		o.StoreName != "postgres://dw:REDACTED@db.example/dw" || len(o.Vantages) != 2 || o.BGP != nil {
		t.Errorf("options %+v", o)
	}
	c.BGP = bgp.Section{LocalASN: 64501, Peers: []bgp.PeerConfig{{Addr: "198.51.100.9", ASN: 64500}}}
	if o, err = c.ServeOptions("", ""); err != nil || o.BGP == nil {
		t.Errorf("with bgp.peers: BGP %v, %v", o.BGP, err)
	}
}

// TestServeError checks that the collector's configuration errors are named
// in their section and that other errors pass as they are.
func TestServeError(t *testing.T) {
	other := errors.New("listen: address in use")
	for _, c := range []struct {
		name string
		in   error
		key  string // "" when the error must come back unchanged
	}{
		{"serve", fmt.Errorf("start: %w", &serve.ConfigError{Key: "listen", Msg: "bad"}), "serve.listen"},
		{"alerts", &alert.ConfigError{Key: "webhooks[0].url", Msg: "bad"}, "alerts.webhooks[0].url"},
		{"other", other, ""},
	} {
		got := ServeError(c.in)
		var ce *Error
		if c.key == "" {
			if got != c.in {
				t.Errorf("%s: ServeError = %v, want it unchanged", c.name, got)
			}
		} else if !errors.As(got, &ce) || ce.Key != c.key {
			t.Errorf("%s: ServeError = %#v, want a config error of key %s", c.name, got, c.key)
		}
	}
	if ServeError(nil) != nil {
		t.Error("ServeError(nil) is not nil")
	}
}
