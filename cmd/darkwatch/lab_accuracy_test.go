package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"darkwatch/probe/lab"
	"darkwatch/results"
	"darkwatch/results/accuracy"
	"darkwatch/results/store"
)

// The lab layer of the accuracy benchmark (make accuracy): three nodes probe
// the realistic target space (configs/lab-space-realistic.txt) and send to a
// collector while the lab walks through faults whose ground truth the test
// records on the Unix-epoch round grid; the verdicts, live and after the fact,
// are scored against it.

// accRound is the round length of the benchmark's nodes.
const accRound = 2 * time.Second

// accLead is how long before a round starts the test changes the lab, so
// that the round's probes find the new state, and those of the round before
// (in its first accProbeWindow) the old one.
const accLead = 900 * time.Millisecond

// accSet is a target set of the benchmark: its prefixes are an AS and a country.
type accSet struct {
	name     string
	prefixes []string
	asn      uint32
	country  string
	hosts    []accHost
}

type accHost struct {
	addr    netip.Addr
	methods []string
}

// accSets are the target sets over the realistic profile. The victim's /22 is
// an AS and a country of its own, so that its blackout is an outage at every
// level; the diurnal block is one too.
func accSets(t *testing.T, prof *lab.Profile) []accSet {
	t.Helper()
	responder := func(block string, i int) netip.Addr {
		b, ok := prof.Block(netip.MustParsePrefix(block))
		if !ok || b.Responders <= i {
			t.Fatalf("the realistic profile has no responder %d in %s", i, block)
		}
		return b.Addrs()[i]
	}
	sets := []accSet{
		{name: "victim", prefixes: []string{"198.18.0.0/22"}, asn: 64500, country: "ZZ"},
		{name: "hosting", prefixes: []string{"198.18.4.0/22", "198.18.8.0/22", "198.18.12.0/22", "198.18.28.0/22", "198.18.32.0/23"},
			asn: 64510, country: "XA", hosts: []accHost{
				// The ICMP-filtered block's web servers, and two of its neighbour's.
				{responder("198.18.8.0/24", 0), []string{"tcp:80"}},
				{responder("198.18.8.0/24", 1), []string{"tcp:80"}},
				{responder("198.18.9.0/24", 0), []string{"icmp", "tcp:80"}},
				{responder("198.18.9.0/24", 1), []string{"icmp", "tcp:80"}},
			}},
		{name: "sparse", prefixes: []string{"198.18.16.0/22", "198.18.20.0/24"}, asn: 64530, country: "XB"},
		{name: "night", prefixes: []string{"198.18.24.0/24"}, asn: 64540, country: "XC"},
	}
	// Every block of the profile is measured, and nothing else.
	covered := 0
	for _, s := range sets {
		for _, p := range s.prefixes {
			pp := netip.MustParsePrefix(p)
			for _, b := range prof.Blocks {
				if pp.Contains(b.Prefix.Addr()) {
					covered++
				}
			}
			for _, blk := range accBlocks(pp) {
				if _, ok := prof.Block(blk); !ok {
					t.Fatalf("target prefix %s holds %s, which the profile does not name", p, blk)
				}
			}
		}
	}
	if covered != len(prof.Blocks) {
		t.Fatalf("the target sets cover %d of the profile's %d blocks", covered, len(prof.Blocks))
	}
	return sets
}

// accBlocks lists the /24s of an IPv4 prefix of /24 or shorter.
func accBlocks(p netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	a := p.Masked().Addr().As4()
	for i := 0; i < 1<<(24-p.Bits()); i++ {
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 + uint32(i)<<8
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24))
	}
	return out
}

func accTargetsYAML(sets []accSet) string {
	var b strings.Builder
	b.WriteString("targets:\n")
	for _, s := range sets {
		fmt.Fprintf(&b, "  - name: %s\n    prefixes: [%s]\n    asn: %d\n    country: %s\n    methods: [icmp]\n",
			s.name, strings.Join(s.prefixes, ", "), s.asn, s.country)
		if len(s.hosts) > 0 {
			b.WriteString("    hosts:\n")
			for _, h := range s.hosts {
				fmt.Fprintf(&b, "      - {addr: %s, methods: [\"%s\"]}\n", h.addr, strings.Join(h.methods, `", "`))
			}
		}
	}
	return b.String()
}

// accPhase is a stretch of rounds [start, end) under one set of faults.
type accPhase struct {
	name       string
	start, end time.Time
}

// accBin is the start of the round bin t falls in.
func accBin(t time.Time) time.Time {
	return time.Unix(0, t.UnixNano()-t.UnixNano()%int64(accRound)).UTC()
}

// accCeil is the first bin start at or after t.
func accCeil(t time.Time) time.Time {
	b := accBin(t)
	if b.Before(t) {
		b = b.Add(accRound)
	}
	return b
}

// accOutage reports whether a verdict says the entity's data plane is down.
func accOutage(v results.Verdict) bool {
	switch v.Verdict {
	case results.VerdictOutage, results.VerdictDataPlaneOutage, results.VerdictControlPlaneOutage:
		return true
	}
	return v.DataPlane == results.PlaneDown
}

