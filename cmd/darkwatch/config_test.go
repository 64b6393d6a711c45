package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/config"
	"darkwatch/internal/cli"
	"darkwatch/schedule"
)

func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) < 3 {
		t.Fatalf("want the three shipped configs, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := config.Load(config.NewViper(), f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestKP2014Config(t *testing.T) {
	c, err := config.Load(config.NewViper(), "../../configs/kp-2014.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 2 {
		t.Fatalf("targets: %+v", c.Targets)
	}
	kp := c.Targets[0]
	if kp.ASN != 131279 || kp.Country != "KP" || len(kp.Prefixes) != 0 || kp.By() != schedule.FromBGP {
		t.Errorf("kp-as target set = %+v: want AS131279 by name", kp)
	}
	if cc := c.Targets[1]; cc.Country != "KP" || cc.ASN != 131279 || len(cc.Prefixes) != 0 || cc.By() != schedule.FromGeo {
		t.Errorf("kp target set = %+v: want KP by name", cc)
	}
	if len(c.Canaries) == 0 {
		t.Error("no canaries")
	}
	var soa int
	for _, h := range kp.Hosts {
		for _, m := range h.Methods {
			if m == "dns:kp./SOA" {
				soa++
			}
		}
	}
	if soa == 0 {
		t.Errorf("no .kp name server probed with dns:kp./SOA in %+v", kp.Hosts)
	}
}

func TestInvalidConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string // each must appear in the message
	}{
		{"invalid-unknown-key.yaml", []string{"invalid-unknown-key.yaml", "burst"}},
		{"invalid-prefix.yaml", []string{"targets[0].prefixes[1]", "300.1.2.0/24"}},
		{"invalid-ipv6-prefix.yaml", []string{"targets[0].prefixes[1]", "2001:db8:2::/48", "too large an IPv6 prefix", "/112"}},
		{"invalid-method.yaml", []string{"targets[0].methods[1]", "tcp:http"}},
		{"invalid-duration.yaml", []string{"round", "invalid duration"}},
		{"invalid-bare-duration.yaml", []string{"probe.timeout", "bare number", "5s"}},
		{"invalid-vantage-newline.yaml", []string{"vantage", `vp1\nvp2`, "control characters"}},
		{"invalid-vantage-space.yaml", []string{"vantage", "vp 1", "spaces"}},
		{"invalid-yaml.yaml", []string{"invalid-yaml.yaml", "YAML"}},
		{"invalid-host.yaml", []string{"canaries[0].addr", "192.0.2.300"}},
		{"invalid-ttl.yaml", []string{"probe.ttl", "300"}},
		{"invalid-serve-node.yaml", []string{"serve.nats.nodes[0]", "one of password_file and nkey"}},
		{"invalid-serve-replicas.yaml", []string{"serve.nats.replicas", "7"}},
		{"invalid-collector-url.yaml", []string{"collector.url", "not in the URL"}},
		{"invalid-collector-plaintext.yaml", []string{"collector.url", "in clear", "insecure_plaintext"}},
		{"invalid-serve-plaintext.yaml", []string{"serve.nats.listen", "198.51.100.10:4222 without TLS", "insecure_plaintext"}},
		{"invalid-serve-url-plaintext.yaml", []string{"serve.nats.url", "in clear", "insecure_plaintext"}},
		{"invalid-serve-max-age.yaml", []string{"serve.nats.max_age"}},
		{"invalid-bgp-peer.yaml", []string{"bgp.peers[0].asn"}},
		{"invalid-alerts-webhook.yaml", []string{"alerts.webhooks[1].url", "only http:// and https://"}},
		{"invalid-alerts-duration.yaml", []string{"alerts.min_duration", "bare number"}},
		{"invalid-quorum-redundancy.yaml", []string{"quorum", "2 is more than redundancy 1"}},
		{"invalid-quorum-vantages.yaml", []string{"quorum", "3 is more than the vantage points listed in vantages (2)"}},
		{"invalid-vantages-canaries.yaml", []string{"canaries", "would read as a target outage"}},
		{"invalid-canary-target.yaml", []string{"canaries[1].addr", "175.45.177.1", "targets[0].prefixes[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			_, err := config.Load(config.NewViper(), path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			msg := err.Error()
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("message is more than one line: %q", msg)
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			// The command line turns it into exit status 2 and one sentence.
			code, _, stderr := runCLI(t, "--config", path, "version")
			if code != cli.Usage || !strings.Contains(stderr, tt.file) {
				t.Errorf("darkwatch --config %s: exit %d, stderr %q; want exit 2 naming the file", tt.file, code, stderr)
			}
		})
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("DARKWATCH_VANTAGE", "vp-env")
	t.Setenv("DARKWATCH_RATE_PPS", "123")
	c, err := config.Load(config.NewViper(), "../../configs/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Vantage != "vp-env" || c.Rate.PPS != 123 {
		t.Fatalf("vantage %q rate %d, want vp-env and 123 from the environment", c.Vantage, c.Rate.PPS)
	}
}

