package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"darkwatch/results"
)

// This file turns the stored types into rows and back. Optional values
// (pointers, nil slices and maps, zero end times) are stored as NULL, so that
// reading back gives what was written.

// recordSelectColumns are the columns scanRecord reads: those of schema 3's
// records table, a row a record.
const recordSelectColumns = "time_ns, vantage, round, method, target, port, seq, outcome, rtt_ms, reply_ttl, " +
	"icmp, error, proto, hops, reached, qname, qtype, rcode, aa, answers"

// validText refuses what PostgreSQL's text cannot hold, so that both stores
// take the same records.
func validText(s string) error { return results.ValidText(s) }

// scanRecord reads a row of recordSelectColumns of schema 3's records
// table, for convertRecords.
func scanRecord(scan func(...any) error, r *results.Record) error {
	var (
		ns                         int64
		icmp, errText, proto, hops sql.NullString
		qname, qtype, rcode        sql.NullString
		reached, aa                sql.NullBool
		answers                    sql.NullInt64
	)
	if err := scan(&ns, &r.Vantage, &r.Round, &r.Method, &r.Target, &r.Port, &r.Seq, &r.Outcome,
		&r.RTTms, &r.ReplyTTL, &icmp, &errText, &proto, &hops, &reached,
		&qname, &qtype, &rcode, &aa, &answers); err != nil {
		return err
	}
	r.Time = time.Unix(0, ns).UTC()
	r.ICMP, r.Error, r.Proto = icmp.String, errText.String, proto.String
	r.Qname, r.Qtype, r.Rcode = qname.String, qtype.String, rcode.String
	if hops.Valid {
		if err := json.Unmarshal([]byte(hops.String), &r.Hops); err != nil {
			return fmt.Errorf("record %s: hops: %w", r.ID(), err)
		}
		if r.Hops == nil {
			r.Hops = []results.Hop{}
		}
	}
	if reached.Valid {
		r.Reached = results.Bool(reached.Bool)
	}
	if aa.Valid {
		r.AA = results.Bool(aa.Bool)
	}
	if answers.Valid {
		r.Answers = results.Int(int(answers.Int64))
	}
	return nil
}

const verdictSelectColumns = "v.time_ns, v.level, v.entity, v.verdict, v.data_plane, v.control_plane, v.belief, " +
	"v.vantages_up, v.vantages_down, v.vantages_gap, v.methods, v.up_blocks, v.total_blocks"

const upsertVerdict = `INSERT INTO verdicts (time_ns, level, entity, verdict, data_plane, control_plane, belief,
		vantages_up, vantages_down, vantages_gap, methods, up_blocks, total_blocks)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (level, entity, time_ns) DO UPDATE SET
		verdict = excluded.verdict, data_plane = excluded.data_plane,
		control_plane = excluded.control_plane, belief = excluded.belief,
		vantages_up = excluded.vantages_up, vantages_down = excluded.vantages_down,
		vantages_gap = excluded.vantages_gap, methods = excluded.methods,
		up_blocks = excluded.up_blocks, total_blocks = excluded.total_blocks`

func verdictArgs(v *results.Verdict) ([]any, error) {
	if v.Level == "" || v.Entity == "" {
		return nil, errors.New("no level or entity")
	}
	ns, err := unixNano(v.Time)
	if err != nil {
		return nil, err
	}
	for _, s := range []string{v.Level, v.Entity, v.Verdict, v.DataPlane, v.ControlPlane} {
		if err := validText(s); err != nil {
			return nil, err
		}
	}
	var belief, up, down, gap, methods, upBlocks, total any
	if v.Belief != nil {
		belief = *v.Belief
	}
	if v.Vantages != nil {
		up, down, gap = int64(v.Vantages.Up), int64(v.Vantages.Down), int64(v.Vantages.Gap)
	}
	if v.Methods != nil {
		b, err := json.Marshal(v.Methods)
		if err != nil {
			return nil, err
		}
		methods = string(b)
	}
	if v.Up != nil {
		upBlocks = int64(*v.Up)
	}
	if v.Total != nil {
		total = int64(*v.Total)
	}
	return []any{ns, v.Level, v.Entity, v.Verdict, v.DataPlane, v.ControlPlane, belief,
		up, down, gap, methods, upBlocks, total}, nil
}

