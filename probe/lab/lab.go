// Package lab lets tests run against darkwatch's network lab (scripts/lab.sh): a
// set of network namespaces (vantages behind their own routers, a border router, a
// target answering 198.18.0.0/16 and 2001:db8:1::/48 with DNS and TCP services,
// and a canary) that is private to each test process. It holds the lab's addresses,
// Start to bring a lab up and down around a test, helpers to run commands inside
// its namespaces and inject faults, and Binary to build cmd/darkwatch for tests.
//
// Everything the lab sends stays inside namespaces it creates, addressed from
// documentation and benchmarking ranges; nothing touches the host's network.
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"darkwatch/internal/testenv"
)

// Address plan of the lab. See scripts/lab.sh for the full topology.
const (
	// Target4 and Target6 are the prefixes the target namespace answers for,
	// every address of them (ICMP echo, TCP 80 and 443 open, 81 closed).
	Target4 = "198.18.0.0/16"
	Target6 = "2001:db8:1::/48"

	// DNS4 and DNS6 are the target's authoritative nameserver for Zone (UDP and TCP).
	DNS4 = "198.18.0.53"
	DNS6 = "2001:db8:1::53"
	// Zone is the zone the lab's nameserver serves. It holds ns, www (A
	// WWW4, AAAA WWW6) and big (TXT records whose answer exceeds 512 bytes,
	// so a query without EDNS comes back truncated); other names are NXDOMAIN.
	Zone = "dw.example."
	// WWW4 and WWW6 are the addresses of www.dw.example.
	WWW4 = "198.18.0.80"
	WWW6 = "2001:db8:1::80"

	// Canary4 and Canary6 are addresses in the canary namespace, reachable
	// through the border but outside the target space, so border faults
	// (other than uplink cuts) leave them alone. The canary answers every
	// address of CanaryNet4 and CanaryNet6.
	Canary4    = "198.19.255.1"
	Canary6    = "2001:db8:2::1"
	CanaryNet4 = "198.19.255.0/24"
	CanaryNet6 = "2001:db8:2::/48"

	// Border4 and Border6 are the border's addresses on its link to the target.
	Border4 = "198.51.100.1"
	Border6 = "2001:db8:c::1"
	// TargetLink4 and TargetLink6 are the target's own interface addresses;
	// the target sources ICMPv6 errors (port unreachable) from TargetLink6.
	TargetLink4 = "198.51.100.2"
	TargetLink6 = "2001:db8:c::2"

	// Collector4 and Collector6 are the addresses of the collector namespace
	// (node "col"), on a link of the border's own: every vantage reaches it
	// through its router and the border, and target-space faults leave it
	// alone. Collector tests run `darkwatch serve` there.
	Collector4 = "198.51.100.10"
	Collector6 = "2001:db8:e::2"

	// VantageIface is the name of each vantage's only interface (toward its router).
	VantageIface = "up0"

	// BorderBGP4 is the border's address on its link to the collector, from
	// which BIRD (AS BorderASN) peers with the collector (AS CollectorASN)
	// at Collector4. The collector never connects out: BIRD connects to it.
	BorderBGP4   = "198.51.100.9"
	BorderASN    = 64500
	CollectorASN = 64501
)

// BGPPrefixes are what BIRD in the border announces to the collector: four
// /24s of the target space and their covering /16. `lab.sh fault withdraw
// PREFIX` withdraws one; Restore announces it again.
var BGPPrefixes = []string{"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24", "198.18.0.0/16"}

// VantageAddr4 is vantage i's address, 192.0.2.(8i+2).
func VantageAddr4(i int) string { return fmt.Sprintf("192.0.2.%d", 8*i+2) }

// RouterAddr4 is router i's address on the vantage side, 192.0.2.(8i+1): the
// vantage's gateway, and the first hop of a vantage's traceroute.
func RouterAddr4(i int) string { return fmt.Sprintf("192.0.2.%d", 8*i+1) }

// RouterUplinkAddr4 is router i's address on the border side, 203.0.113.(8i+2).
func RouterUplinkAddr4(i int) string { return fmt.Sprintf("203.0.113.%d", 8*i+2) }

// BorderAddr4 is the border's address toward router i, 203.0.113.(8i+1). The
// border sources its ICMP errors to vantage i from it, so it is the second hop
// of vantage i's traceroute.
func BorderAddr4(i int) string { return fmt.Sprintf("203.0.113.%d", 8*i+1) }

// VantageAddr6 is vantage i's address, 2001:db8:a:i::2.
func VantageAddr6(i int) string { return fmt.Sprintf("2001:db8:a:%d::2", i) }

// RouterAddr6 is router i's address on the vantage side, 2001:db8:a:i::1.
func RouterAddr6(i int) string { return fmt.Sprintf("2001:db8:a:%d::1", i) }

// RouterUplinkAddr6 is router i's address on the border side, 2001:db8:b:i::2.
func RouterUplinkAddr6(i int) string { return fmt.Sprintf("2001:db8:b:%d::2", i) }

// BorderAddr6 is the border's address toward router i, 2001:db8:b:i::1 (the
// second hop of vantage i's IPv6 traceroute).
func BorderAddr6(i int) string { return fmt.Sprintf("2001:db8:b:%d::1", i) }

// Lab is one running lab. Its namespaces are named Prefix-NODE, NODE being
// vp1..vpN, r1..rN, border, target, canary or col.
type Lab struct {
	// Prefix is this lab's namespace prefix.
	Prefix string
	// Vantages is the number of vantages (and routers).
	Vantages int
}

