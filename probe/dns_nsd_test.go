package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
)

// nsdZone is the zone startNSD serves, the lab's dw.example. with its own
// serial and TTLs.
const nsdZone = `$ORIGIN dw.example.
$TTL 300
@	IN SOA	ns.dw.example. hostmaster.dw.example. 2026120602 3600 600 86400 300
@	IN NS	ns.dw.example.
ns	600	IN A	198.18.0.53
www	IN A	198.18.0.80
www	IN A	198.18.0.81
`

// startNSD runs Debian's nsd in the foreground on 127.0.0.1 at a free port,
// serving nsdZone with the NSID "dw-nsd", and returns the port; the server
// is stopped when t ends. Without nsd the test is skipped (failed in CI).
func startNSD(t *testing.T) uint16 {
	t.Helper()
	bin, err := exec.LookPath("nsd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nsd"); serr != nil {
			lab.Missing(t, "no nsd (apt-get install nsd)")
		}
		bin = "/usr/sbin/nsd"
	}
	dir := t.TempDir()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	conf := fmt.Sprintf(`server:
	ip-address: 127.0.0.1@%d
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: %q
	database: ""
	zonelistfile: %q
	xfrdfile: %q
	xfrdir: %q
	pidfile: ""
	logfile: %q
	zonefiles-write: 0
	hide-version: yes
	nsid: "ascii_dw-nsd"
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: dw.example.
	zonefile: "dw.example.zone"
`, port, dir, filepath.Join(dir, "zone.list"), filepath.Join(dir, "xfrd.state"), dir, filepath.Join(dir, "nsd.log"))
	if err := os.WriteFile(filepath.Join(dir, "nsd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dw.example.zone"), []byte(nsdZone), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", filepath.Join(dir, "nsd.conf"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Wait until it answers: nsd reads the zone after it binds.
	p, _ := NewDNS(Config{Timeout: 200 * time.Millisecond})
	for range 100 {
		r := p.Probe(context.Background(), Target{Addr: netip.MustParseAddr("127.0.0.1"), Port: port, Qname: "dw.example", Qtype: "SOA"})[0]
		if r.Outcome == results.OutcomeReply && r.Rcode == "NOERROR" {
			return port
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
	t.Fatalf("nsd does not answer on 127.0.0.1:%d; its log:\n%s", port, log)
	return 0
}

// TestDNSNSD asks a real nsd: the answer section with the zone's TTLs, the
// SOA serial, and the NSID nsd is configured with.
func TestDNSNSD(t *testing.T) {
	port := startNSD(t)
	server := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name, qname, qtype string
		nsid               bool
		answer             []results.RR
		serial             *uint32
		wantNSID           string
	}{
		{"soa", "dw.example", "SOA", false, []results.RR{{Name: "dw.example.", Type: "SOA", TTL: 300,
			Data: "ns.dw.example. hostmaster.dw.example. 2026120602 3600 600 86400 300"}}, results.Uint32(2026120602), ""},
		{"soa and nsid", "dw.example", "SOA", true, []results.RR{{Name: "dw.example.", Type: "SOA", TTL: 300,
			Data: "ns.dw.example. hostmaster.dw.example. 2026120602 3600 600 86400 300"}}, results.Uint32(2026120602),
			"64772d6e7364"},
		{"ttl of its own", "ns.dw.example", "A", false, []results.RR{{Name: "ns.dw.example.", Type: "A", TTL: 600,
			Data: "198.18.0.53"}}, nil, ""},
		{"two answers", "www.dw.example", "A", true, []results.RR{
			{Name: "www.dw.example.", Type: "A", TTL: 300, Data: "198.18.0.80"},
			{Name: "www.dw.example.", Type: "A", TTL: 300, Data: "198.18.0.81"}}, nil, "64772d6e7364"},
		{"nxdomain", "nope.dw.example", "A", false, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewDNS(Config{Timeout: 2 * time.Second, Vantage: "lo", DNS: DNSOptions{NSID: tc.nsid}})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Probe(context.Background(), Target{Addr: server, Port: port, Qname: tc.qname, Qtype: tc.qtype})[0]
			if r.Outcome != results.OutcomeReply || r.Answers == nil || *r.Answers != len(tc.answer) || r.AA == nil || !*r.AA {
				t.Fatalf("got %+v, want an authoritative reply with %d answers", r, len(tc.answer))
			}
			// nsd rotates nothing in a zone it serves: the order is the zone's.
			if !reflect.DeepEqual(r.Answer, tc.answer) {
				t.Errorf("answer section\n got %+v\nwant %+v", r.Answer, tc.answer)
			}
			if (r.Serial == nil) != (tc.serial == nil) || r.Serial != nil && *r.Serial != *tc.serial {
				t.Errorf("serial %v, want %v", r.Serial, tc.serial)
			}
			if r.NSID != tc.wantNSID || r.Source != "127.0.0.1" {
				t.Errorf("nsid %q source %q, want %q and 127.0.0.1", r.NSID, r.Source, tc.wantNSID)
			}
		})
	}
}
