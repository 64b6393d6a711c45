package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/config"
	"darkwatch/internal/cli"
	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results/bgp"
	"darkwatch/results/store"
)

// mrtTestData holds real MRT files and bgpdump's output for them
// (testdata/README.md at the top of the repository).
const mrtTestData = "../../testdata/mrt"

func gunzipFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBGPDump: darkwatch bgp dump prints what bgpdump -m prints, for one
// file, for several, and for a directory (every file in name order).
func TestBGPDump(t *testing.T) {
	expect := func(name string) string {
		m, _ := filepath.Glob(filepath.Join(mrtTestData, "expect", name+".*"))
		if len(m) != 1 {
			t.Fatalf("no expected output for %s", name)
		}
		return string(gunzipFile(t, m[0]))
	}
	files, _ := filepath.Glob(filepath.Join(mrtTestData, "*.*"))
	var all strings.Builder
	for _, f := range files {
		all.WriteString(expect(filepath.Base(f)))
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"2-byte AS updates with state changes", []string{filepath.Join(mrtTestData, "updates.20020722.2238.gz")},
			expect("updates.20020722.2238.gz")},
		{"bzip2 and ADD-PATH RIB", []string{filepath.Join(mrtTestData, "routeviews.route-views.jinx.updates.1427846400.bz2"),
			filepath.Join(mrtTestData, "bview.ipv6_unicast_add_path.gz")},
			expect("routeviews.route-views.jinx.updates.1427846400.bz2") + expect("bview.ipv6_unicast_add_path.gz")},
		{"a directory", []string{mrtTestData}, all.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"bgp", "dump"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if out != tt.want {
				t.Errorf("%d bytes, %d lines; bgpdump -m prints %d bytes, %d lines",
					len(out), strings.Count(out, "\n"), len(tt.want), strings.Count(tt.want, "\n"))
			}
		})
	}
}

// TestBGPDumpTruncated: a file cut short prints its routes up to the cut,
// names the file and the offset, exits 1, and the next file is still read.
func TestBGPDumpTruncated(t *testing.T) {
	plain := gunzipFile(t, filepath.Join(mrtTestData, "updates.long_withdrawal.gz"))
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.mrt")
	os.WriteFile(cut, plain[:len(plain)-7], 0o644)
	good := filepath.Join(mrtTestData, "updates.20020722.2238.gz")
	code, out, stderr := runCLI(t, "bgp", "dump", cut, good)
	if code != cli.Some {
		t.Errorf("exit %d, want %d", code, cli.Some)
	}
	if !strings.Contains(stderr, cut) || !strings.Contains(stderr, "record at byte 0") || !strings.Contains(stderr, "truncated") {
		t.Errorf("stderr %q does not name the file, the offset and the truncation", stderr)
	}
	if !strings.HasSuffix(out, string(gunzipFile(t, filepath.Join(mrtTestData, "expect", "updates.20020722.2238.gz.bgp.gz")))) {
		t.Error("the file after the truncated one was not printed whole")
	}
	// The truncated file is one UPDATE: cut, nothing of it comes out.
	if strings.Contains(out, "2001:db8::/64") {
		t.Error("a route of the cut record was printed")
	}
}

