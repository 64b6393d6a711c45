// Package report holds darkwatch's reports: what the records, verdicts and
// outage events of a time range add up to, per target (target, method and
// port), per prefix and block, and per vantage point. Write writes them in one
// of five formats; Build gives the summary itself, for other front ends.
//
// It takes typed values and writes to an io.Writer. It knows nothing of stores,
// sockets, flags or configuration, and computes no verdict itself: verdicts and
// events come from the results package's merge and event logic.
//
// # Formats
//
//   - text: aligned tables for a terminal: targets (all vantages, then each),
//     their outages, one character per time bin for each prefix, block and
//     vantage, and the events.
//   - csv: one row per target, method, port and vantage, with a header.
//   - json: Build's Report as one object: title, since, until, targets,
//     prefixes, vantages and events (results.Event as it marshals).
//   - html: one self-contained page (inline CSS and SVG, one inline script,
//     nothing fetched) with a summary, an SVG timeline per prefix, block, AS,
//     country and vantage, the events, and the targets as JSON that the script
//     draws a page at a time, filtered and sorted (htmltargets.go).
//   - atlas: RIPE Atlas results, described below.
//
// # Atlas results
//
// The atlas format writes records as RIPE Atlas results, one JSON object a
// line, in the documented result format of firmware 5000 and later
// (https://atlas.ripe.net/docs/apis/measurement-result-format/), so that Atlas
// tooling (ripe.atlas.sagan, pantrace, DNS-OARC/ripeatlas) reads them:
//
//   - icmp records become "ping" results, one per target, vantage and round,
//     one "result" entry per probe: {"rtt","ttl"} for a reply, {"x":"*"} for a
//     timeout, {"error": ICMP name} for an unreachable, {"error": message} for
//     a probe that failed (not counted in "sent");
//   - trace records become "traceroute" results, one hop entry per TTL with one
//     reply entry per answering address ({"from","rtt"}, "err" for an ICMP
//     unreachable as Atlas spells it, "flags" for a TCP answer, "ttl" for the
//     destination's answer) or {"x":"*"}; a trace that was not sent has one
//     entry {"error": message}, one that got no answer none;
//   - dns records become "dns" results with "result" ({"rt","ID","QDCOUNT",
//     "ANCOUNT","abuf"}) or "error" ({"timeout": ms} or {"socket": message}).
//
// tcp records have no Atlas counterpart and are left out.
//
// Records do not carry everything Atlas results do; what they lack is filled
// as follows. "prb_id" is AtlasProbeID of the vantage name. "msm_id" and
// "group_id" are AtlasMsmPing, AtlasMsmTraceroute or AtlasMsmDNS. "fw" is
// AtlasFirmware. "lts" is -1 (Atlas: "does not know whether it is in sync").
// "from" and "src_addr" are the address the probe was sent from when the
// record has it (DNS queries), else the one most of the vantage's records of
// the same address family have, else from AtlasOptions.Addrs, "" when
// unknown (as Atlas readers expect); "size" from AtlasOptions.Size, ping "step" from
// AtlasOptions.Step or the records. Ping "dup" is 0: darkwatch matches replies
// to probes and keeps no duplicates. Traceroute "paris_id" is 0: darkwatch
// keeps one flow identifier per destination, one Paris variation. Traceroute
// "endtime" is the start time: records keep when a trace began, not when it
// ended. DNS "ID" is 0 and "abuf" is the reply as the record keeps it (ID 0,
// QR, AA, RCODE, the question, the answer section, and an OPT record with
// the NSID when there is one): records do not keep the authority and
// additional sections, so "abuf" counts none. The result's "ANCOUNT" is the
// number of answers the server sent. Left out for want of data: a
// traceroute reply's "size" and "ttl" (but the destination's "ttl"), DNS
// "size", "NSCOUNT", "ARCOUNT" and "qbuf", and "mver" (the version of
// Atlas's measurement code; "fw" alone selects the format).
//
// Every result also has a "darkwatch" member (atlas.Extension), which Atlas
// tools ignore: what the records held that the Atlas fields do not say (the
// vantage name, round and sequence numbers, times to the nanosecond, ICMP
// message names, errors), so that `import --format atlas` gives back exactly
// the records the results were written from.
package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"darkwatch/results"
)

