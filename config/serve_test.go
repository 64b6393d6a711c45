package config

import (
	"reflect"
	"testing"
	"time"

	"darkwatch/results/bgp"
	"darkwatch/results/dashboard"
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
