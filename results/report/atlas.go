package report

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"darkwatch/results"
	"darkwatch/results/atlas"
	"darkwatch/results/dnsmsg"
)

// Atlas identities written by darkwatch. Atlas assigns measurement ids below
// 2^31 and is far below these; "fw" 5020 is a firmware of format Version 5000.
const (
	AtlasMsmPing       = 2_100_000_001
	AtlasMsmTraceroute = 2_100_000_002
	AtlasMsmDNS        = 2_100_000_003
	AtlasFirmware      = 5020
)

// AtlasOptions fills the Atlas fields that records do not carry. The zero
// value is usable.
type AtlasOptions struct {
	// Addrs maps a vantage name to its address, written as "from" and
	// "src_addr" for its records that do not carry their own source
	// address, when none of the vantage's records of the same address
	// family carries one either; a vantage not in it gets "", which Atlas
	// readers take as unknown.
	Addrs map[string]string
	// Size is the probe size in bytes, written as ping and traceroute "size";
	// 0 when unknown.
	Size int
	// Timeout is the probe timeout, written as a DNS timeout's
	// "error":{"timeout": ms}; 0 means 2 s, darkwatch's default.
	Timeout time.Duration
	// Step is the time between rounds, written as ping "step" in seconds; 0
	// takes the most common gap between successive rounds of a vantage, and
	// leaves "step" out when there is none.
	Step time.Duration

	// sources are the source addresses the records show per vantage and
	// address family (see recordSources).
	sources map[vantageFamily]string
}

// vantageFamily is a vantage and an address family, 4 or 6.
type vantageFamily struct {
	vantage string
	af      int
}

// recordSources is, per vantage and address family, the source address
// most of the vantage's records of that family carry (DNS records do; the
// smallest on a tie), so that the results of its other records show the
// address the vantage sends from.
func recordSources(recs []*results.Record) map[vantageFamily]string {
	counts := map[vantageFamily]map[string]int{}
	for _, r := range recs {
		if r.Source == "" {
			continue
		}
		k := vantageFamily{r.Vantage, atlasAF(r.Source)}
		if counts[k] == nil {
			counts[k] = map[string]int{}
		}
		counts[k][r.Source]++
	}
	out := map[vantageFamily]string{}
	for k, c := range counts {
		var best string
		for a, n := range c {
			if n > c[best] || n == c[best] && a < best {
				best = a
			}
		}
		out[k] = best
	}
	return out
}

// AtlasProbeID is the "prb_id" of a vantage: the FNV-1a 32-bit hash of its
// name, cleared of the top bit so that it fits a signed 32-bit integer.
func AtlasProbeID(vantage string) int {
	h := fnv.New32a()
	h.Write([]byte(vantage))
	return int(h.Sum32() & math.MaxInt32)
}

// atlasCommon is what every Atlas result carries.
type atlasCommon struct {
	Af        int    `json:"af"`
	DstAddr   string `json:"dst_addr"`
	From      string `json:"from"`
	Fw        int    `json:"fw"`
	GroupID   int    `json:"group_id"`
	Lts       int    `json:"lts"`
	MsmID     int    `json:"msm_id"`
	MsmName   string `json:"msm_name"`
	PrbID     int    `json:"prb_id"`
	Proto     string `json:"proto"`
	SrcAddr   string `json:"src_addr"`
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
}

type atlasPing struct {
	atlasCommon
	Avg     float64          `json:"avg"`
	DstName string           `json:"dst_name"`
	Dup     int              `json:"dup"`
	Max     float64          `json:"max"`
	Min     float64          `json:"min"`
	Rcvd    int              `json:"rcvd"`
	Result  []atlasPingReply `json:"result"`
	Sent    int              `json:"sent"`
	Size    int              `json:"size"`
	Step    *int64           `json:"step,omitempty"`
	TTL     *int             `json:"ttl,omitempty"`

	Darkwatch *atlas.Extension `json:"darkwatch,omitempty"`
}