// Input is what a report is made of.
type Input struct {
	Records  []results.Record  // probe records (any methods, several vantages)
	Verdicts []results.Verdict // per entity per time bin, any level
	Events   []results.Event
	// Since and Until bound the report: records and verdicts outside
	// [Since, Until) and events that end before Since or start at or after
	// Until are left out. A zero bound is taken from the data.
	Since, Until time.Time
	Title        string
	// Atlas fills the Atlas fields that records do not carry; only the atlas
	// format reads it.
	Atlas AtlasOptions
}

// Formats are the report formats Write accepts, in the order help texts list them.
var Formats = []string{"text", "csv", "json", "html", "atlas"}

var writers = map[string]func(io.Writer, Input) error{
	"text":  writeText,
	"csv":   writeCSV,
	"json":  writeJSON,
	"html":  writeHTML,
	"atlas": writeAtlas,
}

// Write writes the report of in to w in format (text, csv, json, html or atlas).
func Write(w io.Writer, format string, in Input) error {
	write, ok := writers[format]
	if !ok {
		return fmt.Errorf("report: unknown format %q: use one of %s", format, strings.Join(Formats, ", "))
	}
	if err := write(w, in); err != nil {
		return fmt.Errorf("report: %s: %w", format, err)
	}
	return nil
}

// Report is Input summed up: what the text, CSV, JSON and HTML formats show. Its
// JSON is the json format.
type Report struct {
	Title    string          `json:"title"`
	Since    time.Time       `json:"since"`
	Until    time.Time       `json:"until"`
	Targets  []Target        `json:"targets"`
	Prefixes []Timeline      `json:"prefixes"`
	Vantages []Vantage       `json:"vantages"`
	Events   []results.Event `json:"events"`
	// Bin is the length of a verdict time bin, the most common gap between
	// successive verdict times (0 without verdicts).
	Bin time.Duration `json:"-"`
	// Records counts the records the report is made of.
	Records int `json:"-"`
}

// Target is what one target+method+port saw, over all vantages and per vantage.
type Target struct {
	Target string `json:"target"`
	Method string `json:"method"`
	Port   int    `json:"port,omitempty"`
	Stats
	Vantages []VantageStats `json:"vantages"`
	// Outages are the events of the target itself (level host) and of the
	// blocks and prefixes that contain it, by start time.
	Outages []results.Event `json:"outages"`
}

// VantageStats is what one vantage saw of a target.
type VantageStats struct {
	Vantage string `json:"vantage"`
	Stats
}

// Stats counts probes and their outcomes.
type Stats struct {
	Probes   int `json:"probes"`
	Answered int `json:"answered"`
	// Availability is answered / probes, in percent.
	Availability float64 `json:"availability_pct"`
	// RTT is over the answered probes that have one; nil when none has.
	RTT      *RTT     `json:"rtt_ms,omitempty"`
	Outcomes Outcomes `json:"outcomes"`
}

// RTT sums up round-trip times in milliseconds (Avg rounded to the microsecond).
type RTT struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	Max float64 `json:"max"`
}

// Outcomes counts probes by outcome.
type Outcomes struct {
	Reply       int `json:"reply"`
	Timeout     int `json:"timeout"`
	Unreachable int `json:"unreachable"`
	Open        int `json:"open"`
	Closed      int `json:"closed"`
	Error       int `json:"error"`
}

// Timeline is the verdicts of one entity over time, one bin per verdict.
type Timeline struct {
	Level  string `json:"level"`
	Entity string `json:"entity"`
	Bins   []Bin  `json:"bins"`
}

