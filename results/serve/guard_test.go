package serve

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/results/store"
)

// TestGuardBearer: the API needs a bearer token of the tokens: a request
// without one, or with a wrong one, is refused with 401; the right one
// passes; the page needs none. Refusals are logged at most once a minute,
// with the count of those not logged, and never with the token.
func TestGuardBearer(t *testing.T) {
	var logs testenv.Buffer
	tokens := Tokens{sha256.Sum256([]byte("right-token")): "analyst"}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inner")) })
	h := Guard(tokens, inner, slog.New(slog.NewTextHandler(&logs, nil)))
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
	var logs testenv.Buffer
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