type atlasPingReply struct {
	RTT   *float64 `json:"rtt,omitempty"`
	TTL   int      `json:"ttl,omitempty"`
	X     string   `json:"x,omitempty"`
	Error string   `json:"error,omitempty"`
}

type atlasTraceroute struct {
	atlasCommon
	DstName string     `json:"dst_name"`
	Endtime int64      `json:"endtime"`
	ParisID int        `json:"paris_id"`
	Result  []atlasHop `json:"result"`
	Size    int        `json:"size"`

	Darkwatch *atlas.Extension `json:"darkwatch,omitempty"`
}

type atlasHop struct {
	Hop    int             `json:"hop,omitempty"`
	Error  string          `json:"error,omitempty"`
	Result []atlasHopReply `json:"result,omitempty"`
}

type atlasHopReply struct {
	X     string   `json:"x,omitempty"`
	From  string   `json:"from,omitempty"`
	RTT   *float64 `json:"rtt,omitempty"`
	TTL   int      `json:"ttl,omitempty"`
	Err   string   `json:"err,omitempty"`
	Flags string   `json:"flags,omitempty"`
}

type atlasDNS struct {
	atlasCommon
	Name   string          `json:"name"`
	Result *atlasDNSResult `json:"result,omitempty"`
	Error  *atlasDNSError  `json:"error,omitempty"`

	Darkwatch *atlas.Extension `json:"darkwatch,omitempty"`
}

type atlasDNSResult struct {
	ANCOUNT *int    `json:"ANCOUNT,omitempty"`
	ID      int     `json:"ID"`
	QDCOUNT int     `json:"QDCOUNT"`
	Abuf    string  `json:"abuf,omitempty"`
	RT      float64 `json:"rt"`
}

type atlasDNSError struct {
	Timeout int    `json:"timeout,omitempty"`
	Socket  string `json:"socket,omitempty"`
}

// atlasLine is one result with what orders the output: time, vantage, type,
// target.
type atlasLine struct {
	time    time.Time
	vantage string
	typ     int
	target  string
	v       any
}

func writeAtlas(w io.Writer, in Input) error {
	since, until := bounds(in)
	opts := in.Atlas
	var recs []*results.Record
	for i := range in.Records {
		if r := &in.Records[i]; within(r.Time, since, until) {
			recs = append(recs, r)
		}
	}
	opts.sources = recordSources(recs)
	var lines []atlasLine
	lines = append(lines, atlasPings(recs, &opts)...)
	for _, r := range recs {
		switch r.Method {
		case results.MethodTrace:
			t := atlasTrace(r, &opts)
			t.Darkwatch = atlasExtension(t, r)
			lines = append(lines, atlasLine{r.Time, r.Vantage, 1, r.Target, t})
		case results.MethodDNS:
			d := atlasDNSResultOf(r, &opts)
			d.Darkwatch = atlasExtension(d, r)
			lines = append(lines, atlasLine{r.Time, r.Vantage, 2, r.Target, d})
		}
	}
	slices.SortStableFunc(lines, func(a, b atlasLine) int {
		return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.vantage, b.vantage), cmp.Compare(a.typ, b.typ),
			compareEntity(a.target, b.target))
	})
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l.v); err != nil {
			return err
		}
	}
	return nil
}

// atlasExtension is the "darkwatch" member of v, the result written from
// recs: what makes reading v give back recs exactly (atlas.Extension). It is
// nil, and v is written without it, in the unlikely case that v cannot be
// read back.
func atlasExtension(v any, recs ...*results.Record) *atlas.Extension {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	ext, err := atlas.NewExtension(raw, recs)
	if err != nil {
		return nil
	}
	return ext
}

func atlasCommonOf(r *results.Record, opts *AtlasOptions, msm int, name, typ string) atlasCommon {
	addr := cmp.Or(r.Source, opts.sources[vantageFamily{r.Vantage, atlasAF(r.Target)}], opts.Addrs[r.Vantage])
	return atlasCommon{
		Af: atlasAF(r.Target), DstAddr: r.Target, From: addr, Fw: AtlasFirmware, GroupID: msm, Lts: -1,
		MsmID: msm, MsmName: name, PrbID: AtlasProbeID(r.Vantage), SrcAddr: addr,
		Timestamp: r.Time.Unix(), Type: typ,
	}
}

