package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/results/store"
)

// fakeProber answers, from memory, the addresses of up and nothing else.
type fakeProber struct {
	up      func(netip.Addr) bool
	openErr error
	mu      sync.Mutex
	swept   map[string][]netip.Addr // by method name
	opened  []string
	configs []probe.Config // of each opened prober
	// hold, when set, makes every sweep wait for its context to end before
	// it answers (a sweep cut short by SIGTERM still reads its replies).
	hold bool
}

func (f *fakeProber) Open(method string, c probe.Config) (probe.Prober, error) {
	f.mu.Lock()
	f.opened = append(f.opened, method)
	f.configs = append(f.configs, c)
	f.mu.Unlock()
	if f.openErr != nil {
		return nil, f.openErr
	}
	return &fakeOne{f: f, method: method, c: c}, nil
}

func (f *fakeProber) Sweep(ctx context.Context, job *SweepJob, emit func(results.Record)) (probe.SweepStats, error) {
	if f.hold {
		<-ctx.Done()
	}
	var st probe.SweepStats
	p, err := job.Perm()
	if err != nil {
		return st, err
	}
	for {
		i, ok := p.Next()
		if !ok {
			break
		}
		ad := job.Space.Index(i)
		f.mu.Lock()
		f.swept[job.Method.Name] = append(f.swept[job.Method.Name], ad)
		f.mu.Unlock()
		st.Sent++
		r := results.Record{Vantage: job.Vantage, Round: job.Round, Method: job.Method.Name, Target: ad.String(), Outcome: results.OutcomeTimeout}
		if f.up(ad) {
			st.Hits++
			r.Outcome = results.OutcomeReply
		}
		emit(r)
	}
	return st, nil
}

// fakeOne is one prober of fakeProber.
type fakeOne struct {
	f      *fakeProber
	method string
	c      probe.Config
}

func (o *fakeOne) Probe(_ context.Context, t probe.Target) []results.Record {
	r := results.Record{Vantage: o.c.Vantage, Round: o.c.Round, Method: o.method, Target: t.Addr.String(), Outcome: results.OutcomeTimeout}
	if o.f.up(t.Addr) {
		r.Outcome = results.OutcomeReply
	}
	return []results.Record{r}
}

func (o *fakeOne) Close() error { return nil }

// recorder keeps what a Daemon emits and commits.
type recorder struct {
	mu        sync.Mutex
	emitted   []results.Record
	committed []results.Record
	commits   int
}

func (r *recorder) emit(rec results.Record) {
	r.mu.Lock()
	r.emitted = append(r.emitted, rec)
	r.mu.Unlock()
}

func (r *recorder) commit(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.committed = append(r.committed, r.emitted...)
	r.emitted = nil
	r.commits++
	return nil
}

// count gives the committed records of method to targets in p.
func (r *recorder) count(method string, p netip.Prefix) int {
	n := 0
	for _, rec := range r.committed {
		if rec.Method == method && p.Contains(netip.MustParseAddr(rec.Target)) {
			n++
		}
	}
	return n
}

func newDaemon(f *fakeProber, rec *recorder, st Store, log *bytes.Buffer) *Daemon {
	return &Daemon{Prober: f, Store: st, Emit: rec.emit, Commit: rec.commit, Rounds: 1, NoAlign: true,
		Length: time.Second, Log: slog.New(slog.NewTextHandler(log, nil)), Metrics: NewMetrics()}
}

