package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/internal/cli"
	"darkwatch/schedule"
)

// recordLine is one valid record of target 198.18.x.y.
func recordLine(i int) string {
	return fmt.Sprintf(`{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.%d.%d","seq":1,"outcome":"reply","rtt_ms":0.2}`+"\n", i/256, i%256)
}

// storedRecords counts the records of the store by exporting them.
func storedRecords(t *testing.T, db string) int {
	t.Helper()
	code, out, stderr := runCLI(t, "--store", db, "export", "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-23T00:00:00Z")
	if code != 0 {
		t.Fatalf("export: exit %d, %q", code, stderr)
	}
	return strings.Count(out, "\n")
}

func TestImportWholeFiles(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A record the parser takes but the store cannot hold, at line 5,501.
	var big strings.Builder
	for i := range 5500 {
		big.WriteString(recordLine(i))
	}
	big.WriteString(`{"time":"2026-11-21T22:00:00.1Z","vantage":"vp1","round":1,"method":"icmp","target":"198.18.99.1\u0000","seq":1,"outcome":"reply"}` + "\n")
	late := write("late.jsonl", big.String())
	two := write("two.jsonl", recordLine(1)+strings.TrimSuffix(recordLine(2), "\n")+recordLine(3))
	trailing := write("trailing.jsonl", recordLine(1)+strings.TrimSuffix(recordLine(2), "\n")+" garbage\n")
	good := write("good.jsonl", recordLine(7000)+recordLine(7001))

	code, _, stderr := runCLI(t, "--store", db, "import", late, two, trailing, good)
	if code != cli.Some {
		t.Errorf("exit %d, want %d when a file is refused; stderr %q", code, cli.Some, stderr)
	}
	for _, want := range []string{
		"late.jsonl: refused", "nothing of " + late,
		"two.jsonl: refused", "two.jsonl:2: data after the record",
		"trailing.jsonl: refused", "trailing.jsonl:2: data after the record",
		"good.jsonl: imported: 2 records, 2 new",
		"3 of 4 files refused",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := storedRecords(t, db); n != 2 {
		t.Errorf("store holds %d records, want only the 2 of good.jsonl", n)
	}
}

func TestReportOutFailureKeepsOld(t *testing.T) {
	// The whole command, on a file system too small for the report.
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.Mkdir(small, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", small).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", small).Run() })
	var recs strings.Builder
	for i := range 400 {
		recs.WriteString(recordLine(i))
	}
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(recs.String()), 0o600)
	db := "sqlite://" + filepath.Join(dir, "dw.db")
	if code, _, stderr := runCLI(t, "--store", db, "import", in); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	rep := filepath.Join(small, "report.csv")
	os.WriteFile(rep, []byte("the good report\n"), 0o640)
	code, _, stderr := runCLI(t, "--store", db, "--allow", "198.18.0.0/15", "report", "--format", "csv",
		"--since", "2026-11-21T00:00:00Z", "--until", "2026-11-22T00:00:00Z", "--out", rep)
	if code != cli.Failure || !strings.Contains(stderr, "unchanged") {
		t.Errorf("report onto a full file system: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(rep); string(b) != "the good report\n" {
		t.Errorf("the good report was replaced by %d bytes", len(b))
	}
}

func TestStoreFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dw.db")
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(recordLine(1)), 0o600)
	if code, _, stderr := runCLI(t, "--store", "sqlite://"+path, "import", in); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm()&0o027 != 0 {
			t.Errorf("%s is %v; want no group write and nothing for others", e.Name(), fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("store directory is %v", fi.Mode().Perm())
	}
}

func TestSourceMustBeLocal(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"sweep", "--targets", "198.18.7.0/30", "--source", "203.0.113.77", "--rate", "10", "--lock", filepath.Join(dir, "l")},
		{"probe", "icmp", "--source", "203.0.113.77", "198.18.7.1"},
	} {
		code, _, stderr := runCLI(t, append([]string{"--allow", "198.18.0.0/15"}, args...)...)
		if code != cli.Usage || !strings.Contains(stderr, "203.0.113.77 is not an address of a local interface") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	cfg := filepath.Join(dir, "dw.yaml")
	os.WriteFile(cfg, []byte("probe:\n  source: 203.0.113.77\n"), 0o600)
	code, _, stderr := runCLI(t, "--config", cfg, "version")
	if code != cli.Usage || !strings.Contains(stderr, "probe.source") || !strings.Contains(stderr, "not an address of a local interface") {
		t.Errorf("probe.source: exit %d, %q", code, stderr)
	}
	if err := schedule.LocalSource(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("loopback: %v", err)
	}
}

// TestInstallNodeBinaryMode: the installed binary carries cap_net_raw, so
// only root and the darkwatch group may run it.
func TestInstallNodeBinaryMode(t *testing.T) {
	b, err := os.ReadFile("../../scripts/install-node.sh")
	if err != nil {
		t.Fatal(err)
	}
	var installs []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "install ") && strings.Contains(line, "/usr/local/bin/darkwatch") {
			installs = append(installs, line)
		}
	}
	if len(installs) != 1 || !strings.Contains(installs[0], "-m 0750 -o root -g darkwatch") {
		t.Errorf("binary installed by %q; want one install -m 0750 -o root -g darkwatch", installs)
	}
	if !strings.Contains(string(b), "setcap cap_net_raw+ep /usr/local/bin/darkwatch") {
		t.Error("no setcap cap_net_raw+ep")
	}
}