// TestLabAccuracy runs the realistic target space through normal rounds, 30 %
// loss, a vantage's uplink cut, ICMP filtering, a withdrawal (with half a block
// dark), a one-round outage of a /24 and a blackout of a /22 (dark and its
// /24s withdrawn) for 61 rounds, and recovery. It scores the verdicts of
// `verdict --since`, and those read live during the blackout (`verdict`
// without --since, the collector's /api/verdicts), against the ground truth:
// no false outage of a healthy entity at any level, sparse blocks included; the
// blackout an outage at every level in at least 95 % of its rounds, detected
// within 2 rounds.
//
// It is the lab layer of the accuracy benchmark (make accuracy-lab), not a unit
// test: its 2-second rounds measure the machine as much as the analysis, so
// it runs only with DARKWATCH_ACCURACY=lab (or all).
func TestLabAccuracy(t *testing.T) {
	if v := os.Getenv("DARKWATCH_ACCURACY"); v != "lab" && v != "all" {
		t.Skip("the lab accuracy benchmark: make accuracy-lab (DARKWATCH_ACCURACY=lab)")
	}
	began := time.Now()
	l := lab.Start(t)
	prof := l.Space(t, lab.RealisticProfileName)
	bin := lab.Binary(t)
	sets := accSets(t, prof)
	dir := t.TempDir()
	vantages := []string{"vp1", "vp2", "vp3"}

	// Configurations: the collector (serve, with BIRD's routes), and a node
	// per vantage with a store of its own.
	token := "accuracy-token-" + l.Prefix
	pass := func(v string) string { return "secret-" + v + "-" + l.Prefix }
	for _, v := range vantages {
		writeFile(t, filepath.Join(dir, v+".pass"), pass(v)+"\n")
	}
	writeFile(t, filepath.Join(dir, "api.token"), token+"\n")
	base := `allow: [198.18.0.0/15]
metrics: "off"
round: 2s
quorum: 2
rate: {pps: 0, per_block_pps: 0}
probe: {timeout: 150ms}
canaries: [{addr: 198.19.255.1, methods: [icmp]}, {addr: 198.19.255.2, methods: [icmp]}]
vantages: [vp1, vp2, vp3]
` + accTargetsYAML(sets)
	colDB := "sqlite://" + filepath.Join(dir, "collector.db")
	colCfg := writeFile(t, filepath.Join(dir, "collector.yaml"), base+fmt.Sprintf(`store: %s
serve:
  listen: %s:8080
  refresh: 2s
  window: 1h
  tokens: [{name: test, file: %s/api.token}]
  nats:
    listen: %s:4222
    insecure_plaintext: true
    store_dir: %s
    nodes:
      - {user: vp1, password_file: %s/vp1.pass}
      - {user: vp2, password_file: %s/vp2.pass}
      - {user: vp3, password_file: %s/vp3.pass}
bgp: {local_asn: %d, listen: "%s:179", peers: [{addr: %s, asn: %d}], full_feed: {ipv4: 0, ipv6: 0}}
`, colDB, lab.Collector4, dir, lab.Collector4, filepath.Join(dir, "jetstream"), dir, dir, dir,
		lab.CollectorASN, lab.Collector4, lab.BorderBGP4, lab.BorderASN))
	nodeDB := func(v string) string { return "sqlite://" + filepath.Join(dir, v+".db") }
	nodeCfg := map[string]string{}
	for _, v := range vantages {
		nodeCfg[v] = writeFile(t, filepath.Join(dir, v+".yaml"), base+fmt.Sprintf(`store: %s
collector: {url: "nats://%s:4222", user: %s, password_file: %s/%s.pass, heartbeat: 1s, insecure_plaintext: true}
`, nodeDB(v), lab.Collector4, v, dir, v))
	}

	// The collector first: its BGP session comes up during the census.
	serve := startProc(t, l, "col", "serve", bin, "--config", colCfg, "serve")
	stopped := false
	defer func() {
		if !stopped {
			serve.kill(t, syscall.SIGTERM)
		}
	}()
	serve.waitLog(t, 60*time.Second, `msg=serving`)
	waitState(t, colCfg, "198.18.1.0/24", results.ControlAnnounced, 30*time.Second)
	// The census, from every vantage at once: 16 passes, so that A of the
	// pool of rarely answering addresses comes out below 0.1, as a long
	// census would find it. A census of the diurnal block in its dark half
	// finds nothing to probe, so the sets with diurnal blocks have a census
	// of their own while those are up, before or after the others'.
	var day, night []accSet
	for _, s := range sets {
		if accDiurnal(prof, s) > 0 {
			night = append(night, s)
		} else {
			day = append(day, s)
		}
	}
	censusCfg := func(name string, ss []accSet) map[string]string {
		cfgs := map[string]string{}
		for _, v := range vantages {
			cfgs[v] = writeFile(t, filepath.Join(dir, name+"-"+v+".yaml"), strings.Replace(base, accTargetsYAML(sets), accTargetsYAML(ss), 1)+
				"store: "+nodeDB(v)+"\n")
		}
		return cfgs
	}
	census := func(what string, cfgs map[string]string) error {
		began := time.Now()
		var wg sync.WaitGroup
		out := make([][]byte, len(vantages))
		errs := make([]error, len(vantages))
		for i, v := range vantages {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				out[i], errs[i] = l.Command(ctx, v, bin, "--config", cfgs[v], "--vantage", v,
					"census", "--passes", "16", "--cooldown", "250ms").CombinedOutput()
			})
		}
		wg.Wait()
		for i, v := range vantages {
			if errs[i] != nil {
				return fmt.Errorf("census of %s from %s: %v\n%s", what, v, errs[i], out[i])
			}
		}
		t.Logf("census of %s from %d vantages in %v", what, len(vantages), time.Since(began).Round(time.Millisecond))
		return nil
	}
	// upFor is how long every diurnal block stays up from now (0: one is dark).
	upFor := func() time.Duration {
		left := time.Duration(1 << 62)
		for _, s := range night {
			p := accDiurnal(prof, s)
			ph := time.Duration(time.Now().UnixNano() % int64(p))
			left = min(left, max(p/2-lab.SpaceLead-ph, 0))
		}
		return left
	}
	// The two run side by side: each stores its own blocks with those it
	// found stored (MergeCensus), so neither loses the other's.
	const nightCensus = 8 * time.Second // 16 passes over a block, beside the other census, on a loaded machine
	dayCfg, nightCfg := censusCfg("census-day", day), censusCfg("census-night", night)
	var cw sync.WaitGroup
	var dayErr error
	cw.Go(func() { dayErr = census("the other sets", dayCfg) })
	var nightErr error
	if len(night) > 0 {
		for upFor() < nightCensus {
			time.Sleep(200 * time.Millisecond)
		}
		nightErr = census("the diurnal sets", nightCfg)
	}
	cw.Wait()
	if err := errors.Join(dayErr, nightErr); err != nil {
		t.Fatal(err)
	}
	// The collector judges with the nodes' censuses: copy them to its store
	// (serve reads them there at every refresh).
	col, err := store.Open(t.Context(), colDB)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]map[netip.Prefix]store.Block{}
	for _, v := range vantages {
		st, err := store.Open(t.Context(), nodeDB(v))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := st.Blocks(t.Context())
		st.Close()
		if err != nil || len(bs) == 0 {
			t.Fatalf("census of %s: %d blocks, %v", v, len(bs), err)
		}
		if err := col.PutBlocks(t.Context(), bs); err != nil {
			t.Fatal(err)
		}
		found[v] = map[netip.Prefix]store.Block{}
		for _, b := range bs {
			found[v][b.Prefix] = b
		}
	}
	col.Close()
	accLogCensus(t, prof, found)

	// The nodes.
	nodes := map[string]*proc{}
	for _, v := range vantages {
		nodes[v] = startProc(t, l, v, v, bin, "--config", nodeCfg[v], "--vantage", v, "run", "--cooldown", "200ms")
	}
	nodesUp := true
	stopNodes := func() {
		if nodesUp {
			for _, v := range vantages {
				nodes[v].kill(t, syscall.SIGTERM)
			}
			nodesUp = false
		}
	}
	defer stopNodes()
	for _, v := range vantages {
		nodes[v].waitLog(t, 60*time.Second, "connected to the collector")
	}

	// The scenario, on the round grid. The first rounds are warm-up, not scored.
	from := accCeil(time.Now()).Add(2 * accRound)
	var phases []*accPhase
	next := from
	// begin opens a phase of n rounds and waits until accLead before it.
	begin := func(name string, n int) *accPhase {
		p := &accPhase{name: name, start: next, end: next.Add(time.Duration(n) * accRound)}
		phases = append(phases, p)
		next = p.end
		time.Sleep(time.Until(p.start.Add(-accLead)))
		return p
	}
	var changes []accChange
	do := func(what string, f func()) accChange {
		c := accChange{what: what, start: time.Now()}
		f()
		c.done = time.Now()
		changes = append(changes, c)
		return c
	}
	fault := func(args ...string) accChange {
		return do(strings.Join(args, " "), func() { l.Fault(t, args...) })
	}
	restore := func() { do("restore", func() { l.Restore(t) }) }

	begin("normal", 3)
	begin("198.18.5.0/24 dark for one round", 1)
	oneOn := fault("dark", "198.18.5.0/24")
	begin("after the one-round outage", 2)
	oneOff := fault("undark", "198.18.5.0/24")
	begin("30 % loss", 3)
	fault("loss", "30")
	begin("uplink of vp3 cut", 3)
	restore()
	fault("uplink-cut", "3")
	begin("ICMP echo dropped in 198.18.8.0/23", 3)
	restore()
	fault("icmp-drop", "198.18.8.0/23")
	wd := begin("withdrawals (198.18.2.0/24, then the /22's /24s), 198.18.6.128/25 dark", 4)
	restore()
	fault("withdraw", "198.18.2.0/24")
	fault("dark", "198.18.6.128/25")
	// The blackout's /24s are withdrawn a round before it (a withdrawal
	// alone is no outage); the faults before go before that.
	time.Sleep(time.Until(wd.end.Add(-2 * accRound)))
	restore()
	time.Sleep(time.Until(wd.end.Add(-accRound - accLead)))
	for _, p := range []string{"198.18.0.0/24", "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24"} {
		fault("withdraw", p)
	}
	const blackRounds = 61
	bp := begin("blackout of 198.18.0.0/22 (dark, its /24s withdrawn)", blackRounds)
	blackOn := fault("dark", "198.18.0.0/22")

	// Read the live verdicts once a round while the blackout lasts, in a
	// goroutine of their own, so that the faults keep their times.
	lp := newAccLivePolls()
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		lp.run(t, l, bin, colCfg, token, bp)
	}()
	rec := begin("recovery", 3)
	blackOff := fault("undark", "198.18.0.0/22")
	restore()
	<-pollDone
	until := rec.end
	// Let the last round's records reach the collector, then stop.
	time.Sleep(time.Until(until.Add(accRound)))
	stopNodes()
	for _, v := range vantages {
		if n := strings.Count(nodes[v].log.String(), "round took longer than the round length"); n > 0 {
			t.Logf("%s: %d rounds took longer than %v", v, n, accRound)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, v := range vantages {
		for outboxLen(t, nodeDB(v)) > 0 && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
		}
		if n := outboxLen(t, nodeDB(v)); n > 0 {
			t.Logf("%s: %d batches still unsent after the nodes stopped", v, n)
		}
	}
	serve.kill(t, syscall.SIGTERM)
	stopped = true
	switches, err := l.SpaceSwitches()
	if err != nil {
		t.Errorf("the diurnal clock's switches: %v", err)
	}
	var log strings.Builder
	for _, p := range phases {
		fmt.Fprintf(&log, "\n  phase %-78s %s .. %s (%d rounds)", p.name, p.start.Format("15:04:05"), p.end.Format("15:04:05"), int(p.end.Sub(p.start)/accRound))
	}
	for _, c := range changes {
		fmt.Fprintf(&log, "\n  %s %-32s took %5dms, done %+6dms from the nearest round start", c.start.Format("15:04:05.000"), c.what,
			c.done.Sub(c.start).Milliseconds(), c.done.Sub(accBin(c.done.Add(accRound/2))).Milliseconds())
	}
	for _, sw := range switches {
		if !sw.Time.Before(from.Add(-accRound)) && sw.Time.Before(until) {
			fmt.Fprintf(&log, "\n  %s %s %s (clock), %+6dms from the nearest round start", sw.Time.Format("15:04:05.000"), sw.Block,
				map[bool]string{true: "dark", false: "up"}[sw.Dark], sw.Time.Sub(accBin(sw.Time.Add(accRound/2))).Milliseconds())
		}
	}
	t.Logf("the scenario:%s", log.String())

	// The ground truth: the diurnal block's dark halves, the one-round
	// outage and the blackout. A change counts as made at the middle of the
	// call that made it; a round whose probes it may have met is ambiguous
	// for the entities it changes, and left out of the checks below (not
	// of the scores).
	truth := accTruth(prof, sets, from, until)
	ambiguous := map[results.EntityRef]map[time.Time]bool{}
	outage := func(on, off accChange, entities []results.EntityRef) {
		for _, e := range entities {
			if start, end := on.firstBin(), off.firstBin(); end.After(start) {
				truth.Outages = append(truth.Outages, accuracy.Outage{Level: e.Level, Entity: e.Entity, Start: start, End: end})
			}
			for _, c := range []accChange{on, off} {
				for b := accBin(c.start).Add(-accRound); !b.After(c.done); b = b.Add(accRound) {
					if c.hits(b) {
						if ambiguous[e] == nil {
							ambiguous[e] = map[time.Time]bool{}
						}
						ambiguous[e][b] = true
					}
				}
			}
		}
	}
	outage(oneOn, oneOff, []results.EntityRef{{Level: results.LevelBlock, Entity: "198.18.5.0/24"}})
	blackEntities := []results.EntityRef{
		{Level: results.LevelPrefix, Entity: "198.18.0.0/22"},
		{Level: results.LevelASN, Entity: results.ASEntity(64500)},
		{Level: results.LevelCountry, Entity: "ZZ"},
	}
	for _, b := range accBlocks(netip.MustParsePrefix("198.18.0.0/22")) {
		blackEntities = append(blackEntities, results.EntityRef{Level: results.LevelBlock, Entity: b.String()})
	}
	outage(blackOn, blackOff, blackEntities)
	blackStart, blackEnd := blackOn.firstBin(), blackOff.firstBin()
	if n := int(blackEnd.Sub(blackStart) / accRound); n < 60 {
		t.Errorf("the blackout lasted %d rounds on the grid, want at least 60 (a loaded machine made its changes late)", n)
	}
	// The clock's switches of the diurnal block make its rounds next to
	// them ambiguous the same way, and each must come near its boundary.
	for _, sw := range switches {
		if sw.Time.Before(from.Add(-accRound)) || !sw.Time.Before(until) {
			continue
		}
		c := accChange{start: sw.Time.Add(-200 * time.Millisecond), done: sw.Time}
		if off := c.done.Sub(accCeil(sw.Time.Add(-accRound / 2))); off.Abs() > accRound/2 {
			t.Errorf("the diurnal clock switched %s %v from its boundary", sw.Block, off)
		}
		for _, e := range truth.Entities {
			if !accNight(sets, e, sw.Block) {
				continue
			}
			for b := accBin(c.start).Add(-accRound); !b.After(c.done); b = b.Add(accRound) {
				if c.hits(b) {
					if ambiguous[e] == nil {
						ambiguous[e] = map[time.Time]bool{}
					}
					ambiguous[e][b] = true
				}
			}
		}
	}

	// The verdicts after the fact, at every level.
	var since []results.Verdict
	var measured map[time.Time]bool
	for _, level := range []string{results.LevelHost, results.LevelBlock, results.LevelPrefix, results.LevelASN, results.LevelCountry, results.LevelVantage} {
		vs := accVerdicts(t, bin, colCfg, "--level", level, "--since", from.Format(time.RFC3339), "--until", until.Format(time.RFC3339))
		if level == results.LevelVantage {
			measured = accLogVantages(t, vs, phases, from, until)
			continue
		}
		since = append(since, vs...)
	}
	t.Logf("%d verdicts from verdict --since; live: %s", len(since), lp.summary())

	rows := accuracy.Score(truth, since)
	accuracy.Print(os.Stdout, "lab: verdict --since, every round from "+from.Format(time.RFC3339)+" to "+until.Format(time.RFC3339), rows)
	liveTruth := truth
	liveTruth.From, liveTruth.Until = blackStart, blackEnd
	for _, v := range lp.views {
		tr := liveTruth
		tr.Sampled = v.sampled
		accuracy.Print(os.Stdout, "lab: live "+v.name+" during the blackout, the rounds it was read", accuracy.Score(tr, v.verdicts()))
	}
	accLogPhases(t, since, phases)

	// The targets.
	sinceView := &accLiveView{name: "verdict --since", got: accByEntity(since)}
	for _, v := range append([]*accLiveView{sinceView}, lp.views...) {
		tr := truth
		if v != sinceView {
			tr = liveTruth
		}
		accCheckNoFalseOutage(t, v.name, tr, v.verdicts(), phases, ambiguous)
	}
	judge := func(e results.EntityRef, b time.Time) bool { return measured[b] && !ambiguous[e][b] }
	accCheckBlackout(t, sinceView.name, sinceView.got, nil, blackEntities, blackStart, blackEnd, judge)
	for _, v := range lp.views {
		accCheckBlackout(t, "live "+v.name, v.got, sinceView.got, blackEntities, blackStart, blackEnd, judge)
	}
	accCheckCoverage(t, truth, since)
	t.Logf("TestLabAccuracy took %v", time.Since(began).Round(time.Second))
}

