package schedule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Lock holds an exclusive flock(2) on a file for the life of a sweep, so an
// overlapping cron run exits at once instead of sending a second round.
type Lock struct{ f *os.File }

// ErrLocked says another darkwatch holds the lock.
var ErrLocked = errors.New("locked")

// AcquireLock takes the lock at path without waiting. The file records the
// holder's PID for the error message of the next one, which wraps ErrLocked.
func AcquireLock(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: a symbolic link planted at path (in a shared temporary
	// directory) must not make darkwatch truncate the file it points to.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("lock %s is a symbolic link; remove it, or give --lock a path of a plain file", path)
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b[:n]))
			return nil, fmt.Errorf("%w: another darkwatch sweep (pid %s) holds %s; this run exits without sending", ErrLocked, pid, path)
		}
		return nil, err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock; the file stays for the next run.
func (l *Lock) Release() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

// DefaultLockPath is where the sweeps of vantage lock when no path is given:
// the runtime directory when there is one, else the temporary directory.
func DefaultLockPath(vantage string) string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		if os.Geteuid() == 0 {
			dir = "/run/darkwatch"
		} else {
			dir = os.TempDir()
		}
	}
	return filepath.Join(dir, "darkwatch-sweep-"+vantage+".lock")
}