// Bin is one verdict of a timeline.
type Bin struct {
	Time         time.Time `json:"time"`
	Verdict      string    `json:"verdict"`
	DataPlane    string    `json:"data_plane,omitempty"`
	ControlPlane string    `json:"control_plane,omitempty"`
}

// Vantage is one vantage point: its health over time and what it saw.
type Vantage struct {
	Vantage string `json:"vantage"`
	Stats
	Bins []Bin `json:"bins"`
}

// Build sums in up. Every slice of the result is non-nil and sorted: targets by
// address, method and port; prefix timelines by prefix with each one's blocks
// after it; vantages by name; events by start time.
func Build(in Input) Report {
	since, until := bounds(in)
	rep := Report{
		Title: in.Title, Since: since, Until: until,
		Targets: []Target{}, Prefixes: []Timeline{}, Vantages: []Vantage{}, Events: []results.Event{},
	}
	recs := make([]*results.Record, 0, len(in.Records))
	for i := range in.Records {
		if r := &in.Records[i]; within(r.Time, since, until) {
			recs = append(recs, r)
		}
	}
	rep.Records = len(recs)
	for _, e := range in.Events {
		if (e.End.IsZero() || e.End.After(since)) && (until.IsZero() || e.Start.Before(until)) {
			rep.Events = append(rep.Events, e)
		}
	}
	slices.SortStableFunc(rep.Events, func(a, b results.Event) int {
		return cmp.Or(a.Start.Compare(b.Start), compareEntity(a.Entity, b.Entity), cmp.Compare(a.Level, b.Level))
	})

	rep.Targets = buildTargets(recs, rep.Events)

	var verdicts []results.Verdict
	for _, v := range in.Verdicts {
		if within(v.Time, since, until) {
			verdicts = append(verdicts, v)
		}
	}
	rep.Bin = binLength(verdicts)
	rep.Prefixes = buildPrefixes(verdicts)
	rep.Vantages = buildVantages(recs, verdicts)
	return rep
}

// bounds returns in's time range, filling a zero bound from the data: the
// first thing seen, and the end of the last (a verdict covers its bin).
func bounds(in Input) (since, until time.Time) {
	since, until = in.Since.UTC(), in.Until.UTC()
	if !since.IsZero() && !until.IsZero() {
		return since, until
	}
	var lo, hi time.Time
	see := func(from, to time.Time) {
		if from.IsZero() {
			return
		}
		if lo.IsZero() || from.Before(lo) {
			lo = from
		}
		if hi.IsZero() || to.After(hi) {
			hi = to
		}
	}
	// Until is exclusive: a record or an instant ends one nanosecond after it.
	for i := range in.Records {
		see(in.Records[i].Time, in.Records[i].Time.Add(time.Nanosecond))
	}
	bin := max(binLength(in.Verdicts), time.Nanosecond)
	for i := range in.Verdicts {
		see(in.Verdicts[i].Time, in.Verdicts[i].Time.Add(bin))
	}
	for i := range in.Events {
		e := &in.Events[i]
		end := e.End
		if !end.After(e.Start) {
			end = e.Start.Add(time.Nanosecond)
		}
		see(e.Start, end)
	}
	if since.IsZero() {
		since = lo.UTC()
	}
	if until.IsZero() {
		until = hi.UTC()
	}
	return since, until
}