// accChange is one change of the lab: the call that made it ran from start
// to done.
type accChange struct {
	what        string
	start, done time.Time
}

// accProbeWindow is how long into a round its probes of a census block come
// (the adaptive probes come first; budget and timeouts bound them).
const accProbeWindow = time.Second

// firstBin is the first round the change is taken to be in place for: the
// first whose probe window is mostly after the middle of the call.
func (c accChange) firstBin() time.Time {
	mid := c.start.Add(c.done.Sub(c.start) / 2)
	return accCeil(mid.Add(-accProbeWindow / 2))
}

// hits reports whether the change may have come while the round b probed.
func (c accChange) hits(b time.Time) bool {
	return c.start.Before(b.Add(accProbeWindow)) && c.done.After(b.Add(-50*time.Millisecond))
}

// accDiurnal is the period of the diurnal blocks of set s (0: none).
func accDiurnal(prof *lab.Profile, s accSet) time.Duration {
	for _, p := range s.prefixes {
		for _, blk := range accBlocks(netip.MustParsePrefix(p)) {
			if b, ok := prof.Block(blk); ok && b.Period > 0 {
				return b.Period
			}
		}
	}
	return 0
}

// accNight reports whether entity e is the diurnal block or a roll-up of it
// alone (a target set of its own).
func accNight(sets []accSet, e results.EntityRef, block netip.Prefix) bool {
	for _, s := range sets {
		if len(s.prefixes) != 1 || s.prefixes[0] != block.String() {
			continue
		}
		switch e {
		case results.EntityRef{Level: results.LevelBlock, Entity: block.String()},
			results.EntityRef{Level: results.LevelPrefix, Entity: block.String()},
			results.EntityRef{Level: results.LevelASN, Entity: results.ASEntity(s.asn)},
			results.EntityRef{Level: results.LevelCountry, Entity: s.country}:
			return true
		}
	}
	return e == results.EntityRef{Level: results.LevelBlock, Entity: block.String()}
}

