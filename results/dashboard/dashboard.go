// Package dashboard holds the analysts' live view of a collector: a page with
// its script and style sheet embedded in the binary (no external assets), and
// the read-only JSON API the page and other tools read: verdicts, events,
// targets, vantages, per-prefix timelines and per-target drill-down.
//
// It reads a store and what the caller tells it of targets and vantages; it
// knows nothing of probing, transport, configuration files or who may read
// (the caller wraps the API in its authentication).
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
	"darkwatch/results/store"
)

//go:embed static
var static embed.FS

// Target is one configured target set, as the API shows it.
type Target struct {
	Name     string   `json:"name"`
	Prefixes []string `json:"prefixes"`
	ASN      uint32   `json:"asn,omitempty"`
	Country  string   `json:"country,omitempty"`
	Hosts    []string `json:"hosts,omitempty"`
	Methods  []string `json:"methods,omitempty"`
}

// Vantage is what the collector knows of one vantage point.
type Vantage struct {
	Name string `json:"name"`
	// LastSeen is the last heartbeat; zero when none came since the
	// collector started.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// LastRecord is the time of the newest record received.
	LastRecord time.Time `json:"last_record,omitzero"`
	// Received counts records received since the collector started.
	Received uint64 `json:"received"`
	// Outbox is what the node said it still has to send.
	Outbox   int64   `json:"outbox"`
	Offsetms float64 `json:"offset_ms"`
	RTTms    float64 `json:"rtt_ms"`
	Version  string  `json:"version,omitempty"`
	Round    int64   `json:"round,omitempty"`
	// Verdict is the latest vantage verdict (healthy, vantage-down).
	Verdict string `json:"verdict,omitempty"`
	// Rounds and Gaps count, in the window, the rounds with a verdict for
	// this vantage and those of them it was vantage-down or without
	// evidence while others had some.
	Rounds int `json:"rounds"`
	Gaps   int `json:"gaps"`
}

// Store is what the dashboard reads of a store (*store.Store has it).
type Store interface {
	EachRecord(ctx context.Context, q store.Query, fn func(results.Record) error) error
	Events(ctx context.Context, since, until time.Time) ([]results.Event, error)
	Verdicts(ctx context.Context, q store.VerdictQuery) ([]results.Verdict, error)
}

