package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"darkwatch/results/dashboard"
	"darkwatch/results/transport"
)

// Tokens are the API's bearer tokens: their SHA-256 sums, each with the
// name of its reader.
type Tokens map[[32]byte]string

// ReadTokens reads the tokens' files (which only their owner may read).
// An unusable file is a *ConfigError naming its key.
func ReadTokens(ts []APIToken) (Tokens, error) {
	tokens := Tokens{}
	for i, t := range ts {
		secret, err := transport.ReadSecret(fmt.Sprintf("tokens[%d].file", i), t.File)
		if err != nil {
			return nil, within("", err)
		}
		tokens[sha256.Sum256([]byte(secret))] = t.Name
	}
	return tokens, nil
}

// Guard lets the page through and asks the API for a bearer token of
// tokens (each compared in constant time). A refusal is logged with the
// client's address, never the token, at most once a minute with the count
// of those not logged.
func Guard(tokens Tokens, h http.Handler, log *slog.Logger) http.Handler {
	refusals := &rateLog{log: log, every: time.Minute}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !dashboard.APIOnly(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(given))
		var name string
		for k, n := range tokens {
			if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
				name = n
			}
		}
		if !ok || given == "" || name == "" {
			refusals.warn("API requests refused: no valid bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="darkwatch"`)
			http.Error(w, "a bearer token of serve.tokens is needed", http.StatusUnauthorized)
			return
		}
		log.Debug("API request", "reader", name, "path", r.URL.Path)
		h.ServeHTTP(w, r)
	})
}

// rateLog logs a warning at most once every so often, with how many like
// it were not logged since, so that a flood of bad requests cannot flood
// the log.
type rateLog struct {
	log   interface{ Warn(string, ...any) }
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *rateLog) warn(msg string, args ...any) {
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn(msg, append(args, "not_logged_since_last", n)...)
}