// accTruth is the ground truth without the faults' outages: the entities of
// the target sets, the unmeasurable ones (blocks sparse by the profile: fewer
// than results.SparseMinE responders or a < results.SparseMinA; roll-ups of
// nothing else), and the dark halves of the diurnal blocks, and of the roll-ups
// whose every block is dark then.
func accTruth(prof *lab.Profile, sets []accSet, from, until time.Time) accuracy.Truth {
	tr := accuracy.Truth{Round: accRound, From: from, Until: until, Unmeasurable: map[results.EntityRef]bool{}}
	blocks := map[results.EntityRef][]lab.SpaceBlock{} // a roll-up's blocks
	add := func(e results.EntityRef, b *lab.SpaceBlock) {
		if _, ok := blocks[e]; !ok {
			tr.Entities = append(tr.Entities, e)
			blocks[e] = nil
		}
		if b != nil {
			blocks[e] = append(blocks[e], *b)
		}
	}
	for _, s := range sets {
		as := results.EntityRef{Level: results.LevelASN, Entity: results.ASEntity(s.asn)}
		country := results.EntityRef{Level: results.LevelCountry, Entity: s.country}
		for _, p := range s.prefixes {
			pe := results.EntityRef{Level: results.LevelPrefix, Entity: p}
			for _, blk := range accBlocks(netip.MustParsePrefix(p)) {
				b, _ := prof.Block(blk)
				add(results.EntityRef{Level: results.LevelBlock, Entity: blk.String()}, &b)
				add(pe, &b)
				add(as, &b)
				add(country, &b)
			}
		}
		for _, h := range s.hosts {
			add(results.EntityRef{Level: results.LevelHost, Entity: h.addr.String()}, nil)
		}
	}
	for _, e := range tr.Entities {
		bs := blocks[e]
		if len(bs) == 0 {
			continue // a host
		}
		measurable, period := false, bs[0].Period
		for _, b := range bs {
			measurable = measurable || b.Responders >= results.SparseMinE && b.A >= results.SparseMinA
			if b.Period != period {
				period = 0
			}
		}
		if !measurable {
			tr.Unmeasurable[e] = true
		}
		if period <= 0 || bs[0].Prefix != bs[len(bs)-1].Prefix {
			continue // not one diurnal block alone
		}
		for s := accBin(from).Add(-period); s.Before(until); s = s.Add(period) {
			start := s.Add(-time.Duration(s.UnixNano() % int64(period))).Add(period / 2)
			if start.Before(until) && start.Add(period/2).After(from) {
				tr.Outages = append(tr.Outages, accuracy.Outage{Level: e.Level, Entity: e.Entity, Start: start, End: start.Add(period / 2)})
			}
		}
	}
	return tr
}

