package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"darkwatch/results/store"
)

// lockedBuffer is a log sink handlers write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGuardBearer: the API needs a bearer token of serve.tokens: a request
// without one, or with a wrong one, is refused with 401; the right one
// passes; the page needs none. Refusals are logged at most once a minute,
// with the count of those not logged, and never with the token.
func TestGuardBearer(t *testing.T) {
	var logs lockedBuffer
	a := &app{cfg: &Config{}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	tokens := map[[32]byte]string{sha256.Sum256([]byte("right-token")): "analyst"}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inner")) })
	h := a.guard(tokens, inner)
	for _, tc := range []struct {
		name, path, auth string
		code             int
	}{
		{"no token", "/api/verdicts", "", http.StatusUnauthorized},
		{"empty bearer", "/api/verdicts", "Bearer ", http.StatusUnauthorized},
		{"wrong token", "/api/verdicts", "Bearer wrong-token", http.StatusUnauthorized},
		{"right token, not bearer", "/api/verdicts", "Basic right-token", http.StatusUnauthorized},
		{"a prefix of the right token", "/api/verdicts", "Bearer right", http.StatusUnauthorized},
		{"right token", "/api/verdicts", "Bearer right-token", http.StatusOK},
		{"the page", "/", "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			if tc.code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
			if tc.code == http.StatusOK && w.Body.String() != "inner" {
				t.Errorf("body %q, want the guarded handler's", w.Body.String())
			}
		})
	}
	for range 100 {
		r := httptest.NewRequest("GET", "/api/events", nil)
		r.Header.Set("Authorization", "Bearer wrong-token")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if n := strings.Count(logs.String(), "refused"); n != 1 {
		t.Errorf("%d refusal lines for 105 refusals within a minute, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "wrong-token") || strings.Contains(logs.String(), "right-token") {
		t.Error("a token is in the log")
	}
}

// TestRateLog: one line per interval, carrying the count of those not logged.
func TestRateLog(t *testing.T) {
	var logs lockedBuffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &rateLog{log: slog.New(slog.NewTextHandler(&logs, nil)), every: time.Minute, now: func() time.Time { return now }}
	for range 10 {
		l.warn("refused")
	}
	now = now.Add(61 * time.Second)
	l.warn("refused")
	if got := strings.Count(logs.String(), "refused"); got != 2 || !strings.Contains(logs.String(), "not_logged_since_last=9") {
		t.Errorf("log:\n%s\nwant two lines, the second counting 9 not logged", logs.String())
	}
}

// TestHealthz: /healthz asks the store itself, NATS and the collector,
// and answers 503 naming what is wrong.
func TestHealthz(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	connected, stalled := true, false
	h := health{nats: func() bool { return connected }, store: st, stalled: func() bool { return stalled },
		log: slog.New(slog.DiscardHandler)}
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	stalled = true
	if code, body := get(); code != 503 || !strings.Contains(body, "stalled") {
		t.Errorf("stalled collector: %d %q", code, body)
	}
	stalled, connected = false, false
	if code, body := get(); code != 503 || !strings.Contains(body, "NATS") {
		t.Errorf("NATS away: %d %q", code, body)
	}
	connected = true
	st.Close()
	if code, body := get(); code != 503 || !strings.Contains(body, "store") {
		t.Errorf("store closed: %d %q", code, body)
	}
}

// TestStoreSecrets: a store DSN's password never reaches a log; a password
// file others may read is refused, and one only the owner reads goes into
// the DSN.
func TestStoreSecrets(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://dw:s3cret@db.example:5432/dw":            "postgres://dw:REDACTED@db.example:5432/dw",
		"postgres://dw@db.example/dw?password=s3cret&x=1":    "postgres://dw@db.example/dw?password=REDACTED&x=1",
		"sqlite:///var/lib/darkwatch/darkwatch.db":           "sqlite:///var/lib/darkwatch/darkwatch.db",
		"postgres://dw:s3cret@db.example:5432/dw?sslmode=on": "postgres://dw:REDACTED@db.example:5432/dw?sslmode=on",
	} {
		if got := store.Redact(dsn); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", dsn, got, want)
		}
	}
	dir := t.TempDir()
	open := filepath.Join(dir, "open.pass")
	private := filepath.Join(dir, "private.pass")
	os.WriteFile(open, []byte("s3cret\n"), 0o644)
	os.WriteFile(private, []byte("s3cret\n"), 0o600)
	if _, err := readPrivateSecret("store_password_file", open); err == nil || !strings.Contains(err.Error(), "others may read it") {
		t.Errorf("a world-readable password file: %v", err)
	}
	pw, err := readPrivateSecret("store_password_file", private)
	if err != nil || pw != "s3cret" {
		t.Fatalf("private password file: %q, %v", pw, err)
	}
	dsn, err := store.WithPassword("postgres://dw@db.example/dw", pw)
	if err != nil || dsn != "postgres://dw:s3cret@db.example/dw" {
		t.Errorf("WithPassword: %q, %v", dsn, err)
	}
	if _, err := store.WithPassword("sqlite:///x.db", pw); err == nil {
		t.Error("a password given to a SQLite store")
	}
	if _, err := store.WithPassword("postgres://dw:other@db.example/dw", pw); err == nil {
		t.Error("a password file besides a password in the DSN")
	}
	// The command refuses a readable file before it opens anything.
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("store: postgres://dw@192.0.2.1:1/dw\nstore_password_file: "+open+"\n"), 0o600)
	code, _, stderr := runCLI(t, "--config", cfg, "verdict")
	if code != exitUsage || !strings.Contains(stderr, "store_password_file") || strings.Contains(stderr, "s3cret") {
		t.Errorf("exit %d, stderr %q: want 2 naming store_password_file", code, stderr)
	}
}