// TestDaemonRound: one round sweeps every method of a set over its IPv4 and
// its IPv6 addresses, probes its hosts and the canaries one by one, and
// commits it all.
func TestDaemonRound(t *testing.T) {
	cfg := validConfig()
	cfg.Targets[0].Prefixes = []string{"198.18.0.0/30", "2001:db8:1::/126"}
	cfg.Targets[0].Methods = []string{"icmp", "tcp:80", "trace"}
	cfg.Targets[0].Hosts = []HostConfig{{Addr: "198.18.9.9", Methods: []string{"icmp", "dns:example.org./SOA"}}}
	cfg.Canaries = []HostConfig{{Addr: "198.19.255.1"}}
	cfg.Allow = append(cfg.Allow, "2001:db8::/32")
	cfg.Probe.NSID = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	up := func(a netip.Addr) bool {
		return a.Is4() && a.As4()[3]%2 == 0 || a == netip.MustParseAddr("2001:db8:1::")
	}
	f := &fakeProber{up: up, swept: map[string][]netip.Addr{}}
	var rec recorder
	var log bytes.Buffer
	d := newDaemon(f, &rec, nil, &log)
	if err := d.Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	for i, m := range f.opened {
		if m == results.MethodDNS && !f.configs[i].DNS.NSID {
			t.Error("the dns prober was opened without probe.nsid's NSID option")
		}
	}
	if !slices.Contains(f.opened, results.MethodDNS) {
		t.Error("no dns prober opened")
	}
	pfx := netip.MustParsePrefix
	for _, c := range []struct {
		method string
		p      netip.Prefix
		want   int
	}{
		{"icmp", pfx("198.18.0.0/30"), 4}, {"tcp", pfx("198.18.0.0/30"), 4}, {"trace", pfx("198.18.0.0/30"), 1},
		{"icmp", pfx("2001:db8:1::/126"), 4}, {"tcp", pfx("2001:db8:1::/126"), 4},
		{"icmp", pfx("198.18.9.9/32"), 1}, {"dns", pfx("198.18.9.9/32"), 1}, {"icmp", pfx("198.19.255.1/32"), 1},
	} {
		if n := rec.count(c.method, c.p); n != c.want {
			t.Errorf("%d %s records of %s, want %d", n, c.method, c.p, c.want)
		}
	}
	if rec.commits != 2 || len(rec.emitted) != 0 {
		t.Errorf("%d commits, %d records left uncommitted; want 2 and 0", rec.commits, len(rec.emitted))
	}
	if got := value(t, d.Metrics.HitRate.WithLabelValues("lab", "icmp")); got != 0.25 {
		t.Errorf("icmp hit rate of the IPv6 probes %v, want 0.25 (the last count of the set)", got)
	}
	if got := value(t, d.Metrics.Rounds); got != 1 {
		t.Errorf("rounds %v, want 1", got)
	}
}

// failingStore fails what the round asks of the store, and keeps the
// failures it is given.
type failingStore struct {
	*store.Store
	failures []results.Failure
}

var errStore = errors.New("store is down")

func (*failingStore) Blocks(context.Context) ([]store.Block, error) { return nil, errStore }

func (s *failingStore) PutFailures(_ context.Context, fs []results.Failure) error {
	s.failures = append(s.failures, fs...)
	return nil
}