// accOutAt reports whether the truth has the entity out in the bin starting at b.
func accOutAt(tr accuracy.Truth, e results.EntityRef, b time.Time) bool {
	for _, o := range tr.Outages {
		if o.Level == e.Level && o.Entity == e.Entity && !b.Before(o.Start) && b.Before(o.End) {
			return true
		}
	}
	return false
}

func accPhaseAt(phases []*accPhase, t time.Time) string {
	for _, p := range phases {
		if !t.Before(p.start) && t.Before(p.end) {
			return p.name
		}
	}
	return "?"
}

// accByEntity files verdicts by entity and round bin (a later one of a bin wins).
func accByEntity(vs []results.Verdict) map[results.EntityRef]map[time.Time]results.Verdict {
	got := map[results.EntityRef]map[time.Time]results.Verdict{}
	for _, v := range vs {
		e := results.EntityRef{Level: v.Level, Entity: v.Entity}
		if got[e] == nil {
			got[e] = map[time.Time]results.Verdict{}
		}
		got[e][accBin(v.Time)] = v
	}
	return got
}

// accCheckNoFalseOutage: no entity, measurable or not, reads outage in a round
// in which the truth has it healthy (rounds ambiguous for it aside).
func accCheckNoFalseOutage(t *testing.T, source string, tr accuracy.Truth, vs []results.Verdict, phases []*accPhase,
	ambiguous map[results.EntityRef]map[time.Time]bool) {
	t.Helper()
	byPhase := map[string][]string{}
	n := 0
	for _, v := range vs {
		b := accBin(v.Time)
		e := results.EntityRef{Level: v.Level, Entity: v.Entity}
		if b.Before(tr.From) || !b.Before(tr.Until) || !accOutage(v) || accOutAt(tr, e, b) || ambiguous[e][b] {
			continue
		}
		n++
		ph := accPhaseAt(phases, b)
		un := ""
		if tr.Unmeasurable[e] {
			un = " (unmeasurable)"
		}
		byPhase[ph] = append(byPhase[ph], fmt.Sprintf("%s %s %s%s: %s/%s", b.Format("15:04:05"), v.Level, v.Entity, un, v.Verdict, v.DataPlane))
	}
	if n == 0 {
		return
	}
	var msg []string
	for _, p := range phases {
		lines := byPhase[p.name]
		if len(lines) == 0 {
			continue
		}
		sort.Strings(lines)
		msg = append(msg, fmt.Sprintf("  in %q (%d):", p.name, len(lines)))
		if len(lines) > 12 {
			lines = append(lines[:12:12], fmt.Sprintf("... and %d more", len(lines)-12))
		}
		for _, s := range lines {
			msg = append(msg, "    "+s)
		}
	}
	t.Errorf("%s: %d false outage verdicts (healthy entity, round by round):\n%s", source, n, strings.Join(msg, "\n"))
}