func TestConfigUnknownEnv(t *testing.T) {
	t.Setenv("DARKWATCH_RATE_PSS", "5")
	t.Setenv("DARKWATCH_VANTAGE", "vp-env")
	code, _, stderr := runCLI(t, "--config", "../../configs/lab.yaml", "version")
	if code != 0 {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	if !strings.Contains(stderr, "DARKWATCH_RATE_PSS is not a darkwatch setting") || !strings.Contains(stderr, "did you mean DARKWATCH_RATE_PPS") {
		t.Errorf("no warning naming the misspelt variable and the known one: %q", stderr)
	}
	if strings.Contains(stderr, "DARKWATCH_VANTAGE") {
		t.Errorf("warning about a known variable: %q", stderr)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"probe", "icmp", "--bogus", "198.18.3.4"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"no targets", []string{"probe", "icmp"}, "requires at least 1 arg"},
		{"tcp without port", []string{"probe", "tcp", "198.18.3.4"}, "port"},
		{"bad port", []string{"probe", "tcp", "--port", "http", "198.18.3.4"}, "http"},
		{"bad proto", []string{"probe", "trace", "--proto", "sctp", "198.18.3.4"}, "sctp"},
		{"bad qtype", []string{"probe", "dns", "--qname", "kp.", "--qtype", "NOPE", "198.18.3.4"}, "NOPE"},
		{"bad target", []string{"probe", "icmp", "not/a/target"}, "not/a/target"},
		{"bad allow", []string{"--allow", "172.16.0.0/33", "probe", "icmp", "172.16.5.5"}, "--allow"},
		{"huge cidr", []string{"probe", "icmp", "198.0.0.0/8"}, "sweep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != cli.Usage {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

// TestBlocklistRefusesBeforeSending checks that a private target is refused with
// a sentence and exit 2 before any socket is opened: it runs as any user, and a
// prober would fail differently (exit 3) if it were reached.
func TestBlocklistRefusesBeforeSending(t *testing.T) {
	for _, method := range [][]string{
		{"probe", "icmp", "172.16.5.5"},
		{"probe", "tcp", "--port", "80", "100.64.1.1"},
		{"probe", "trace", "fd00::1"},
		{"probe", "dns", "--qname", "kp.", "172.16.0.53"},
		{"--allow", "198.18.0.0/15", "probe", "icmp", "198.18.3.4", "127.0.0.1"},
	} {
		code, stdout, stderr := runCLI(t, method...)
		if code != cli.Usage || !strings.Contains(stderr, "nothing sent") || !strings.Contains(stderr, "--allow") {
			t.Errorf("%v: exit %d stderr %q; want exit 2 saying nothing was sent and how to allow", method, code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: stdout %q", method, stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "darkwatch ") {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
}

// runCLI runs darkwatch in-process with args and returns exit status, stdout and
// stderr. Both go to files, which hold any amount (a pipe that nobody reads
// would stop a dump at 64 KiB).
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = out, errf
	code := run(args)
	os.Stdout, os.Stderr = oldOut, oldErr
	out.Close()
	errf.Close()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

// TestConfigErrorHidesSecret: a password put in the collector's URL is
// refused without being repeated.
func TestConfigErrorHidesSecret(t *testing.T) {
	_, err := config.Load(config.NewViper(), filepath.Join("testdata", "invalid-collector-url.yaml"))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v: want a refusal that does not repeat the password", err)
	}
}

// TestExitStatusByType: the exit status follows the error's type, never its
// text.
func TestExitStatusByType(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"configuration", fmt.Errorf("run: %w", &config.Error{Key: "round", Msg: "unknown command"}), cli.Usage},
		{"command line", &cli.UsageError{Err: errors.New("anything at all")}, cli.Usage},
		{"interrupted", fmt.Errorf("census: %w", schedule.ErrInterrupted), cli.Some},
		{"explicit", cli.Exit(cli.Some, nil), cli.Some},
		{"text of a usage error, not its type", errors.New("unknown flag: --bogus"), cli.Failure},
	} {
		if got := exitStatus(c.err); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
	}
}