// TestBGPImportShow imports a real RIS update file twice (the second time
// adds nothing) and shows a prefix's history from the store.
func TestBGPImportShow(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	file := filepath.Join(mrtTestData, "ris.rrc06.updates.1427846400.gz")
	// 32 of the file's 1561 routes repeat an announcement of the same
	// second by the same peer with the same path: stored once.
	code, _, stderr := runCLI(t, "--store", db, "bgp", "import", file)
	if code != 0 || !strings.Contains(stderr, "1561 routes, 1529 new") {
		t.Fatalf("import: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "bgp", "import", file)
	if code != 0 || !strings.Contains(stderr, "1561 routes, 0 new") {
		t.Fatalf("second import is not idempotent: exit %d, %q", code, stderr)
	}
	// Without arguments, the files of bgp.mrt; without those either, a usage error.
	mrtCfg := filepath.Join(dir, "mrt.yaml")
	os.WriteFile(mrtCfg, []byte("bgp: {mrt: ["+file+"]}\n"), 0o644)
	code, _, stderr = runCLI(t, "--config", mrtCfg, "--store", db, "bgp", "import")
	if code != 0 || !strings.Contains(stderr, "1561 routes, 0 new") {
		t.Fatalf("import of bgp.mrt: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "--store", db, "bgp", "import")
	if code != cli.Usage || !strings.Contains(stderr, "bgp.mrt") {
		t.Fatalf("import of nothing: exit %d, %q", code, stderr)
	}
	// IODA's thresholds: an update file has no full-feed peer.
	code, out, stderr := runCLI(t, "--store", db, "bgp", "show", "192.108.199.0/24", "--json", "--bin", "1m")
	if code != 0 || !strings.Contains(out, `"control_plane":"unknown"`) || strings.Contains(out, `"announced"`) {
		t.Fatalf("show with IODA thresholds: exit %d, %q, %q", code, out, stderr)
	}
	// A small-feed threshold: the one IPv4 peer counts.
	cfg := filepath.Join(dir, "small.yaml")
	os.WriteFile(cfg, []byte("bgp: {full_feed: {ipv4: 0, ipv6: 0}}\n"), 0o644)
	code, out, stderr = runCLI(t, "--config", cfg, "--store", db, "bgp", "show", "192.108.199.0/24", "--json", "--bin", "1m")
	if code != 0 {
		t.Fatalf("show: exit %d, %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("show printed %d bins: %q", len(lines), out)
	}
	var last struct {
		Prefix        string `json:"prefix"`
		ControlPlane  string `json:"control_plane"`
		Peers         int    `json:"peers"`
		FullFeedPeers int    `json:"full_feed_peers"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.ControlPlane != "announced" || last.Peers != 1 || last.FullFeedPeers != 1 || last.Prefix != "192.108.199.0/24" {
		t.Errorf("last bin %+v, want announced by 1 of 1 full-feed peers", last)
	}
	// The table.
	code, out, _ = runCLI(t, "--config", cfg, "--store", db, "bgp", "show", "192.108.199.0/24", "--bin", "5m")
	if code != 0 || !strings.Contains(out, "CONTROL PLANE") || !strings.Contains(out, "announced") {
		t.Errorf("show table: exit %d, %q", code, out)
	}
	code, _, stderr = runCLI(t, "--store", db, "bgp", "show", "not-a-prefix")
	if code != cli.Usage || !strings.Contains(stderr, "not-a-prefix") {
		t.Errorf("bad prefix: exit %d, %q", code, stderr)
	}
}

func TestBGPConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		yaml string
		want string // in the error; "" for none
	}{
		{"bgp: {local_asn: 64512, peers: [{addr: 198.51.100.9, asn: 64500}], full_feed: {ipv4: 1, ipv6: 1}}\n", ""},
		{"bgp: {peers: [{addr: 198.51.100.9, asn: 64500}]}\n", "bgp.local_asn"},
		{"bgp: {local_asn: 64512, peers: [{addr: 198.51.100.9}]}\n", "bgp.peers[0].asn"},
		{"bgp: {local_asn: 64512, peers: [{addr: nowhere, asn: 1}]}\n", "bgp.peers[0].addr"},
		{"bgp: {full_feed: {ipv4: -1}}\n", "bgp.full_feed"},
		{"bgp: {listen: 179}\n", "bgp.listen"},
	}
	for i, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			f := filepath.Join(dir, "c"+string(rune('0'+i))+".yaml")
			os.WriteFile(f, []byte(tt.yaml), 0o644)
			c, err := config.Load(config.NewViper(), f)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
			if tt.want == "" && (c.BGP.Visibility().FullFeedIPv4 != 1 || c.BGP.Peers[0].ASN != 64500) {
				t.Errorf("config %+v", c.BGP)
			}
		})
	}
	// The defaults are IODA's.
	c, err := config.Load(config.NewViper(), "")
	if err != nil {
		t.Fatal(err)
	}
	if v := c.BGP.Visibility(); v.FullFeedIPv4 != 400000 || v.FullFeedIPv6 != 10000 {
		t.Errorf("default full-feed thresholds %d, %d; want 400000, 10000", v.FullFeedIPv4, v.FullFeedIPv6)
	}
}

// TestBGPImportWatch runs `bgp import --watch` on an empty directory, puts a
// real MRT file there in two steps, as a download would, and finds every
// route of it in the store; SIGTERM then ends the watch with status 0.
func TestBGPImportWatch(t *testing.T) {
	dir, in := t.TempDir(), t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	cmd := exec.Command(lab.Binary(t), "--store", db, "bgp", "import", "--watch", "200ms", in)
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(mrtTestData, "ris.rrc06.updates.1427846400.gz"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(in, "updates.gz")
	if err := os.WriteFile(file, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // looked at once while incomplete
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func() int {
		n := 0
		st.EachRoute(t.Context(), store.RouteQuery{}, func(bgp.Route) error { n++; return nil })
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < 1529 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch ended with %v\n%s", err, stderr.String())
	}
	if n := count(); n != 1529 {
		t.Errorf("store holds %d routes, want the file's 1529\n%s", n, stderr.String())
	}
}