// accCheckBlackout: every level's entities of the blacked-out /22 read outage in
// at least 95 % of the blackout's rounds, the first within 2 rounds. Only the
// rounds judge allows are judged: those in which at least a quorum of
// vantages reported (a loaded machine makes nodes skip rounds) and that no
// change of the lab may have met halfway. After the fact every such round
// needs a verdict. A live view (after, the verdicts after the fact, shown
// beside its misses) is judged on the rounds it showed, at least 10: those
// after the 2 rounds allowed for detection, since its first rounds are read
// more often than the others (every level is read in the first three rounds,
// one level a round after them).
func accCheckBlackout(t *testing.T, source string, got, after map[results.EntityRef]map[time.Time]results.Verdict, entities []results.EntityRef,
	start, end time.Time, judge func(results.EntityRef, time.Time) bool) {
	live := after != nil
	show := func(v results.Verdict) string {
		s := v.Verdict + "/" + v.DataPlane
		if v.Vantages != nil {
			s += fmt.Sprintf(" (vantages up/down/gap %d/%d/%d)", v.Vantages.Up, v.Vantages.Down, v.Vantages.Gap)
		}
		return s
	}
	t.Helper()
	rounds := int(end.Sub(start) / accRound)
	for _, e := range entities {
		judged, out, first := 0, 0, -1
		var missed []string
		for i := range rounds {
			b := start.Add(time.Duration(i) * accRound)
			v, ok := got[e][b]
			if ok && accOutage(v) && first < 0 {
				first = i
			}
			if !judge(e, b) || live && (!ok || i < 2) {
				continue
			}
			judged++
			if ok && accOutage(v) {
				out++
				continue
			}
			what := "no verdict"
			if ok {
				what = show(v)
			}
			if a, ok := after[e][b]; ok {
				what += ", after the fact " + show(a)
			}
			missed = append(missed, fmt.Sprintf("%s %s", b.Format("15:04:05"), what))
		}
		if floor := map[bool]int{false: rounds / 2, true: 10}[live]; judged < floor {
			t.Errorf("%s: blackout: %s %s: only %d of %d rounds could be judged (want %d): the machine is too loaded to tell",
				source, e.Level, e.Entity, judged, rounds, floor)
			continue
		}
		share := float64(out) / float64(judged)
		t.Logf("%s: blackout: %s %s reads outage in %d of %d judged rounds (%.1f %%), first in round %d",
			source, e.Level, e.Entity, out, judged, 100*share, first)
		if share < 0.95 || first < 0 || first > 2 {
			if len(missed) > 10 {
				missed = append(missed[:10:10], fmt.Sprintf("... and %d more", len(missed)-10))
			}
			t.Errorf("%s: blackout: %s %s reads outage in %d of %d judged rounds (%.0f %%, want >= 95 %%), first in round %d (want <= 2); not in: %s",
				source, e.Level, e.Entity, out, judged, 100*share, first, strings.Join(missed, ", "))
		}
	}
}