func scanVerdict(scan func(...any) error, v *results.Verdict) error {
	var (
		ns                  int64
		belief              sql.NullFloat64
		up, down, gap       sql.NullInt64
		methods             sql.NullString
		upBlocks, allBlocks sql.NullInt64
	)
	if err := scan(&ns, &v.Level, &v.Entity, &v.Verdict, &v.DataPlane, &v.ControlPlane, &belief,
		&up, &down, &gap, &methods, &upBlocks, &allBlocks); err != nil {
		return err
	}
	v.Time = time.Unix(0, ns).UTC()
	if belief.Valid {
		v.Belief = &belief.Float64
	}
	if up.Valid {
		v.Vantages = &results.VantageCount{Up: int(up.Int64), Down: int(down.Int64), Gap: int(gap.Int64)}
	}
	if methods.Valid {
		if err := json.Unmarshal([]byte(methods.String), &v.Methods); err != nil {
			return fmt.Errorf("verdict %s %s: methods: %w", v.Level, v.Entity, err)
		}
		if v.Methods == nil {
			v.Methods = map[string]string{}
		}
	}
	if upBlocks.Valid {
		v.Up = results.Int(int(upBlocks.Int64))
	}
	if allBlocks.Valid {
		v.Total = results.Int(int(allBlocks.Int64))
	}
	return nil
}

const eventSelectColumns = "level, entity, kind, start_ns, end_ns, minutes, severity, last_hop"

const upsertEvent = `INSERT INTO events (level, entity, kind, start_ns, end_ns, minutes, severity, last_hop)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (level, entity, kind, start_ns) DO UPDATE SET
		end_ns = excluded.end_ns, minutes = excluded.minutes,
		severity = excluded.severity, last_hop = excluded.last_hop`