// Config is what the dashboard shows besides the store.
type Config struct {
	Store   Store
	Targets []Target
	// Vantages returns the collector's live view of the vantages (may be
	// nil); the dashboard adds the store's vantage verdicts.
	Vantages func() []Vantage
	// Window is how far back the page looks by default (default 6 h).
	Window time.Duration
	// Refresh is how often the page reloads its data (default 15 s).
	Refresh time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives what a 500 answer does not tell the client (nil
	// discards it).
	Log *slog.Logger
}

// maxWindow caps what one request of verdicts or events may ask for.
const maxWindow = 31 * 24 * time.Hour

// Requests that read records are held to less: a span of maxRecordSpan,
// a prefix of at least minPrefixBits4 (IPv4) or minPrefixBits6 (IPv6)
// bits, and at most maxTargetRecords records of one target.
const (
	maxRecordSpan    = 7 * 24 * time.Hour
	minPrefixBits4   = 16
	minPrefixBits6   = 32
	maxTargetRecords = 5000
)

// Handler serves the page at / and the API below /api/. Every API answer is
// JSON; a bad parameter is a 400 with {"error": "..."}.
func Handler(cfg Config) http.Handler {
	if cfg.Window <= 0 {
		cfg.Window = 6 * time.Hour
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &dash{cfg: cfg}
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /", http.FileServerFS(sub))
	mux.HandleFunc("GET /api/config", d.config)
	mux.HandleFunc("GET /api/verdicts", d.verdicts)
	mux.HandleFunc("GET /api/events", d.events)
	mux.HandleFunc("GET /api/targets", d.targets)
	mux.HandleFunc("GET /api/vantages", d.vantages)
	mux.HandleFunc("GET /api/prefix", d.prefix)
	mux.HandleFunc("GET /api/target", d.target)
	return securityHeaders(mux)
}

// APIOnly reports whether a request path is part of the API, for callers
// that guard the API but not the page.
func APIOnly(path string) bool { return strings.HasPrefix(path, "/api/") }

// securityHeaders forbids the page anything from elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

type dash struct{ cfg Config }

// badRequest is an error in a request's parameters.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// reply writes v as JSON, or err: a bad request's sentence with 400, and
// for anything else a 500 that says no more than that (the store's error
// names files and hosts); the detail goes to the log.
func (d *dash) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var br badRequest
		if errors.As(err, &br) {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		d.cfg.Log.Error("API request failed", "path", r.URL.Path, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"error": "internal error; the collector's log has the details"})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// since reads the since parameter: an RFC 3339 time or a duration back from
// now, at most maxWindow; default the window.
func (d *dash) since(r *http.Request) (time.Time, error) { return d.sinceWithin(r, maxWindow) }

// sinceWithin reads since, at most span back from now.
func (d *dash) sinceWithin(r *http.Request, span time.Duration) (time.Time, error) {
	now := d.cfg.Now()
	s := r.URL.Query().Get("since")
	if s == "" {
		return now.Add(-min(d.cfg.Window, span)), nil
	}
	hours := strconv.Itoa(int(span.Hours())) + "h"
	if dur, err := time.ParseDuration(s); err == nil {
		if dur <= 0 || dur > span {
			return time.Time{}, badRequest{"since: a duration between 0 and " + hours + " here"}
		}
		return now.Add(-dur), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, badRequest{"since: want an RFC 3339 time or a duration such as 6h"}
	}
	if now.Sub(t) > span {
		return time.Time{}, badRequest{"since: at most " + hours + " back here"}
	}
	return t, nil
}

func (d *dash) config(w http.ResponseWriter, r *http.Request) {
	d.reply(w, r, map[string]any{"window_s": d.cfg.Window.Seconds(), "refresh_s": d.cfg.Refresh.Seconds(),
		"now": d.cfg.Now().UTC()}, nil)
}

var levels = []string{results.LevelHost, results.LevelBlock, results.LevelPrefix, results.LevelASN,
	results.LevelCountry, results.LevelVantage}

// verdicts: ?level=L (default prefix) &entity=E; without since, the latest
// verdict per entity; with since, every verdict from then on.
func (d *dash) verdicts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	level := q.Get("level")
	if level == "" {
		level = results.LevelPrefix
	}
	if !slices.Contains(levels, level) {
		d.reply(w, r, nil, badRequest{"level: one of " + strings.Join(levels, ", ")})
		return
	}
	vq := store.VerdictQuery{Level: level, Entity: q.Get("entity")}
	if q.Get("since") == "" {
		vq.At = d.cfg.Now()
	} else {
		since, err := d.since(r)
		if err != nil {
			d.reply(w, r, nil, err)
			return
		}
		vq.Since = since
	}
	vs, err := d.cfg.Store.Verdicts(r.Context(), vq)
	if vs == nil {
		vs = []results.Verdict{}
	}
	d.reply(w, r, vs, err)
}

func (d *dash) events(w http.ResponseWriter, r *http.Request) {
	since, err := d.since(r)
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	es, err := d.cfg.Store.Events(r.Context(), since, time.Time{})
	if es == nil {
		es = []results.Event{}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Start.After(es[j].Start) })
	d.reply(w, r, es, err)
}

func (d *dash) targets(w http.ResponseWriter, r *http.Request) {
	ts := d.cfg.Targets
	if ts == nil {
		ts = []Target{}
	}
	d.reply(w, r, ts, nil)
}

func (d *dash) vantages(w http.ResponseWriter, r *http.Request) {
	vs, err := d.vantageStatus(r.Context())
	d.reply(w, r, vs, err)
}