// accCheckCoverage: the measurable blocks have verdicts in most rounds (so that
// the other checks do not pass on an empty store).
func accCheckCoverage(t *testing.T, tr accuracy.Truth, vs []results.Verdict) {
	t.Helper()
	have := accByEntity(vs)
	rounds := int(tr.Until.Sub(tr.From) / accRound)
	for _, e := range tr.Entities {
		if e.Level != results.LevelBlock || tr.Unmeasurable[e] {
			continue
		}
		if n := len(have[e]); n < rounds*3/4 {
			t.Errorf("block %s has verdicts in %d of %d rounds: rounds went missing (nodes too slow for %v rounds?)", e.Entity, n, rounds, accRound)
		}
	}
}

// accLiveView is what a reader of live verdicts saw: per entity and round, the
// last verdict shown for it. A verdict more than a round older than the last
// complete round at the time of the poll is stale: it is filed as "stale"
// under that round.
type accLiveView struct {
	name  string
	got   map[results.EntityRef]map[time.Time]results.Verdict
	polls int
	stale int
	// read holds, per level, the rounds a poll read.
	read map[string]map[time.Time]bool
}

// sampled reports whether the view read e's level for the round of bin.
func (v *accLiveView) sampled(e results.EntityRef, bin time.Time) bool { return v.read[e.Level][bin] }

func (v *accLiveView) file(level string, vs []results.Verdict, round time.Time) {
	v.polls++
	if v.read == nil {
		v.read = map[string]map[time.Time]bool{}
	}
	if v.read[level] == nil {
		v.read[level] = map[time.Time]bool{}
	}
	v.read[level][round] = true
	for _, x := range vs {
		b := accBin(x.Time)
		if b.Before(round.Add(-accRound)) {
			v.stale++
			x = results.Verdict{Time: round, Level: x.Level, Entity: x.Entity, Verdict: "stale"}
			b = round
		}
		e := results.EntityRef{Level: x.Level, Entity: x.Entity}
		if v.got[e] == nil {
			v.got[e] = map[time.Time]results.Verdict{}
		}
		v.got[e][b] = x
	}
}

func (v *accLiveView) verdicts() []results.Verdict {
	var out []results.Verdict
	for _, m := range v.got {
		for _, x := range m {
			out = append(out, x)
		}
	}
	return out
}

// accLivePolls reads the live verdicts early in every round, for the round just
// ended: the collector's /api/verdicts?level=L for every level, and `darkwatch
// verdict --json --level L` (no --since), every level in the first three
// rounds and then one level a round in turn (each costs an analysis of the
// last rounds: four a round would starve the nodes on two cores).
type accLivePolls struct {
	mu    sync.Mutex
	views []*accLiveView // CLI per level, then API per level
	cli   map[string]*accLiveView
	api   map[string]*accLiveView
	errs  []string
	took  []time.Duration
}

var accLiveLevels = []string{results.LevelBlock, results.LevelPrefix, results.LevelASN, results.LevelCountry}

func newAccLivePolls() *accLivePolls {
	lp := &accLivePolls{cli: map[string]*accLiveView{}, api: map[string]*accLiveView{}}
	cli := &accLiveView{name: "verdict (no --since)", got: map[results.EntityRef]map[time.Time]results.Verdict{}}
	api := &accLiveView{name: "/api/verdicts", got: map[results.EntityRef]map[time.Time]results.Verdict{}}
	for _, level := range accLiveLevels {
		lp.cli[level], lp.api[level] = cli, api
	}
	lp.views = []*accLiveView{cli, api}
	return lp
}

func (lp *accLivePolls) run(t *testing.T, l *lab.Lab, bin, cfg, token string, p *accPhase) {
	client := l.HTTPClient("col")
	// Round k's records reach the collector about a second into it; the
	// poll for round k comes early in round k+1, before those of k+1.
	for i, round := 0, p.start; round.Before(p.end); i, round = i+1, round.Add(accRound) {
		at := round.Add(accRound + 300*time.Millisecond)
		if time.Now().After(at.Add(accRound / 2)) {
			lp.note("poll of %s skipped: the one before took too long", round.Format("15:04:05"))
			continue
		}
		time.Sleep(time.Until(at))
		if t.Context().Err() != nil {
			return
		}
		cliLevels := accLiveLevels
		if i >= 3 {
			cliLevels = []string{accLiveLevels[i%len(accLiveLevels)]}
		}
		began := time.Now()
		var wg sync.WaitGroup
		for _, level := range cliLevels {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := exec.CommandContext(t.Context(), bin, "--config", cfg, "verdict", "--json", "--level", level).Output()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					lp.note("verdict --level %s: %v", level, err)
					return
				}
				vs, err := accParseVerdicts(out)
				if err != nil {
					lp.note("verdict --level %s: %v", level, err)
				}
				lp.file(lp.cli[level], level, vs, round)
			}()
		}
		for _, level := range accLiveLevels {
			wg.Add(1)
			go func() {
				defer wg.Done()
				vs, err := accAPIVerdicts(t.Context(), client, token, level)
				if err != nil {
					lp.note("/api/verdicts?level=%s: %v", level, err)
					return
				}
				lp.file(lp.api[level], level, vs, round)
			}()
		}
		wg.Wait()
		lp.mu.Lock()
		lp.took = append(lp.took, time.Since(began))
		lp.mu.Unlock()
	}
}

func (lp *accLivePolls) note(format string, a ...any) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.errs = append(lp.errs, fmt.Sprintf(format, a...))
}

func (lp *accLivePolls) file(v *accLiveView, level string, vs []results.Verdict, round time.Time) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	v.file(level, vs, round)
}