func eventArgs(e *results.Event) ([]any, error) {
	if e.Level == "" || e.Entity == "" || e.Kind == "" {
		return nil, errors.New("no level, entity or kind")
	}
	start, err := unixNano(e.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	var end any
	if !e.End.IsZero() {
		ns, err := unixNano(e.End)
		if err != nil {
			return nil, fmt.Errorf("end: %w", err)
		}
		end = ns
	}
	for _, s := range []string{e.Level, e.Entity, e.Kind, e.LastHop} {
		if err := validText(s); err != nil {
			return nil, err
		}
	}
	return []any{e.Level, e.Entity, e.Kind, start, end, e.Minutes, e.Severity, e.LastHop}, nil
}

func scanEvent(scan func(...any) error, e *results.Event) error {
	var start int64
	var end sql.NullInt64
	if err := scan(&e.Level, &e.Entity, &e.Kind, &start, &end, &e.Minutes, &e.Severity, &e.LastHop); err != nil {
		return err
	}
	e.Start = time.Unix(0, start).UTC()
	if end.Valid {
		e.End = time.Unix(0, end.Int64).UTC()
	}
	return nil
}

const blockSelectColumns = "prefix, vantage, method, responsive, availability, sparse, censuses, updated_ns"

const upsertBlock = `INSERT INTO blocks (prefix, vantage, method, responsive, availability, sparse, censuses, updated_ns)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (prefix, vantage, method) DO UPDATE SET
		responsive = excluded.responsive, availability = excluded.availability,
		sparse = excluded.sparse, censuses = excluded.censuses, updated_ns = excluded.updated_ns`

// blockArgs is b as a row of blocks. The prefix is stored masked, an empty
// method as icmp.
func blockArgs(b *Block) ([]any, error) {
	if !b.Prefix.IsValid() {
		return nil, errors.New("no valid prefix")
	}
	if err := validText(b.Vantage); err != nil {
		return nil, err
	}
	method := b.Method
	if method == "" {
		method = results.MethodICMP
	}
	if err := validText(method); err != nil {
		return nil, err
	}
	var e, updated any
	if b.E != nil {
		j, err := json.Marshal(b.E)
		if err != nil {
			return nil, err
		}
		e = string(j)
	}
	if !b.Updated.IsZero() {
		ns, err := unixNano(b.Updated)
		if err != nil {
			return nil, fmt.Errorf("updated: %w", err)
		}
		updated = ns
	}
	return []any{b.Prefix.Masked().String(), b.Vantage, method, e, b.A, b.Sparse, int64(b.Censuses), updated}, nil
}

func scanBlock(scan func(...any) error, b *Block) error {
	var (
		prefix  string
		e       sql.NullString
		updated sql.NullInt64
	)
	if err := scan(&prefix, &b.Vantage, &b.Method, &e, &b.A, &b.Sparse, &b.Censuses, &updated); err != nil {
		return err
	}
	var err error
	if b.Prefix, err = netip.ParsePrefix(prefix); err != nil {
		return fmt.Errorf("block %q: %w", prefix, err)
	}
	if e.Valid {
		if b.E, err = decodeAddrs(e.String); err != nil {
			return fmt.Errorf("block %s: addresses: %w", prefix, err)
		}
		if b.E == nil {
			b.E = []netip.Addr{}
		}
	}
	if updated.Valid {
		b.Updated = time.Unix(0, updated.Int64).UTC()
	}
	return nil
}

const beliefSelectColumns = "vantage, block, round, bu, state, backoff"

const upsertBelief = `INSERT INTO beliefs (vantage, block, round, bu, state, backoff)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (vantage, block) DO UPDATE SET
		round = excluded.round, bu = excluded.bu, state = excluded.state, backoff = excluded.backoff`

// beliefArgs is b as a row of beliefs. The block is stored masked.
func beliefArgs(b *Belief) ([]any, error) {
	if b.Vantage == "" {
		return nil, errors.New("no vantage")
	}
	if !b.Block.IsValid() {
		return nil, errors.New("no valid block")
	}
	for _, s := range []string{b.Vantage, b.State} {
		if err := validText(s); err != nil {
			return nil, err
		}
	}
	return []any{b.Vantage, b.Block.Masked().String(), b.Round, b.BU, b.State, int64(b.Backoff)}, nil
}

func scanBelief(scan func(...any) error, b *Belief) error {
	var block string
	if err := scan(&b.Vantage, &block, &b.Round, &b.BU, &b.State, &b.Backoff); err != nil {
		return err
	}
	var err error
	if b.Block, err = netip.ParsePrefix(block); err != nil {
		return fmt.Errorf("belief block %q: %w", block, err)
	}
	return nil
}

// unixNano is t in Unix nanoseconds, the stores' time, or an error for a
// zero time or one outside the years 1678 to 2262.
func unixNano(t time.Time) (int64, error) {
	if err := results.ValidTime(t); err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// clampNano is t in Unix nanoseconds, held to the range the stores' times
// take, for a bound of a query.
func clampNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Block sizes of the block column: /24 for IPv4 targets, /48 for IPv6.
const (
	blockBits4 = 24
	blockBits6 = 48
)

func blockBits(a netip.Addr) int {
	if a.Is4() {
		return blockBits4
	}
	return blockBits6
}

// blockOf is the block of an address target ("198.18.3.0/24"), or the
// target itself when it is not an address (a name has no block, but is its
// own key in the block index).
func blockOf(target string) string {
	a, err := netip.ParseAddr(target)
	if err != nil {
		return target
	}
	a = a.Unmap().WithZone("")
	p, _ := a.Prefix(blockBits(a))
	return p.String()
}

// unmapPrefix is p with an IPv4-mapped IPv6 address turned into IPv4, masked.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() {
		return netip.PrefixFrom(a.Unmap(), max(p.Bits()-96, 0)).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// comparePrefix orders prefixes by address family, address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// decodeAddrs decodes a block's E(b) as blockArgs stores it: a JSON array
// of addresses as text. The form json.Marshal gives, strings without
// escapes, is read here, a census of many blocks several times faster;
// anything else goes to encoding/json, which reads it as it always did.
func decodeAddrs(text string) ([]netip.Addr, error) {
	if addrs, ok := decodePlainAddrs(text); ok {
		return addrs, nil
	}
	var addrs []netip.Addr
	err := json.Unmarshal([]byte(text), &addrs)
	return addrs, err
}

// jsonSpace is the white space JSON allows between tokens.
const jsonSpace = " \t\n\r"

// decodePlainAddrs reads text when it is a JSON array of strings without
// escapes, each empty (the zero Addr) or an address, as encoding/json
// would; ok is false for anything else.
func decodePlainAddrs(text string) (addrs []netip.Addr, ok bool) {
	s := strings.Trim(text, jsonSpace)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	s = s[1 : len(s)-1]
	addrs = make([]netip.Addr, 0, strings.Count(s, ",")+1)
	if strings.Trim(s, jsonSpace) == "" {
		return addrs, true
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.Trim(part, jsonSpace)
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' {
			return nil, false
		}
		v := part[1 : len(part)-1]
		if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r >= 0x7f || r == '"' || r == '\\' }) >= 0 {
			return nil, false
		}
		var a netip.Addr
		if v != "" {
			var err error
			if a, err = netip.ParseAddr(v); err != nil {
				return nil, false
			}
		}
		addrs = append(addrs, a)
	}
	return addrs, true
}
