package lab

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// needTools skips t when a client tool the test drives is missing.
func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []struct{ name, pkg string }{
		{"ping", "iputils-ping"}, {"dig", "dnsutils"}, {"nmap", "nmap"}, {"traceroute", "traceroute"},
	} {
		if toolPath(tool.name) == "" {
			Missing(t, "lab test: %s not found (Debian package %s)", tool.name, tool.pkg)
		}
	}
}

// pings reports whether one ping from node to addr is answered within wait.
func pings(t *testing.T, l *Lab, node, addr, wait string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return l.Command(ctx, node, "ping", "-c1", "-W"+wait, addr).Run() == nil
}

// wantPing checks that a ping is answered (within 2s) or not (within 1s: replies
// in the lab take well under a millisecond).
func wantPing(t *testing.T, l *Lab, node, addr string, want bool) {
	t.Helper()
	wait := "2"
	if !want {
		wait = "1"
	}
	if got := pings(t, l, node, addr, wait); got != want {
		t.Errorf("%s: ping %s from %s: answered=%v, want %v", l.Prefix, addr, node, got, want)
	}
}

// hops returns the address of each answered hop of an ICMP traceroute.
func hops(t *testing.T, l *Lab, node string, v6 bool, dst string) []string {
	t.Helper()
	args := []string{"-n", "-I", "-q", "1", "-w", "1", "-m", "5", dst}
	if v6 {
		args = append([]string{"-6"}, args...)
	}
	out := l.Run(t, node, "traceroute", args...)
	var hs []string
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] != "*" {
			hs = append(hs, f[1])
		}
	}
	return hs
}