// summary tells how the polls went.
func (lp *accLivePolls) summary() string {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	took := slices.Clone(lp.took)
	slices.Sort(took)
	var median, slowest time.Duration
	if n := len(took); n > 0 {
		median, slowest = took[n/2], took[n-1]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d polls (median %v, slowest %v)", len(took), median.Round(time.Millisecond), slowest.Round(time.Millisecond))
	for _, v := range lp.views {
		fmt.Fprintf(&b, "; %s: %d readings, %d stale verdicts", v.name, v.polls, v.stale)
	}
	fmt.Fprintf(&b, "; %d problems", len(lp.errs))
	for i, e := range lp.errs {
		if i == 8 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(lp.errs)-8)
			break
		}
		b.WriteString("\n  " + e)
	}
	return b.String()
}

func accAPIVerdicts(ctx context.Context, c *http.Client, token, level string) ([]results.Verdict, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+lab.Collector4+":8080/api/verdicts?level="+level, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var vs []results.Verdict
	return vs, json.Unmarshal(body, &vs)
}

func accParseVerdicts(out []byte) ([]results.Verdict, error) {
	var vs []results.Verdict
	for _, ln := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(ln) == 0 {
			continue
		}
		var v results.Verdict
		if err := json.Unmarshal(ln, &v); err != nil {
			return vs, fmt.Errorf("verdict line %q: %v", ln, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// accVerdicts runs `darkwatch verdict --json` with args against the
// collector's store.
func accVerdicts(t *testing.T, bin, cfg string, args ...string) []results.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config", cfg, "verdict", "--json"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("verdict %v: %v\n%s", args, err, stderr.String())
	}
	vs, err := accParseVerdicts(out)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// accLogCensus shows what each vantage's census found beside the profile.
func accLogCensus(t *testing.T, prof *lab.Profile, census map[string]map[netip.Prefix]store.Block) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "census (16 passes) against the profile:\n  %-16s %10s %6s", "block", "responders", "a")
	vs := make([]string, 0, len(census))
	for v := range census {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s |E|   A   ", v)
	}
	b.WriteString("\n")
	for _, p := range prof.Blocks {
		fmt.Fprintf(&b, "  %-16s %10d %6.2f", p.Prefix, p.Responders, p.A)
		for _, v := range vs {
			c := census[v][p.Prefix]
			sp := " "
			if c.Sparse {
				sp = "s"
			}
			fmt.Fprintf(&b, "  %7d %4.2f%s ", len(c.E), c.A, sp)
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}

// accLogVantages shows the vantage verdicts per phase, and returns the rounds of
// [from, until) in which at least a quorum (2) of vantages were healthy.
func accLogVantages(t *testing.T, vs []results.Verdict, phases []*accPhase, from, until time.Time) map[time.Time]bool {
	t.Helper()
	count := map[string]map[string]int{}
	healthy := map[time.Time]int{}
	for _, v := range vs {
		k := accPhaseAt(phases, accBin(v.Time)) + ": " + v.Entity
		if count[k] == nil {
			count[k] = map[string]int{}
		}
		count[k][v.Verdict]++
		if v.Verdict == results.VerdictHealthy {
			healthy[accBin(v.Time)]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("vantage verdicts by phase (a round a vantage skipped has none):\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-60s %v\n", k, count[k])
	}
	measured := map[time.Time]bool{}
	var short []string
	for r := accBin(from); r.Before(until); r = r.Add(accRound) {
		if healthy[r] >= 2 {
			measured[r] = true
		} else {
			short = append(short, fmt.Sprintf("%s (%d)", r.Format("15:04:05"), healthy[r]))
		}
	}
	fmt.Fprintf(&b, "rounds with fewer than 2 healthy vantages reporting: %d of %d %v", len(short), int(until.Sub(from)/accRound), short)
	t.Log(b.String())
	return measured
}

// accLogPhases counts each level's verdicts per phase.
func accLogPhases(t *testing.T, vs []results.Verdict, phases []*accPhase) {
	t.Helper()
	var b strings.Builder
	b.WriteString("verdicts by phase and level (verdict/data plane: count):\n")
	for _, p := range phases {
		fmt.Fprintf(&b, "  %s\n", p.name)
		for _, level := range []string{results.LevelHost, results.LevelBlock, results.LevelPrefix, results.LevelASN, results.LevelCountry} {
			c := map[string]int{}
			for _, v := range vs {
				if v.Level == level && !accBin(v.Time).Before(p.start) && accBin(v.Time).Before(p.end) {
					c[v.Verdict+"/"+v.DataPlane]++
				}
			}
			keys := make([]string, 0, len(c))
			for k := range c {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s: %d", k, c[k]))
			}
			fmt.Fprintf(&b, "    %-8s %s\n", level, strings.Join(parts, ", "))
		}
	}
	// What makes the partial verdicts partial, an example an entity.
	b.WriteString("partial verdicts, the first of each entity:\n")
	seen := map[results.EntityRef]bool{}
	for _, v := range vs {
		if e := (results.EntityRef{Level: v.Level, Entity: v.Entity}); v.DataPlane == results.PlanePartial && !seen[e] {
			seen[e] = true
			var c results.VantageCount
			if v.Vantages != nil {
				c = *v.Vantages
			}
			fmt.Fprintf(&b, "  %s %s %s: methods %v, vantages up/down/gap %d/%d/%d, up %d of %d\n", v.Time.Format("15:04:05"), v.Level, v.Entity,
				v.Methods, c.Up, c.Down, c.Gap, deref(v.Up), deref(v.Total))
		}
	}
	t.Log(b.String())
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