// within reports whether t is in [since, until); a zero bound is open.
func within(t, since, until time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

// binLength is the most common positive gap between successive distinct
// verdict times of one entity, the smallest on a tie; 0 when there is none.
func binLength(verdicts []results.Verdict) time.Duration {
	times := map[string][]time.Time{}
	for _, v := range verdicts {
		k := v.Level + " " + v.Entity
		times[k] = append(times[k], v.Time)
	}
	gaps := map[time.Duration]int{}
	for _, ts := range times {
		slices.SortFunc(ts, time.Time.Compare)
		for i := 1; i < len(ts); i++ {
			if d := ts[i].Sub(ts[i-1]); d > 0 {
				gaps[d]++
			}
		}
	}
	var best time.Duration
	for d, n := range gaps {
		if n > gaps[best] || n == gaps[best] && d < best {
			best = d
		}
	}
	return best
}

type targetKey struct {
	target, method string
	port           int
}

func buildTargets(recs []*results.Record, events []results.Event) []Target {
	type acc struct {
		all      statsAcc
		vantages map[string]*statsAcc
	}
	byKey := map[targetKey]*acc{}
	for _, r := range recs {
		k := targetKey{r.Target, r.Method, r.Port}
		a := byKey[k]
		if a == nil {
			a = &acc{vantages: map[string]*statsAcc{}}
			byKey[k] = a
		}
		a.all.add(r)
		v := a.vantages[r.Vantage]
		if v == nil {
			v = &statsAcc{}
			a.vantages[r.Vantage] = v
		}
		v.add(r)
	}
	keys := make([]targetKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b targetKey) int {
		return cmp.Or(compareEntity(a.target, b.target), cmp.Compare(a.method, b.method), cmp.Compare(a.port, b.port))
	})
	out := make([]Target, 0, len(keys))
	for _, k := range keys {
		a := byKey[k]
		t := Target{Target: k.target, Method: k.method, Port: k.port, Stats: a.all.stats(),
			Vantages: []VantageStats{}, Outages: outagesOf(k.target, events)}
		names := make([]string, 0, len(a.vantages))
		for name := range a.vantages {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			t.Vantages = append(t.Vantages, VantageStats{Vantage: name, Stats: a.vantages[name].stats()})
		}
		out = append(out, t)
	}
	return out
}

// outagesOf returns the events of target: of the host itself, and of the
// blocks and prefixes that contain it.
func outagesOf(target string, events []results.Event) []results.Event {
	out := []results.Event{}
	addr, err := netip.ParseAddr(target)
	for _, e := range events {
		switch e.Level {
		case results.LevelHost:
			if e.Entity == target || err == nil && parseAddrEqual(e.Entity, addr) {
				out = append(out, e)
			}
		case results.LevelBlock, results.LevelPrefix:
			if p, perr := netip.ParsePrefix(e.Entity); err == nil && perr == nil && p.Contains(addr.Unmap()) {
				out = append(out, e)
			}
		}
	}
	return out
}

func parseAddrEqual(s string, a netip.Addr) bool {
	b, err := netip.ParseAddr(s)
	return err == nil && b.Unmap() == a.Unmap()
}

// statsAcc accumulates Stats.
type statsAcc struct {
	s        Stats
	rtts     int
	sum      float64
	min, max float64
}

func (a *statsAcc) add(r *results.Record) {
	a.s.Probes++
	switch r.Outcome {
	case results.OutcomeReply:
		a.s.Outcomes.Reply++
	case results.OutcomeTimeout:
		a.s.Outcomes.Timeout++
	case results.OutcomeUnreachable:
		a.s.Outcomes.Unreachable++
	case results.OutcomeOpen:
		a.s.Outcomes.Open++
	case results.OutcomeClosed:
		a.s.Outcomes.Closed++
	default:
		a.s.Outcomes.Error++
	}
	if !r.Answered() {
		return
	}
	a.s.Answered++
	if r.RTTms <= 0 {
		return
	}
	if a.rtts == 0 || r.RTTms < a.min {
		a.min = r.RTTms
	}
	if a.rtts == 0 || r.RTTms > a.max {
		a.max = r.RTTms
	}
	a.rtts++
	a.sum += r.RTTms
}