// Start brings up a lab with the default three vantages; see StartN.
func Start(t testing.TB) *Lab {
	t.Helper()
	return StartN(t, 3)
}

// StartN brings up a lab with the given number of vantages (1..31) under a prefix
// unique to this call, and registers a cleanup that brings it down. It skips the
// test when not root or when a tool the lab needs is missing.
func StartN(t testing.TB, vantages int) *Lab {
	t.Helper()
	if vantages < 1 || vantages > 31 {
		t.Fatalf("lab: vantages must be 1..31, got %d", vantages)
	}
	skipUnlessAble(t)
	script := scriptPath(t)
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	l := &Lab{Prefix: "dw" + hex.EncodeToString(b[:]), Vantages: vantages}

	// Best effort: remove labs left by test processes that died without cleanup.
	_, _ = l.script(context.Background(), script, "gc")

	t.Cleanup(func() {
		if out, err := l.script(context.Background(), script, "down"); err != nil {
			t.Errorf("lab: down %s: %v\n%s", l.Prefix, err, out)
		}
	})
	start := time.Now()
	out, err := l.script(context.Background(), script, "up")
	if err != nil {
		t.Fatalf("lab: up %s: %v\n%s", l.Prefix, err, out)
	}
	t.Logf("lab %s up in %v (%d vantages)", l.Prefix, time.Since(start).Round(time.Millisecond), vantages)
	return l
}

// StateDir is the lab's state directory (logs, pid files, configurations of
// its daemons): LAB_STATE_ROOT (default /run/darkwatch-lab) / Prefix.
func (l *Lab) StateDir() string {
	root := os.Getenv("LAB_STATE_ROOT")
	if root == "" {
		root = "/run/darkwatch-lab"
	}
	return filepath.Join(root, l.Prefix)
}

// NS is the namespace name of node ("vp1", "r2", "border", "target", "canary", "col").
func (l *Lab) NS(node string) string { return l.Prefix + "-" + node }

// Command returns a command that runs name with args inside node's namespace
// (ip netns exec). The command is killed when ctx is done.
func (l *Lab) Command(ctx context.Context, node, name string, args ...string) *exec.Cmd {
	ip := toolPath("ip")
	if ip == "" {
		ip = "ip"
	}
	cmd := exec.CommandContext(ctx, ip, append([]string{"netns", "exec", l.NS(node), name}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs name with args inside node's namespace, fails the test (with the
// output) if it fails, and returns its combined output. It is stopped when the
// test ends.
func (l *Lab) Run(t testing.TB, node, name string, args ...string) string {
	t.Helper()
	out, err := l.Command(t.Context(), node, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("lab: %s: %s %s: %v\n%s", node, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Fault runs `lab.sh fault args...` (border-cut, uplink-cut N, loss PCT,
// icmp-drop, withdraw PREFIX) on this lab, failing the test on error. Faults
// add up until Restore.
func (l *Lab) Fault(t testing.TB, args ...string) {
	t.Helper()
	if out, err := l.script(t.Context(), scriptPath(t), append([]string{"fault"}, args...)...); err != nil {
		t.Fatalf("lab: fault %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Restore removes every fault from this lab and has BIRD announce every
// withdrawn prefix again.
func (l *Lab) Restore(t testing.TB) {
	t.Helper()
	if out, err := l.script(t.Context(), scriptPath(t), "restore"); err != nil {
		t.Fatalf("lab: restore: %v\n%s", err, out)
	}
}

// script runs lab.sh with this lab's environment.
func (l *Lab) script(ctx context.Context, script string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(),
		"LAB_PREFIX="+l.Prefix,
		"LAB_VANTAGES="+strconv.Itoa(l.Vantages),
		"LAB_OWNER_PID="+strconv.Itoa(os.Getpid()),
	)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// skipUnlessAble skips t unless the lab can be built here.
func skipUnlessAble(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "lab: needs root to create network namespaces")
	}
	for _, tool := range []struct{ name, pkg string }{
		{"ip", "iproute2"}, {"nft", "nftables"}, {"nsd", "nsd"}, {"socat", "socat"}, {"bird", "bird2"},
	} {
		if toolPath(tool.name) == "" {
			Missing(t, "lab: %s not found (Debian package %s)", tool.name, tool.pkg)
		}
	}
}

// Missing is testenv.Missing: skipped here, failed in CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Missing(t, format, args...)
}

// toolPath finds name in PATH or the sbin directories, "" if absent.
func toolPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// moduleRoot walks up from the working directory to the directory with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("lab: no go.mod above the working directory")
		}
		dir = parent
	}
}

func scriptPath(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "scripts", "lab.sh")
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/darkwatch (CGO_ENABLED=0; with -race and cgo when the
// tests run under the race detector, the first data race then stopping the
// process with exit status 66) once per test process into a temporary
// directory and returns the executable's path. It fails the test if the build
// fails. The directory is left behind for the process's other tests.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			binary.err = err
			return
		}
		dir, err := os.MkdirTemp("", "darkwatch-lab-bin-")
		if err != nil {
			binary.err = err
			return
		}
		path := filepath.Join(dir, "darkwatch")
		goTool := "go"
		if p := toolPath("go"); p != "" {
			goTool = p
		}
		args, env := []string{"build", "-o", path}, "CGO_ENABLED=0"
		if raceBuild {
			args, env = append(args, "-race"), "CGO_ENABLED=1"
			os.Setenv("GORACE", "halt_on_error=1")
		}
		cmd := exec.Command(goTool, append(args, "./cmd/darkwatch")...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binary.err = fmt.Errorf("lab: go build ./cmd/darkwatch: %v\n%s", err, out.String())
			return
		}
		binary.path = path
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}
