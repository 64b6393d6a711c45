package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"darkwatch/probe/lab"
)

// promtool is where Debian's prometheus package puts promtool.
const promtool = "/usr/bin/promtool"

// TestAlertingRules: configs/darkwatch.rules.yml passes `promtool check
// rules`, its alerts fire on made-up series as testdata/darkwatch.rules.test.yml
// says (`promtool test rules`), and every darkwatch_ metric it uses is one
// darkwatch exports.
func TestAlertingRules(t *testing.T) {
	rules := filepath.Join("..", "..", "configs", "darkwatch.rules.yml")
	exported := exportedMetrics(t, filepath.Join("..", ".."))
	text, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bdarkwatch_[a-z_]+`).FindAllString(string(text), -1)
	if len(used) == 0 {
		t.Fatal("the rules use no darkwatch metric")
	}
	for _, m := range used {
		if !exported[m] {
			t.Errorf("the rules use %s, which darkwatch does not export", m)
		}
	}
	if _, err := os.Stat(promtool); err != nil {
		lab.Missing(t, "%s not found: install the Debian package prometheus (scripts/install-deps.sh)", promtool)
	}
	for _, args := range [][]string{{"check", "rules", rules}, {"test", "rules", filepath.Join("testdata", "darkwatch.rules.test.yml")}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exportedMetrics are the names of the metrics the code under root
// registers (Name: "darkwatch_..." in a non-test Go file).
func exportedMetrics(t *testing.T, root string) map[string]bool {
	t.Helper()
	name := regexp.MustCompile(`Name:\s*"(darkwatch_[a-z_]+)"`)
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		for _, m := range name.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return err
	})
	if err != nil || len(names) < 10 {
		t.Fatalf("metric names found: %v, %v", names, err)
	}
	return names
}