// TestDaemonErrorsAreVisible: what fails inside a round is logged with the
// vantage and counted by stage, and the round goes on.
func TestDaemonErrorsAreVisible(t *testing.T) {
	cfg := validConfig()
	cfg.Canaries = []HostConfig{{Addr: "198.19.255.1"}}
	f := &fakeProber{up: func(netip.Addr) bool { return true }, swept: map[string][]netip.Addr{}, openErr: errors.New("no raw socket")}
	var rec recorder
	var log bytes.Buffer
	st := &failingStore{}
	d := newDaemon(f, &rec, st, &log)
	if err := d.Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	// The store keeps one failure a stage of the round, for verdict --level vantage.
	var stages []string
	for _, fl := range st.failures {
		stages = append(stages, fl.Stage+": "+fl.Message)
		if fl.Vantage != "vp1" || fl.Time.IsZero() || fl.Round != st.failures[0].Round {
			t.Errorf("failure %+v: want vantage vp1, the round's start and number", fl)
		}
	}
	if len(stages) != 2 || !strings.Contains(stages[0], "census: census not loaded") || !strings.Contains(stages[0], "store is down") ||
		!strings.Contains(stages[1], "prober: icmp prober not opened") {
		t.Errorf("failures stored: %q, want the census's and the prober's", stages)
	}
	// The prober fails the canary; the IPv6 prefix (blocklisted here) is
	// swept like the IPv4 one, without a prober of its own.
	for stage, want := range map[string]float64{StageCensus: 1, StageProber: 1, StageSpace: 0} {
		if got := value(t, d.Metrics.Errors.WithLabelValues(stage)); got != want {
			t.Errorf("errors of stage %s: %v, want %v", stage, got, want)
		}
	}
	for _, want := range []string{`stage=census vantage=vp1 err="store is down"`, `stage=prober vantage=vp1 err="no raw socket"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, log.String())
		}
	}
	if n := rec.count("icmp", netip.MustParsePrefix("198.18.0.0/22")); n != 1024 {
		t.Errorf("the sweep went on with %d records, want 1024", n)
	}
}

// TestDaemonAdaptive: with a census in the store, the census blocks are
// probed the Trinocular way and left out of the ICMP sweep, and their beliefs
// are stored for the next round.
func TestDaemonAdaptive(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/dw.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	block := netip.MustParsePrefix("198.18.1.0/24")
	var e []netip.Addr
	for i := range 20 {
		e = append(e, netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)}))
	}
	if err := st.PutBlocks(ctx, []store.Block{{Prefix: block, Vantage: "vp1", Method: "icmp", E: e, A: 0.9, Updated: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	f := &fakeProber{up: func(netip.Addr) bool { return true }, swept: map[string][]netip.Addr{}}
	var rec recorder
	var log bytes.Buffer
	d := newDaemon(f, &rec, st, &log)
	if err := d.Run(ctx, validConfig()); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(f.swept["icmp"], block.Contains) || len(f.swept["icmp"]) != 768 {
		t.Errorf("the icmp sweep took %d addresses, want the 768 outside the census block", len(f.swept["icmp"]))
	}
	if n := rec.count("icmp", block); n < 1 || n > results.ProbeBudget {
		t.Errorf("%d adaptive probes of the census block, want 1 to %d", n, results.ProbeBudget)
	}
	bs, err := st.Beliefs(ctx, "vp1")
	if err != nil || len(bs) != 1 || bs[0].Block != block || bs[0].State != results.PlaneUp {
		t.Errorf("beliefs %+v, %v: want the census block, up", bs, err)
	}
}

// TestDaemonStopLosesNothing: a daemon stopped in the middle of a sweep
// commits the records the sweep took after it was told to stop.
func TestDaemonStopLosesNothing(t *testing.T) {
	f := &fakeProber{up: func(netip.Addr) bool { return true }, swept: map[string][]netip.Addr{}, hold: true}
	var rec recorder
	var log bytes.Buffer
	d := newDaemon(f, &rec, nil, &log)
	d.Rounds = 0
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := d.Run(ctx, validConfig()); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("icmp", netip.MustParsePrefix("198.18.0.0/22")); n != 1024 || len(rec.emitted) != 0 {
		t.Errorf("%d records committed, %d left; want 1024 and none", n, len(rec.emitted))
	}
}

// TestDaemonReload: SIGHUP's configuration is refused when bad and the old
// one kept; a good one is in force from the next round.
func TestDaemonReload(t *testing.T) {
	var log bytes.Buffer
	d := newDaemon(&fakeProber{}, &recorder{}, nil, &log)
	if err := d.setup(validConfig()); err != nil {
		t.Fatal(err)
	}
	d.Reload = func() (*Config, error) { return nil, &ConfigError{Key: "round", Msg: "bad"} }
	d.reload()
	if d.cfg.Vantage != "vp1" || !strings.Contains(log.String(), "new configuration refused") {
		t.Errorf("a bad configuration was taken: %+v\n%s", d.cfg, log.String())
	}
	next := validConfig()
	next.Vantage = "vp2"
	d.Reload = func() (*Config, error) { return next, nil }
	d.reload()
	if d.cfg.Vantage != "vp2" {
		t.Errorf("the new configuration is not in force")
	}
	if ok, refused := value(t, d.Metrics.Reloads.WithLabelValues("ok")), value(t, d.Metrics.Reloads.WithLabelValues("refused")); ok != 1 || refused != 1 {
		t.Errorf("reloads ok %v refused %v, want 1 and 1", ok, refused)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetCounter().GetValue() + out.GetGauge().GetValue()
}

// TestDaemonHitlist: a round sweeps a hitlist set's addresses, not the /48
// it names for the roll-up.
func TestDaemonHitlist(t *testing.T) {
	cfg := validConfig()
	cfg.Targets[0].Prefixes = []string{"198.18.0.0/30", "2001:db8:1::/48"}
	cfg.Targets[0].Hitlist = writeHitlist(t, "2001:db8:1::1", "2001:db8:1::2", "2001:db8:2::1", "198.18.7.7")
	cfg.Targets[0].Methods = []string{"icmp", "tcp:80"}
	cfg.Allow = append(cfg.Allow, "2001:db8::/32")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fakeProber{up: func(netip.Addr) bool { return true }, swept: map[string][]netip.Addr{}}
	var rec recorder
	var log bytes.Buffer
	if err := newDaemon(f, &rec, nil, &log).Run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	pfx := netip.MustParsePrefix
	for _, c := range []struct {
		method string
		p      netip.Prefix
		want   int
	}{
		{"icmp", pfx("2001:db8:1::/48"), 2}, {"tcp", pfx("2001:db8:1::/48"), 2},
		{"icmp", pfx("2001:db8:2::/48"), 1}, {"icmp", pfx("198.18.7.7/32"), 1}, {"icmp", pfx("198.18.0.0/30"), 4},
	} {
		if n := rec.count(c.method, c.p); n != c.want {
			t.Errorf("%d %s records in %s, want %d", n, c.method, c.p, c.want)
		}
	}
}

// TestDaemonAdaptiveHitlist: with a census of a hitlist's /48 in the store,
// the block is probed the Trinocular way and its addresses are left out of
// the ICMP sweep (not of the TCP one); its belief is stored.
func TestDaemonAdaptiveHitlist(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/dw.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	block := netip.MustParsePrefix("2001:db8:1::/48")
	var e []netip.Addr
	lines := []string{"2001:db8:2::1"} // a /48 without a census: swept
	for i := range 20 {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i))
		e = append(e, a)
		lines = append(lines, a.String())
	}
	if err := st.PutBlocks(ctx, []store.Block{{Prefix: block, Vantage: "vp1", Method: "icmp", E: e, A: 0.9, Updated: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Targets[0] = TargetSet{Name: "v6", Prefixes: []string{"2001:db8::/32"}, Hitlist: writeHitlist(t, lines...), Methods: []string{"icmp", "tcp:80"}}
	cfg.Allow = []string{"2001:db8::/32"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fakeProber{up: func(netip.Addr) bool { return true }, swept: map[string][]netip.Addr{}}
	var rec recorder
	var log bytes.Buffer
	if err := newDaemon(f, &rec, st, &log).Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := f.swept["icmp"]; !slices.Equal(got, addrs("2001:db8:2::1")) {
		t.Errorf("the icmp sweep took %v, want only the address outside the census block", got)
	}
	if n := len(f.swept["tcp"]); n != 21 {
		t.Errorf("the tcp sweep took %d addresses, want all 21", n)
	}
	if n := rec.count("icmp", block); n < 1 || n > results.ProbeBudget {
		t.Errorf("%d adaptive probes of the census block, want 1 to %d", n, results.ProbeBudget)
	}
	bs, err := st.Beliefs(ctx, "vp1")
	if err != nil || len(bs) != 1 || bs[0].Block != block || bs[0].State != results.PlaneUp {
		t.Errorf("beliefs %+v, %v: want the census block, up", bs, err)
	}
}