func TestLab(t *testing.T) {
	skipUnlessAble(t)
	needTools(t)

	// Registered before Start, so it runs after the labs' own cleanups (LIFO):
	// checks that down removed every namespace.
	var labs []*Lab
	t.Cleanup(func() {
		out, err := exec.Command(toolPath("ip"), "netns", "list").CombinedOutput()
		if err != nil {
			t.Errorf("ip netns list: %v\n%s", err, out)
			return
		}
		for _, l := range labs {
			if strings.Contains(string(out), l.Prefix+"-") {
				t.Errorf("namespaces of %s left after down:\n%s", l.Prefix, out)
			}
		}
	})

	a := Start(t)
	b := StartN(t, 2)
	labs = append(labs, a, b)
	if a.Prefix == b.Prefix {
		t.Fatalf("two labs share prefix %s", a.Prefix)
	}

	t.Run("ping", func(t *testing.T) {
		wantPing(t, a, "vp1", "198.18.3.4", true)
		wantPing(t, a, "vp1", "2001:db8:1::1234", true)
		wantPing(t, a, "vp3", Canary4, true)
		wantPing(t, a, "vp3", Canary6, true)
		wantPing(t, b, "vp2", "198.18.200.1", true)
	})

	t.Run("dns", func(t *testing.T) {
		out := a.Run(t, "vp2", "dig", "+norec", "+time=2", "@"+DNS4, "www."+Zone, "A")
		if !strings.Contains(out, "status: NOERROR") || !regexp.MustCompile(`flags: qr aa[ ;]`).MatchString(out) ||
			!strings.Contains(out, WWW4) {
			t.Errorf("www A: want NOERROR, aa and %s:\n%s", WWW4, out)
		}
		out = a.Run(t, "vp2", "dig", "+norec", "+time=2", "@"+DNS6, "www."+Zone, "AAAA")
		if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, WWW6) {
			t.Errorf("www AAAA over IPv6: want NOERROR and %s:\n%s", WWW6, out)
		}
		out = a.Run(t, "vp2", "dig", "+norec", "+time=2", "@"+DNS4, "nope."+Zone, "A")
		if !strings.Contains(out, "status: NXDOMAIN") {
			t.Errorf("nope: want NXDOMAIN:\n%s", out)
		}
		out = a.Run(t, "vp2", "dig", "+norec", "+time=2", "+noedns", "+ignore", "@"+DNS4, "big."+Zone, "TXT")
		if !regexp.MustCompile(`flags: qr aa tc`).MatchString(out) {
			t.Errorf("big TXT without EDNS over UDP: want TC:\n%s", out)
		}
		out = a.Run(t, "vp2", "dig", "+norec", "+time=2", "+tcp", "@"+DNS4, "big."+Zone, "TXT")
		if !strings.Contains(out, "ANSWER: 16") {
			t.Errorf("big TXT over TCP: want 16 answers:\n%s", out)
		}
	})

	t.Run("tcp", func(t *testing.T) {
		for _, c := range []struct{ flag, addr string }{{"-4", "198.18.1.1"}, {"-6", "2001:db8:1::1:1"}} {
			out := a.Run(t, "vp1", "nmap", c.flag, "-sS", "-p", "80,81,443", "-n", "-Pn", c.addr)
			for _, want := range []string{"80/tcp  open", "81/tcp  closed", "443/tcp open"} {
				if !strings.Contains(out, want) {
					t.Errorf("nmap %s: want %q:\n%s", c.addr, want, out)
				}
			}
		}
	})

	t.Run("traceroute", func(t *testing.T) {
		if got, want := hops(t, a, "vp1", false, "198.18.0.1"), []string{RouterAddr4(1), BorderAddr4(1), "198.18.0.1"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("IPv4 hops %v, want %v", got, want)
		}
		if got, want := hops(t, a, "vp1", true, "2001:db8:1::5"), []string{RouterAddr6(1), BorderAddr6(1), "2001:db8:1::5"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("IPv6 hops %v, want %v", got, want)
		}
	})

	t.Run("border-cut", func(t *testing.T) {
		a.Fault(t, "border-cut")
		wantPing(t, a, "vp1", "198.18.0.1", false)
		wantPing(t, a, "vp1", "2001:db8:1::1", false)
		wantPing(t, a, "vp1", Canary4, true)
		wantPing(t, b, "vp1", "198.18.0.1", true) // the other lab is untouched
		if got, want := hops(t, a, "vp1", false, "198.18.0.1"), []string{RouterAddr4(1), BorderAddr4(1)}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("hops with border cut %v, want %v", got, want)
		}
		a.Restore(t)
		wantPing(t, a, "vp1", "198.18.0.1", true)
		wantPing(t, a, "vp1", "2001:db8:1::1", true)
	})

	t.Run("uplink-cut", func(t *testing.T) {
		a.Fault(t, "uplink-cut", "2")
		wantPing(t, a, "vp2", Canary4, false)
		wantPing(t, a, "vp2", Canary6, false)
		wantPing(t, a, "vp2", RouterAddr4(2), true)
		wantPing(t, a, "vp1", Canary4, true)
		wantPing(t, a, "vp1", Canary6, true)
		a.Restore(t)
		wantPing(t, a, "vp2", Canary4, true)
	})

	t.Run("icmp-drop", func(t *testing.T) {
		a.Fault(t, "icmp-drop")
		wantPing(t, a, "vp1", "198.18.0.1", false)
		wantPing(t, a, "vp1", "2001:db8:1::1", false)
		out := a.Run(t, "vp1", "nmap", "-sS", "-p", "80", "-n", "-Pn", "198.18.0.1")
		if !strings.Contains(out, "80/tcp open") {
			t.Errorf("TCP 80 with icmp-drop: want open:\n%s", out)
		}
		a.Run(t, "vp1", "dig", "+short", "+time=2", "@"+DNS4, "www."+Zone)
		a.Restore(t)
	})

	t.Run("loss", func(t *testing.T) {
		a.Fault(t, "loss", "100")
		wantPing(t, a, "vp1", "198.18.0.1", false)
		wantPing(t, a, "vp1", Canary4, true)
		a.Fault(t, "loss", "0") // replaces the previous loss rule
		wantPing(t, a, "vp1", "198.18.0.1", true)
		a.Restore(t)
	})
}
