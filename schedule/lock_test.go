package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockNoFollow(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	link := filepath.Join(dir, "sweep.lock")
	os.Symlink(victim, link)
	if lk, err := AcquireLock(link); err == nil {
		lk.Release()
		t.Error("lock taken through a symbolic link")
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("err %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("file behind the link is now %q", b)
	}
	lk, err := AcquireLock(filepath.Join(dir, "plain.lock"))
	if err != nil {
		t.Fatal(err)
	}
	lk.Release()
	if fi, _ := os.Stat(filepath.Join(dir, "plain.lock")); fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file is %v", fi.Mode().Perm())
	}
}

// TestLockHeld: a second taker of a held lock is refused at once, naming
// the holder's PID; once released, the lock is taken again.
func TestLockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "sweep.lock")
	lk, err := AcquireLock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(path)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second lock: %v; want ErrLocked naming pid %d", err, os.Getpid())
	}
	lk.Release()
	lk, err = AcquireLock(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	lk.Release()
}

func TestDefaultLockPath(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DefaultLockPath("vp1"); got != "/run/user/1000/darkwatch-sweep-vp1.lock" {
		t.Errorf("DefaultLockPath = %q", got)
	}
}