// vantageStatus joins the collector's live view with the vantage verdicts of
// the window.
func (d *dash) vantageStatus(ctx context.Context) ([]Vantage, error) {
	byName := map[string]*Vantage{}
	get := func(name string) *Vantage {
		if v, ok := byName[name]; ok {
			return v
		}
		v := &Vantage{Name: name}
		byName[name] = v
		return v
	}
	if d.cfg.Vantages != nil {
		for _, v := range d.cfg.Vantages() {
			*get(v.Name) = v
		}
	}
	now := d.cfg.Now()
	vs, err := d.cfg.Store.Verdicts(ctx, store.VerdictQuery{Level: results.LevelVantage, Since: now.Add(-d.cfg.Window)})
	if err != nil {
		return nil, err
	}
	bins := map[time.Time]bool{}
	seen := map[string]map[time.Time]bool{}
	latest := map[string]time.Time{}
	for _, v := range vs {
		bins[v.Time] = true
		x := get(v.Entity)
		if seen[v.Entity] == nil {
			seen[v.Entity] = map[time.Time]bool{}
		}
		seen[v.Entity][v.Time] = true
		if v.Verdict != results.VerdictHealthy {
			x.Gaps++
		}
		if !v.Time.Before(latest[v.Entity]) {
			latest[v.Entity] = v.Time
			x.Verdict = v.Verdict
		}
	}
	out := make([]Vantage, 0, len(byName))
	for name, v := range byName {
		v.Rounds = len(seen[name])
		// Rounds others have a verdict for and this vantage has none.
		first := time.Time{}
		for t := range seen[name] {
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
		for t := range bins {
			if !first.IsZero() && t.After(first) && !seen[name][t] {
				v.Gaps++
			}
		}
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// roundCount is one vantage's probes of a prefix in one round.
type roundCount struct {
	Round    int64     `json:"round"`
	Time     time.Time `json:"time"`
	Probes   int       `json:"probes"`
	Answered int       `json:"answered"`
}

// prefix: ?entity=PREFIX&since=D: the prefix's verdicts and, per vantage and
// round, how many of its probes were answered (the data plane per vantage).
// control_plane is the BGP state the verdicts carry (announced, withdrawn,
// unknown), one per round.
func (d *dash) prefix(w http.ResponseWriter, r *http.Request) {
	p, err := netip.ParsePrefix(r.URL.Query().Get("entity"))
	if err != nil {
		d.reply(w, r, nil, badRequest{"entity: want a prefix such as 198.18.0.0/24"})
		return
	}
	if (p.Addr().Is4() && p.Bits() < minPrefixBits4) || (p.Addr().Is6() && p.Bits() < minPrefixBits6) {
		d.reply(w, r, nil, badRequest{"entity: at most a /" + strconv.Itoa(minPrefixBits4) + " (IPv4) or /" +
			strconv.Itoa(minPrefixBits6) + " (IPv6); ask /api/verdicts for larger entities"})
		return
	}
	since, err := d.sinceWithin(r, maxRecordSpan)
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	ctx := r.Context()
	p = p.Masked()
	level := results.LevelPrefix
	if (p.Addr().Is4() && p.Bits() == 24) || (p.Addr().Is6() && p.Bits() == 48) {
		level = "" // a block may be configured as a prefix too: take both
	}
	vq := store.VerdictQuery{Level: level, Entity: p.String(), Since: since}
	verdicts, err := d.cfg.Store.Verdicts(ctx, vq)
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	type key struct {
		vantage string
		round   int64
	}
	counts := map[key]*roundCount{}
	err = d.cfg.Store.EachRecord(ctx, store.Query{Prefix: p, Since: since}, func(rec results.Record) error {
		if rec.Method == results.MethodTrace {
			return nil
		}
		k := key{rec.Vantage, rec.Round}
		c := counts[k]
		if c == nil {
			c = &roundCount{Round: rec.Round, Time: rec.Time}
			counts[k] = c
		}
		if rec.Time.Before(c.Time) {
			c.Time = rec.Time
		}
		c.Probes++
		if rec.Answered() {
			c.Answered++
		}
		return nil
	})
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	perVantage := map[string][]roundCount{}
	for k, c := range counts {
		perVantage[k.vantage] = append(perVantage[k.vantage], *c)
	}
	for _, cs := range perVantage {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Round < cs[j].Round })
	}
	if verdicts == nil {
		verdicts = []results.Verdict{}
	}
	// The control plane as the verdicts saw it, one state a round.
	type controlState struct {
		Time  time.Time `json:"time"`
		State string    `json:"state"`
	}
	control := []controlState{}
	for _, v := range verdicts {
		if v.Level == results.LevelPrefix || v.Level == results.LevelBlock {
			control = append(control, controlState{v.Time, v.ControlPlane})
		}
	}
	d.reply(w, r, map[string]any{"entity": p.String(), "since": since.UTC(), "verdicts": verdicts,
		"vantages": perVantage, "control_plane": control}, nil)
}

// target: ?addr=A&since=D&limit=N: the records of one target, newest first,
// and its host verdicts.
func (d *dash) target(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	addr, err := netip.ParseAddr(q.Get("addr"))
	if err != nil {
		d.reply(w, r, nil, badRequest{"addr: want an IP address"})
		return
	}
	since, err := d.sinceWithin(r, maxRecordSpan)
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	limit := 500
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxTargetRecords {
			d.reply(w, r, nil, badRequest{"limit: 1 to " + strconv.Itoa(maxTargetRecords)})
			return
		}
	}
	ctx := r.Context()
	recs := make([]results.Record, 0, min(limit, 64))
	err = d.cfg.Store.EachRecord(ctx, store.Query{Target: addr.String(), Since: since, Limit: limit, Newest: true},
		func(rec results.Record) error {
			recs = append(recs, rec)
			return nil
		})
	if err != nil {
		d.reply(w, r, nil, err)
		return
	}
	if recs == nil {
		recs = []results.Record{}
	}
	vs, err := d.cfg.Store.Verdicts(ctx, store.VerdictQuery{Level: results.LevelHost, Entity: addr.String(), Since: since})
	if vs == nil {
		vs = []results.Verdict{}
	}
	d.reply(w, r, map[string]any{"addr": addr.String(), "records": recs, "verdicts": vs}, err)
}