func atlasAF(target string) int {
	if a, err := netip.ParseAddr(target); err == nil {
		if a.Unmap().Is4() {
			return 4
		}
		return 6
	}
	if strings.Contains(target, ":") {
		return 6
	}
	return 4
}

// atlasPings groups the icmp records by vantage, round and target into ping
// results.
func atlasPings(recs []*results.Record, opts *AtlasOptions) []atlasLine {
	type key struct {
		vantage string
		round   int64
		target  string
	}
	groups := map[key][]*results.Record{}
	var keys []key
	for _, r := range recs {
		if r.Method != results.MethodICMP {
			continue
		}
		k := key{r.Vantage, r.Round, r.Target}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	step := opts.Step
	if step <= 0 {
		step = roundStep(recs)
	}
	var out []atlasLine
	for _, k := range keys {
		g := groups[k]
		slices.SortStableFunc(g, func(a, b *results.Record) int {
			return cmp.Or(cmp.Compare(a.Seq, b.Seq), a.Time.Compare(b.Time))
		})
		first := g[0]
		for _, r := range g {
			if r.Time.Before(first.Time) {
				first = r
			}
		}
		p := atlasPing{
			atlasCommon: atlasCommonOf(first, opts, AtlasMsmPing, "Ping", "ping"),
			DstName:     k.target, Size: opts.Size, Result: []atlasPingReply{},
			Min: -1, Avg: -1, Max: -1,
		}
		p.Proto = "ICMP"
		if s := int64(step.Round(time.Second) / time.Second); s > 0 {
			p.Step = &s
		}
		var sum float64
		for _, r := range g {
			switch r.Outcome {
			case results.OutcomeReply:
				rtt := r.RTTms
				p.Result = append(p.Result, atlasPingReply{RTT: &rtt, TTL: r.ReplyTTL})
				p.Sent++
				p.Rcvd++
				if p.Rcvd == 1 || rtt < p.Min {
					p.Min = rtt
				}
				if p.Rcvd == 1 || rtt > p.Max {
					p.Max = rtt
				}
				sum += rtt
				if p.TTL == nil && r.ReplyTTL > 0 {
					ttl := r.ReplyTTL
					p.TTL = &ttl
				}
			case results.OutcomeTimeout:
				p.Result = append(p.Result, atlasPingReply{X: "*"})
				p.Sent++
			case results.OutcomeUnreachable:
				p.Result = append(p.Result, atlasPingReply{Error: cmp.Or(r.ICMP, r.Error, "unreachable")})
				p.Sent++
			default:
				p.Result = append(p.Result, atlasPingReply{Error: cmp.Or(r.Error, r.Outcome)})
			}
		}
		if p.Rcvd > 0 {
			p.Avg = round(sum/float64(p.Rcvd), 3)
		}
		p.Darkwatch = atlasExtension(p, g...)
		out = append(out, atlasLine{first.Time, k.vantage, 0, k.target, p})
	}
	return out
}

// roundStep is the most common gap between the first records of successive
// rounds of one vantage, the smallest on a tie; 0 when there is none.
func roundStep(recs []*results.Record) time.Duration {
	type key struct {
		vantage string
		round   int64
	}
	starts := map[key]time.Time{}
	for _, r := range recs {
		k := key{r.Vantage, r.Round}
		if t, ok := starts[k]; !ok || r.Time.Before(t) {
			starts[k] = r.Time
		}
	}
	byVantage := map[string][]time.Time{}
	for k, t := range starts {
		byVantage[k.vantage] = append(byVantage[k.vantage], t)
	}
	gaps := map[time.Duration]int{}
	for _, ts := range byVantage {
		slices.SortFunc(ts, time.Time.Compare)
		for i := 1; i < len(ts); i++ {
			if d := ts[i].Sub(ts[i-1]).Round(time.Second); d > 0 {
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

func atlasTrace(r *results.Record, opts *AtlasOptions) atlasTraceroute {
	t := atlasTraceroute{
		atlasCommon: atlasCommonOf(r, opts, AtlasMsmTraceroute, "Traceroute", "traceroute"),
		DstName:     r.Target, Endtime: r.Time.Unix(), Size: opts.Size, Result: []atlasHop{},
	}
	t.Proto = strings.ToUpper(cmp.Or(r.Proto, "icmp"))
	target, _ := netip.ParseAddr(r.Target)
	last := 0
	if n := len(r.Hops); n > 0 {
		last = r.Hops[n-1].TTL
	}
	for _, h := range r.Hops {
		if n := len(t.Result); n == 0 || t.Result[n-1].Hop != h.TTL {
			t.Result = append(t.Result, atlasHop{Hop: h.TTL})
		}
		hop := &t.Result[len(t.Result)-1]
		if h.Addr == "" {
			hop.Result = append(hop.Result, atlasHopReply{X: "*"})
			continue
		}
		rtt := h.RTTms
		reply := atlasHopReply{From: h.Addr, RTT: &rtt}
		fromTarget := h.Addr == r.Target || target.IsValid() && parseAddrEqual(h.Addr, target)
		reply.Err, reply.Flags = atlasHopError(h.ICMP, fromTarget)
		if fromTarget && h.TTL == last && r.ReplyTTL > 0 {
			reply.TTL = r.ReplyTTL
		}
		hop.Result = append(hop.Result, reply)
	}
	if len(t.Result) == 0 && r.Outcome == results.OutcomeError {
		t.Result = append(t.Result, atlasHop{Error: cmp.Or(r.Error, r.Outcome)})
	}
	return t
}

// atlasHopError spells a hop's answer as Atlas does: "err" for an ICMP
// destination unreachable ("N", "H", "A", "P", "p", "h"; none for the port
// unreachable with which the destination ends a UDP trace), "flags" for a TCP
// answer.
func atlasHopError(icmp string, fromTarget bool) (err, flags string) {
	switch icmp {
	case "syn-ack":
		return "", "SA"
	case "rst":
		return "", "RA"
	}
	code, ok := strings.CutPrefix(icmp, "dest-unreachable/")
	if !ok {
		return "", ""
	}
	switch code {
	case "net", "net-unknown", "net-tos":
		return "N", ""
	case "host", "host-unknown", "host-tos", "isolated":
		return "H", ""
	case "protocol":
		return "P", ""
	case "port":
		if fromTarget {
			return "", ""
		}
		return "p", ""
	case "admin", "net-prohibited", "host-prohibited", "precedence", "precedence-cutoff", "policy", "reject-route":
		return "A", ""
	case "beyond-scope":
		return "h", ""
	}
	return "", ""
}

func atlasDNSResultOf(r *results.Record, opts *AtlasOptions) atlasDNS {
	d := atlasDNS{atlasCommon: atlasCommonOf(r, opts, AtlasMsmDNS, "Tdig", "dns"), Name: r.Target}
	d.Proto = "UDP"
	if strings.EqualFold(r.Proto, "tcp") {
		d.Proto = "TCP"
	}
	switch r.Outcome {
	case results.OutcomeReply:
		res := &atlasDNSResult{ANCOUNT: r.Answers, RT: r.RTTms}
		if r.Qname != "" {
			res.QDCOUNT = 1
		}
		if msg, err := dnsmsg.Message(r, 0); err == nil {
			res.Abuf = base64.StdEncoding.EncodeToString(msg)
		}
		d.Result = res
	case results.OutcomeTimeout:
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 2 * time.Second
		}
		d.Error = &atlasDNSError{Timeout: int(timeout / time.Millisecond)}
	default:
		d.Error = &atlasDNSError{Socket: cmp.Or(r.Error, r.Outcome)}
	}
	return d
}
