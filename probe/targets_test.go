package probe

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"darkwatch/results"
)

func TestResolveTargets(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		n    int    // addresses
		want string // in the error; "" for none
	}{
		{"addresses", []string{"198.18.3.4", "::ffff:198.18.3.5", "2001:db8::1"}, 3, ""},
		{"block", []string{"198.18.3.0/30"}, 4, ""},
		{"block at the limit", []string{"198.18.0.0/16"}, MaxTargets, ""},
		{"block over the limit", []string{"198.0.0.0/8"}, 0, "use darkwatch sweep"},
		{"blocks over the limit together", []string{"198.18.0.0/16", "198.19.0.0/31"}, 0, "more addresses than probe takes (65536)"},
		{"slashes", []string{"not/a/target"}, 0, `"not/a/target" is neither`},
		{"a flag", []string{"-x"}, 0, "neither an IP address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveTargets(context.Background(), c.args)
			if c.want == "" {
				if err != nil || len(got) != c.n {
					t.Errorf("%d addresses, %v; want %d", len(got), err, c.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	got, _ := ResolveTargets(context.Background(), []string{"::ffff:198.18.3.5", "198.18.3.6/31"})
	want := []netip.Addr{netip.MustParseAddr("198.18.3.5"), netip.MustParseAddr("198.18.3.6"), netip.MustParseAddr("198.18.3.7")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveTargets = %v, want %v", got, want)
	}
}

func TestParsePorts(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []uint16
		bad  string
	}{
		{[]string{"80", " 443"}, []uint16{80, 443}, ""},
		{nil, nil, ""},
		{[]string{"http"}, nil, `"http" is not a port number`},
		{[]string{"0"}, nil, `"0"`},
		{[]string{"65536"}, nil, `"65536"`},
	} {
		got, err := ParsePorts(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("ParsePorts(%q) = %v, %v; want an error mentioning %s", c.in, got, err, c.bad)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestExpandTargets(t *testing.T) {
	a, b := netip.MustParseAddr("198.18.3.4"), netip.MustParseAddr("2001:db8::1")
	for _, c := range []struct {
		method string
		ports  []uint16
		want   []Target
	}{
		{results.MethodICMP, nil, []Target{{Addr: a}, {Addr: b}}},
		{results.MethodTCP, []uint16{80, 443}, []Target{{Addr: a, Port: 80}, {Addr: a, Port: 443}, {Addr: b, Port: 80}, {Addr: b, Port: 443}}},
		{results.MethodTrace, []uint16{443}, []Target{{Addr: a, Port: 443}, {Addr: b, Port: 443}}},
		{results.MethodDNS, []uint16{53}, []Target{{Addr: a, Port: 53, Qname: "kp.", Qtype: "SOA"}, {Addr: b, Port: 53, Qname: "kp.", Qtype: "SOA"}}},
	} {
		if got := ExpandTargets(c.method, []netip.Addr{a, b}, c.ports, "kp", "soa"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.method, got, c.want)
		}
	}
}