func (a *statsAcc) stats() Stats {
	s := a.s
	if s.Probes > 0 {
		s.Availability = round(100*float64(s.Answered)/float64(s.Probes), 2)
	}
	if a.rtts > 0 {
		s.RTT = &RTT{Min: a.min, Avg: round(a.sum/float64(a.rtts), 3), Max: a.max}
	}
	return s
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// buildPrefixes returns the timelines of the prefix and block verdicts, each
// prefix followed by the blocks it contains.
func buildPrefixes(verdicts []results.Verdict) []Timeline {
	lines := timelines(verdicts, results.LevelPrefix, results.LevelBlock)
	var prefixes, blocks []Timeline
	for _, l := range lines {
		if l.Level == results.LevelPrefix {
			prefixes = append(prefixes, l)
		} else {
			blocks = append(blocks, l)
		}
	}
	out := make([]Timeline, 0, len(lines))
	placed := make([]bool, len(blocks))
	for _, p := range prefixes {
		out = append(out, p)
		pp, err := netip.ParsePrefix(p.Entity)
		for i, b := range blocks {
			if bp, berr := netip.ParsePrefix(b.Entity); !placed[i] && err == nil && berr == nil &&
				pp.Bits() <= bp.Bits() && pp.Contains(bp.Addr()) {
				out = append(out, b)
				placed[i] = true
			}
		}
	}
	for i, b := range blocks {
		if !placed[i] {
			out = append(out, b)
		}
	}
	return out
}

// timelines groups the verdicts of the given levels by entity, sorted by entity.
func timelines(verdicts []results.Verdict, levels ...string) []Timeline {
	type key struct{ level, entity string }
	byKey := map[key]*Timeline{}
	var keys []key
	for _, v := range verdicts {
		if !slices.Contains(levels, v.Level) {
			continue
		}
		k := key{v.Level, v.Entity}
		l := byKey[k]
		if l == nil {
			l = &Timeline{Level: v.Level, Entity: v.Entity, Bins: []Bin{}}
			byKey[k] = l
			keys = append(keys, k)
		}
		l.Bins = append(l.Bins, Bin{Time: v.Time.UTC(), Verdict: v.Verdict, DataPlane: v.DataPlane, ControlPlane: v.ControlPlane})
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(compareEntity(a.entity, b.entity), cmp.Compare(a.level, b.level))
	})
	out := make([]Timeline, 0, len(keys))
	for _, k := range keys {
		l := byKey[k]
		slices.SortStableFunc(l.Bins, func(a, b Bin) int { return a.Time.Compare(b.Time) })
		out = append(out, *l)
	}
	return out
}

// buildVantages returns every vantage that has records or vantage verdicts.
func buildVantages(recs []*results.Record, verdicts []results.Verdict) []Vantage {
	accs := map[string]*statsAcc{}
	for _, r := range recs {
		a := accs[r.Vantage]
		if a == nil {
			a = &statsAcc{}
			accs[r.Vantage] = a
		}
		a.add(r)
	}
	bins := map[string][]Bin{}
	for _, l := range timelines(verdicts, results.LevelVantage) {
		bins[l.Entity] = l.Bins
	}
	names := make([]string, 0, len(accs)+len(bins))
	for name := range accs {
		names = append(names, name)
	}
	for name := range bins {
		if accs[name] == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := make([]Vantage, 0, len(names))
	for _, name := range names {
		v := Vantage{Vantage: name, Bins: bins[name]}
		if v.Bins == nil {
			v.Bins = []Bin{}
		}
		if a := accs[name]; a != nil {
			v.Stats = a.stats()
		}
		out = append(out, v)
	}
	return out
}

// compareEntity orders addresses and prefixes numerically (IPv4 before IPv6,
// a prefix before the longer prefixes it contains) and anything else by name,
// after them.
func compareEntity(a, b string) int {
	pa, oka := entityPrefix(a)
	pb, okb := entityPrefix(b)
	switch {
	case oka && okb:
		return cmp.Or(pa.Addr().Compare(pb.Addr()), cmp.Compare(pa.Bits(), pb.Bits()))
	case oka:
		return -1
	case okb:
		return 1
	}
	return cmp.Compare(a, b)
}

// entityPrefix parses an address (as a full-length prefix) or a prefix.
func entityPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
