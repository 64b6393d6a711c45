package transport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFileMode: a secret file its group or others may read is refused,
// naming the file and the fix.
func TestSecretFileMode(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "nats.pass")
	os.WriteFile(pw, []byte("s3cret\n"), 0o644)
	_, err := ReadSecret("collector.password_file", pw)
	if err == nil || !strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "chmod 600 "+pw) {
		t.Errorf("world-readable secret: %v", err)
	}
	os.Chmod(pw, 0o640)
	if _, err := ReadSecret("collector.password_file", pw); err == nil {
		t.Error("group-readable secret accepted")
	}
	os.Chmod(pw, 0o600)
	if s, err := ReadSecret("collector.password_file", pw); err != nil || s != "s3cret" {
		t.Errorf("owner-only secret: %q, %v", s, err)
	}
}
