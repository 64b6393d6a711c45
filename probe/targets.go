package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"darkwatch/results"
)

// MaxTargets bounds the addresses ResolveTargets expands CIDR blocks to;
// larger spaces are for a Sweep.
const MaxTargets = 1 << 16

// ResolveTargets turns arguments into addresses: an IP address, a CIDR block
// (every address in it, MaxTargets at most in all), or a host name (its
// addresses, looked up in DNS).
func ResolveTargets(ctx context.Context, args []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, arg := range args {
		if ad, err := netip.ParseAddr(arg); err == nil {
			out = append(out, ad.Unmap())
			continue
		}
		if p, err := netip.ParsePrefix(arg); err == nil {
			if p.Addr().BitLen()-p.Bits() > 16 || len(out)+(1<<(p.Addr().BitLen()-p.Bits())) > MaxTargets {
				return nil, fmt.Errorf("%s has more addresses than probe takes (%d); use darkwatch sweep for address spaces", arg, MaxTargets)
			}
			for ad := p.Masked().Addr(); p.Contains(ad); ad = ad.Next() {
				out = append(out, ad)
			}
			continue
		}
		if strings.ContainsAny(arg, "/ ") || strings.HasPrefix(arg, "-") {
			return nil, fmt.Errorf("%q is neither an IP address, a CIDR block nor a host name", arg)
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", arg)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("cannot resolve %q: %v", arg, err)
		}
		for _, ip := range ips {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// ParsePorts reads port numbers, 1 to 65535.
func ParsePorts(ss []string) ([]uint16, error) {
	var out []uint16
	for _, s := range ss {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a port number 1-65535", s)
		}
		out = append(out, uint16(n))
	}
	return out, nil
}

// ExpandTargets makes the targets of method from addresses: tcp probes every
// port of every address, dns asks each server (on the first port) for qname
// and qtype, and the others probe each address once, on the first port if
// any.
func ExpandTargets(method string, addrs []netip.Addr, ports []uint16, qname, qtype string) []Target {
	var out []Target
	for _, ad := range addrs {
		switch method {
		case results.MethodTCP:
			for _, port := range ports {
				out = append(out, Target{Addr: ad, Port: port})
			}
		case results.MethodDNS:
			out = append(out, Target{Addr: ad, Port: ports[0], Qname: dns.Fqdn(qname), Qtype: strings.ToUpper(qtype)})
		default:
			t := Target{Addr: ad}
			if len(ports) > 0 {
				t.Port = ports[0]
			}
			out = append(out, t)
		}
	}
	return out
}
