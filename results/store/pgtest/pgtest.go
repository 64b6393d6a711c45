// Package pgtest gives tests a PostgreSQL database of their own: a schema
// in the server DARKWATCH_TEST_POSTGRES names, or else in a throwaway server
// started from Debian's postgresql package on first use, shared by a test
// binary's tests and benchmarks and stopped by Stop.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"darkwatch/internal/testenv"
)

// server is the one server of a test binary, started on first use.
var server struct {
	once sync.Once
	dsn  string // base DSN
	skip string // why there is no server, when none could be had
	err  error  // why starting one failed
	stop func()
}

// schemas numbers the schemas handed out.
var schemas atomic.Int64

// Stop stops the throwaway server, if one was started; a TestMain calls it
// after the tests have run.
func Stop() {
	if server.stop != nil {
		server.stop()
	}
}

// DSN returns a DSN for a fresh, empty schema of the test server, dropped
// when tb ends. Without a server tb is skipped, or fails in CI (testenv.Missing).
func DSN(tb testing.TB) string {
	tb.Helper()
	server.once.Do(start)
	if server.err != nil {
		tb.Fatalf("PostgreSQL: %v", server.err)
	}
	if server.skip != "" {
		testenv.Missing(tb, "%s", server.skip)
	}
	ctx := context.Background()
	schema := fmt.Sprintf("darkwatch_test_%d_%d", os.Getpid(), schemas.Add(1))
	conn, err := pgx.Connect(ctx, server.dsn)
	if err != nil {
		tb.Fatalf("PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("PostgreSQL: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, server.dsn)
		if err != nil {
			tb.Errorf("PostgreSQL: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("PostgreSQL: %v", err)
		}
	})
	sep := "?"
	if strings.Contains(server.dsn, "?") {
		sep = "&"
	}
	return server.dsn + sep + "search_path=" + schema
}

// start finds or starts the server.
func start() {
	if dsn := os.Getenv("DARKWATCH_TEST_POSTGRES"); dsn != "" {
		server.dsn = dsn
		return
	}
	bin := postgresBin()
	if bin == "" {
		server.skip = "no PostgreSQL server to test against: initdb and postgres are neither on PATH nor in " +
			"/usr/lib/postgresql/*/bin (apt-get install postgresql), and DARKWATCH_TEST_POSTGRES names no DSN"
		return
	}
	dsn, stop, err := runPostgres(bin)
	server.dsn, server.stop, server.err = dsn, stop, err
}

// postgresBin finds the directory that holds initdb and postgres.
func postgresBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // newest version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// runPostgres initialises a cluster in a temporary directory and starts its
// server on a free loopback port. PostgreSQL refuses to run as root, so as
// root both run as the postgres user (or nobody).
func runPostgres(bin string) (dsn string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "darkwatch-pg-")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if cred, err = unprivileged(); err != nil {
			return "", nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", nil, err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
		return cmd
	}
	data := filepath.Join(dir, "data")
	out, err := command("initdb", "-D", data, "-U", "darkwatch", "-A", "trust", "-E", "UTF8",
		"--no-locale", "--no-sync").CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		logPath := filepath.Join(dir, fmt.Sprintf("postgres-%d.log", try))
		logFile, err := os.Create(logPath)
		if err != nil {
			return "", nil, err
		}
		srv := command("postgres", "-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir)
		srv.Stdout, srv.Stderr = logFile, logFile
		if err := srv.Start(); err != nil {
			logFile.Close()
			return "", nil, fmt.Errorf("postgres: %w", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- srv.Wait(); logFile.Close() }()
		dsn := fmt.Sprintf("postgres://darkwatch@127.0.0.1:%d/postgres?sslmode=disable", port)
		if err := waitPostgres(dsn, exited); err != nil {
			srv.Process.Kill()
			log, _ := os.ReadFile(logPath)
			if try < 3 && strings.Contains(string(log), "already in use") {
				continue // another process took the port meanwhile
			}
			return "", nil, fmt.Errorf("postgres: %v\n%s", err, log)
		}
		stop := func() {
			srv.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				srv.Process.Kill()
				<-exited
			}
			os.RemoveAll(dir)
		}
		return dsn, stop, nil
	}
}

// unprivileged is the credential of the postgres user, or of nobody.
func unprivileged() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		if u, err = user.Lookup("nobody"); err != nil {
			return nil, errors.New("running as root, and neither user postgres nor nobody exists to run the server")
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitPostgres waits until the server takes connections.
func waitPostgres(dsn string, exited <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("server exited: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 60 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
