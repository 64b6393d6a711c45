package results

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Packed records are the binary form of records of one vantage point, which
// they do not hold: the reader is told the vantage point. The store keeps
// records packed, and nodes send them to the collector packed. A chunk is
//
//	version   byte, chunkVersion (1)
//	count     uvarint, the number of records
//	records   count of them, in order
//
// and a record is
//
//	time      varint: UnixNano minus the previous record's (0 for the first),
//	          wrapping; decoded in UTC
//	flags     uvarint of the pack* flags below
//	round     varint
//	method    name
//	target    address
//	outcome   name
//	port      varint, if packPort
//	seq       varint, if packSeq
//	replyTTL  varint, if packReplyTTL
//	rttMs     8 bytes, little-endian math.Float64bits, if packRTT
//	icmp      name, if packICMP
//	error     string, if packError
//	proto     name, if packProto
//	qname     string, if packQname
//	qtype     name, if packQtype
//	rcode     name, if packRcode
//	answers   varint, if packAnswers
//	hops      uvarint count then that many hops, if packHops
//	source    address, if packSource
//	answer    uvarint count then that many resource records, if packAnswer
//	serial    uvarint, if packSerial
//	nsid      string, if packNSID
//
// where a string is a uvarint length and that many bytes; a name is a uvarint
// that is odd for the name at index v>>1 of packNames, even for a string of
// length v>>1 that follows; an address is the byte packIPv4 or packIPv6 and
// the address's 4 or 16 bytes, or, for what is not an address written the
// way netip writes it, a string as a name's; a varint is
// binary.AppendVarint's zigzag form and a uvarint binary.AppendUvarint's. A
// field is flagged when it is not zero (an RTT when its bits are not zero, so
// -0 keeps its sign), a pointer when it is not nil, Hops and Answer when they are not nil
// (an empty slice is flagged with a count of 0). Reached and AA carry their
// values in the flags. A hop is
//
//	flags     uvarint of the hop* flags below
//	ttl       varint
//	addr      address, if hopAddr
//	rttMs     8 bytes as above, if hopRTT
//	icmp      name, if hopICMP
//
// and a resource record of a DNS answer
//
//	name      string
//	type      name
//	class     name ("" for IN)
//	ttl       uvarint
//	data      string
//
// So an ICMP timeout to an IPv4 address takes 11 bytes, a reply 20. A
// reader refuses an unknown version, unknown flags or names, a value flag
// without its presence flag, lengths and counts longer than the bytes left,
// and bytes after the last record.

// chunkVersion is the first byte of every chunk.
const chunkVersion = 1

// Record flags. The ones most records set come first, so that the flags of
// ICMP and TCP probes fit in one byte and those of DNS probes in two.
const (
	packRTT        = 1 << iota // RTTms's bits are not zero
	packReplyTTL               // ReplyTTL != 0
	packPort                   // Port != 0
	packSeq                    // Seq != 0
	packICMP                   // ICMP != ""
	packProto                  // Proto != ""
	packReachedSet             // Reached != nil
	packReached                // *Reached
	packQname                  // Qname != ""
	packQtype                  // Qtype != ""
	packRcode                  // Rcode != ""
	packAASet                  // AA != nil
	packAA                     // *AA
	packAnswers                // Answers != nil
	packHops                   // Hops != nil
	packError                  // Error != ""
	packSource                 // Source != ""
	packAnswer                 // Answer != nil
	packSerial                 // Serial != nil
	packNSID                   // NSID != ""

	packAll = 1<<iota - 1 // every flag a reader knows
)

// Hop flags.
const (
	hopAddr = 1 << iota // Addr != ""
	hopRTT              // RTTms's bits are not zero
	hopICMP             // ICMP != ""

	hopAll = 1<<iota - 1 // every hop flag a reader knows
)

// The fewest bytes a record and a hop take: a byte for each field they always
// have. A count that would need more bytes than are left is corrupt, which
// bounds what decoding allocates by the size of its input.
const (
	minRecordLen = 6 // time, flags, round, method, target, outcome
	minHopLen    = 2 // flags, ttl
	minRRLen     = 5 // name, type, class, ttl, data
)

// ErrBadPacked is what every error about a malformed chunk wraps.
var ErrBadPacked = errors.New("corrupt packed records")

// PackRecords appends to dst the chunk encoding of recs, which all have one
// vantage point (the caller's guarantee; Vantage is not encoded), and returns it.
// Times must lie in UnixNano's range, the years 1678 to 2262; they come back
// in UTC without a monotonic reading.
func PackRecords(dst []byte, recs []Record) []byte {
	dst = slices.Grow(dst, 1+binary.MaxVarintLen64+len(recs)*packGuess)
	dst = append(dst, chunkVersion)
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	var prev int64
	for i := range recs {
		ns := recs[i].Time.UnixNano()
		dst = binary.AppendVarint(dst, ns-prev)
		dst = appendRecord(dst, &recs[i])
		prev = ns
	}
	return dst
}

// packGuess is roughly how many bytes a typical record packs into, to size
// the buffer of PackRecords once.
const packGuess = 24

// appendRecord appends the fields of r after its time.
func appendRecord(dst []byte, r *Record) []byte {
	f := recordFlags(r)
	dst = binary.AppendUvarint(dst, f)
	dst = binary.AppendVarint(dst, r.Round)
	dst = appendPackName(dst, r.Method)
	dst = appendPackAddr(dst, r.Target)
	dst = appendPackName(dst, r.Outcome)
	if f&packPort != 0 {
		dst = binary.AppendVarint(dst, int64(r.Port))
	}
	if f&packSeq != 0 {
		dst = binary.AppendVarint(dst, int64(r.Seq))
	}
	if f&packReplyTTL != 0 {
		dst = binary.AppendVarint(dst, int64(r.ReplyTTL))
	}
	if f&packRTT != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.RTTms))
	}
	// The flagged strings, in the order chunkReader.record reads them.
	if f&packICMP != 0 {
		dst = appendPackName(dst, r.ICMP)
	}
	if f&packError != 0 {
		dst = appendPackString(dst, r.Error)
	}
	if f&packProto != 0 {
		dst = appendPackName(dst, r.Proto)
	}
	if f&packQname != 0 {
		dst = appendPackString(dst, r.Qname)
	}
	if f&packQtype != 0 {
		dst = appendPackName(dst, r.Qtype)
	}
	if f&packRcode != 0 {
		dst = appendPackName(dst, r.Rcode)
	}
	if f&packAnswers != 0 {
		dst = binary.AppendVarint(dst, int64(*r.Answers))
	}
	if f&packHops != 0 {
		dst = appendHops(dst, r.Hops)
	}
	if f&packSource != 0 {
		dst = appendPackAddr(dst, r.Source)
	}
	if f&packAnswer != 0 {
		dst = appendRRs(dst, r.Answer)
	}
	if f&packSerial != 0 {
		dst = binary.AppendUvarint(dst, uint64(*r.Serial))
	}
	if f&packNSID != 0 {
		dst = appendPackString(dst, r.NSID)
	}
	return dst
}

// appendRRs appends the count of rrs and each resource record.
func appendRRs(dst []byte, rrs []RR) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rrs)))
	for i := range rrs {
		rr := &rrs[i]
		dst = appendPackString(dst, rr.Name)
		dst = appendPackName(dst, rr.Type)
		dst = appendPackName(dst, rr.Class)
		dst = binary.AppendUvarint(dst, uint64(rr.TTL))
		dst = appendPackString(dst, rr.Data)
	}
	return dst
}

// recordFlags are the flags of r.
func recordFlags(r *Record) uint64 {
	f := flagIf(math.Float64bits(r.RTTms) != 0, packRTT) |
		flagIf(r.ReplyTTL != 0, packReplyTTL) |
		flagIf(r.Port != 0, packPort) |
		flagIf(r.Seq != 0, packSeq) |
		flagIf(r.ICMP != "", packICMP) |
		flagIf(r.Error != "", packError) |
		flagIf(r.Proto != "", packProto) |
		flagIf(r.Qname != "", packQname) |
		flagIf(r.Qtype != "", packQtype) |
		flagIf(r.Rcode != "", packRcode) |
		flagIf(r.Answers != nil, packAnswers) |
		flagIf(r.Hops != nil, packHops) |
		flagIf(r.Source != "", packSource) |
		flagIf(r.Answer != nil, packAnswer) |
		flagIf(r.Serial != nil, packSerial) |
		flagIf(r.NSID != "", packNSID)
	if r.Reached != nil {
		f |= packReachedSet | flagIf(*r.Reached, packReached)
	}
	if r.AA != nil {
		f |= packAASet | flagIf(*r.AA, packAA)
	}
	return f
}

// flagIf is flag if ok, else 0.
func flagIf(ok bool, flag uint64) uint64 {
	if ok {
		return flag
	}
	return 0
}

// appendHops appends the count of hops and each hop.
func appendHops(dst []byte, hops []Hop) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(hops)))
	for i := range hops {
		h := &hops[i]
		rtt := math.Float64bits(h.RTTms)
		f := flagIf(h.Addr != "", hopAddr) | flagIf(rtt != 0, hopRTT) | flagIf(h.ICMP != "", hopICMP)
		dst = binary.AppendUvarint(dst, f)
		dst = binary.AppendVarint(dst, int64(h.TTL))
		if f&hopAddr != 0 {
			dst = appendPackAddr(dst, h.Addr)
		}
		if f&hopRTT != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, rtt)
		}
		if f&hopICMP != 0 {
			dst = appendPackName(dst, h.ICMP)
		}
	}
	return dst
}

// appendPackString appends s's length and s.
func appendPackString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Address kinds; an even kind is a string's length times two.
const (
	packIPv4 = 1
	packIPv6 = 3
)

// appendPackName appends a name: its index in packNames times two plus
// one, or its length times two and the name.
func appendPackName(dst []byte, s string) []byte {
	if i, ok := packNameIndex[s]; ok {
		return binary.AppendUvarint(dst, i<<1|1)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s))<<1)
	return append(dst, s...)
}

// appendPackAddr appends an address that is written the way netip writes
// it as its kind and its 4 or 16 bytes; anything else, a name, a zone or
// another way of writing an address, as its length times two and itself.
func appendPackAddr(dst []byte, s string) []byte {
	// netip refuses IPv4 octets with leading zeros, so an IPv4 address it
	// parses is written its way; an IPv6 one may not be.
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		if a.Is4() {
			a4 := a.As4()
			return append(append(dst, packIPv4), a4[:]...)
		}
		if a.String() == s {
			a16 := a.As16()
			return append(append(dst, packIPv6), a16[:]...)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(s))<<1)
	return append(dst, s...)
}

// PackedCount returns how many records a chunk holds without decoding them
// (the count from its header), or an error wrapping ErrBadPacked.
func PackedCount(data []byte) (int, error) {
	c := chunkReader{b: data}
	n := c.header()
	return n, c.err
}

// UnpackRecords decodes a chunk PackRecords made, giving each record the
// vantage point vantage, and calls fn with each in the order packed. It
// returns an error wrapping ErrBadPacked for data that is not such a chunk
// (truncated, trailing bytes, bad version, impossible lengths), and fn's
// error as it is. fn's *Record is only valid during the call, but its strings,
// slices and pointers are its own: they share no memory with data or with
// other records. fn is called only with whole records, but it may have been
// called for the records before a corruption that UnpackRecords then reports.
func UnpackRecords(data []byte, vantage string, fn func(r *Record) error) error {
	c := chunkReader{b: data}
	n := c.header()
	var r Record
	var ns int64
	for i := range n {
		ns += c.varint()
		r = Record{Time: time.Unix(0, ns).UTC(), Vantage: vantage}
		c.record(&r)
		if c.err != nil {
			return fmt.Errorf("record %d of %d: %w", i, n, c.err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if c.err == nil && len(c.b) > 0 {
		c.fail("%d bytes after the last record", len(c.b))
	}
	return c.err
}

// UnpackProbes is UnpackRecords for an analysis, which reads target
// addresses, not their text: it calls fn with each record as ProbeReader
// gives it.
func UnpackProbes(data []byte, vantage string, fn func(r *Record, addr netip.Addr) error) error {
	p := NewProbeReader(data, vantage)
	for p.Next() {
		if err := fn(p.Record()); err != nil {
			return err
		}
	}
	return p.Err()
}

// ProbeReader reads a chunk PackRecords made one record at a time, for an
// analysis, which reads target addresses, not their text: a target packed
// as an address comes as the record's address, with its Target empty; any
// other target comes as Target, with the zero Addr. It holds one record
// decoded at a time however long the chunk.
type ProbeReader struct {
	c       chunkReader
	vantage string
	n, i    int
	ns      int64
	r       Record
}

// NewProbeReader starts reading data, giving each record the vantage point
// vantage.
func NewProbeReader(data []byte, vantage string) *ProbeReader {
	p := &ProbeReader{c: chunkReader{b: data, lean: true}, vantage: vantage}
	p.n = p.c.header()
	return p
}

// Next decodes the next record and reports whether there is one: false at
// the end of the chunk, or at a corruption, which Err then returns. The
// record Record gave before is overwritten.
func (p *ProbeReader) Next() bool {
	if p.c.err != nil {
		return false
	}
	if p.i == p.n {
		if len(p.c.b) > 0 {
			p.c.fail("%d bytes after the last record", len(p.c.b))
		}
		return false
	}
	p.ns += p.c.varint()
	p.r = Record{Time: time.Unix(0, p.ns).UTC(), Vantage: p.vantage}
	p.c.target = netip.Addr{}
	p.c.record(&p.r)
	if p.c.err != nil {
		p.c.err = fmt.Errorf("record %d of %d: %w", p.i, p.n, p.c.err)
		return false
	}
	p.i++
	return true
}

// Record is the record Next decoded, valid until the next call of Next, and
// its target's address. Its strings, slices and pointers are its own, as
// UnpackRecords gives them.
func (p *ProbeReader) Record() (*Record, netip.Addr) { return &p.r, p.c.target }

// AppendID appends the ID of the record Next decoded (Record.ID, its
// target as text) to b.
func (p *ProbeReader) AppendID(b []byte) []byte { return p.r.appendID(b, p.c.target) }

// Err is the corruption that stopped Next, wrapping ErrBadPacked, or nil.
func (p *ProbeReader) Err() error { return p.c.err }

// chunkReader reads a chunk from the front of b. Its first error sticks: it
// empties b, and reads after it return zero values. A lean reader reads a
// record's target address into target, not into its Target.
type chunkReader struct {
	b      []byte
	err    error
	lean   bool
	target netip.Addr
}

// fail records the error, wrapping ErrBadPacked, unless there is one already.
func (c *chunkReader) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s", ErrBadPacked, fmt.Sprintf(format, args...))
	}
	c.b = nil
}

// header reads the version and the record count, which it checks against the
// bytes left.
func (c *chunkReader) header() int {
	if len(c.b) == 0 {
		c.fail("empty")
		return 0
	}
	if v := c.b[0]; v != chunkVersion {
		c.fail("version %d, want %d", v, chunkVersion)
		return 0
	}
	c.b = c.b[1:]
	return c.count(minRecordLen, "records")
}

// count reads a count of things that take at least size bytes each, and
// fails if there are not bytes enough left for them.
func (c *chunkReader) count(size int, what string) int {
	n := c.uvarint()
	if left := uint64(len(c.b)); n > left/uint64(size) {
		c.fail("%d %s in %d bytes", n, what, left)
		return 0
	}
	return int(n)
}

// record reads the fields of a record after its time into r.
func (c *chunkReader) record(r *Record) {
	f := c.uvarint()
	if f&^packAll != 0 || f&packReached != 0 && f&packReachedSet == 0 || f&packAA != 0 && f&packAASet == 0 {
		c.fail("record flags %#x", f)
		return
	}
	r.Round = c.varint()
	r.Method = c.name()
	if c.lean {
		r.Target, c.target = c.addrOrName()
	} else {
		r.Target = c.addr()
	}
	r.Outcome = c.name()
	if f&packPort != 0 {
		r.Port = c.int()
	}
	if f&packSeq != 0 {
		r.Seq = c.int()
	}
	if f&packReplyTTL != 0 {
		r.ReplyTTL = c.int()
	}
	if f&packRTT != 0 {
		r.RTTms = c.float()
	}
	if f&packICMP != 0 {
		r.ICMP = c.name()
	}
	if f&packError != 0 {
		r.Error = c.str()
	}
	if f&packProto != 0 {
		r.Proto = c.name()
	}
	if f&packQname != 0 {
		r.Qname = c.str()
	}
	if f&packQtype != 0 {
		r.Qtype = c.name()
	}
	if f&packRcode != 0 {
		r.Rcode = c.name()
	}
	if f&packReachedSet != 0 {
		r.Reached = Bool(f&packReached != 0)
	}
	if f&packAASet != 0 {
		r.AA = Bool(f&packAA != 0)
	}
	if f&packAnswers != 0 {
		r.Answers = Int(c.int())
	}
	if f&packHops != 0 {
		r.Hops = c.hops()
	}
	if f&packSource != 0 {
		r.Source = c.addr()
	}
	if f&packAnswer != 0 {
		r.Answer = c.rrs()
	}
	if f&packSerial != 0 {
		if v := c.uvarint(); v <= math.MaxUint32 {
			r.Serial = Uint32(uint32(v))
		} else {
			c.fail("serial %d overflows 32 bits", v)
		}
	}
	if f&packNSID != 0 {
		r.NSID = c.str()
	}
}

// rrs reads a count of resource records and the records, giving a non-nil
// slice.
func (c *chunkReader) rrs() []RR {
	n := c.count(minRRLen, "resource records")
	if c.err != nil {
		return nil
	}
	rrs := make([]RR, n)
	for i := range rrs {
		rr := &rrs[i]
		rr.Name = c.str()
		rr.Type = c.name()
		rr.Class = c.name()
		if v := c.uvarint(); v <= math.MaxUint32 {
			rr.TTL = uint32(v)
		} else {
			c.fail("ttl %d overflows 32 bits", v)
		}
		rr.Data = c.str()
	}
	return rrs
}

// hops reads a count of hops and the hops, giving a non-nil slice.
func (c *chunkReader) hops() []Hop {
	n := c.count(minHopLen, "hops")
	if c.err != nil {
		return nil
	}
	hops := make([]Hop, n)
	for i := range hops {
		h := &hops[i]
		f := c.uvarint()
		if f&^hopAll != 0 {
			c.fail("hop flags %#x", f)
			return nil
		}
		h.TTL = c.int()
		if f&hopAddr != 0 {
			h.Addr = c.addr()
		}
		if f&hopRTT != 0 {
			h.RTTms = c.float()
		}
		if f&hopICMP != 0 {
			h.ICMP = c.name()
		}
	}
	return hops
}

// uvarint reads a uvarint.
func (c *chunkReader) uvarint() uint64 {
	if b := c.b; len(b) > 0 && b[0] < 0x80 {
		c.b = b[1:]
		return uint64(b[0])
	}
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		c.fail("bad or truncated varint")
		return 0
	}
	c.b = c.b[n:]
	return v
}

// varint reads a zigzag varint.
func (c *chunkReader) varint() int64 {
	u := c.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// int reads a varint that must fit in an int.
func (c *chunkReader) int() int {
	v := c.varint()
	if int64(int(v)) != v {
		c.fail("%d overflows int", v)
		return 0
	}
	return int(v)
}

// float reads a float64's eight bytes.
func (c *chunkReader) float() float64 {
	if len(c.b) < 8 {
		c.fail("truncated float")
		return 0
	}
	v := binary.LittleEndian.Uint64(c.b)
	c.b = c.b[8:]
	return math.Float64frombits(v)
}

// literal reads n bytes as a string of its own.
func (c *chunkReader) literal(n uint64) string {
	return string(c.take(n))
}

// take reads n bytes, which alias the chunk.
func (c *chunkReader) take(n uint64) []byte {
	if n > uint64(len(c.b)) {
		c.fail("length %d with %d bytes left", n, len(c.b))
		return nil
	}
	b := c.b[:n:n]
	c.b = c.b[n:]
	return b
}

// str reads a string into memory of its own.
func (c *chunkReader) str() string {
	return c.literal(c.uvarint())
}

// name reads a name: one of packNames by its index, or a string.
func (c *chunkReader) name() string {
	v := c.uvarint()
	if v&1 == 0 {
		return c.literal(v >> 1)
	}
	if i := v >> 1; i < uint64(len(packNames)) {
		return packNames[i]
	}
	c.fail("name %d of %d", v>>1, len(packNames))
	return ""
}

// addr reads an address: 4 or 16 bytes, or a string.
func (c *chunkReader) addr() string {
	s, a := c.addrOrName()
	if a.IsValid() {
		return a.String()
	}
	return s
}

// addrOrName reads an address: 4 or 16 bytes, given as a, or a string,
// given as s.
func (c *chunkReader) addrOrName() (s string, a netip.Addr) {
	v := c.uvarint()
	var n int
	switch {
	case v&1 == 0:
		return c.literal(v >> 1), netip.Addr{}
	case v == packIPv4:
		n = 4
	case v == packIPv6:
		n = 16
	default:
		c.fail("address kind %d", v)
		return "", netip.Addr{}
	}
	if len(c.b) < n {
		c.fail("truncated address")
		return "", netip.Addr{}
	}
	if n == 4 {
		a = netip.AddrFrom4([4]byte(c.b[:4]))
	} else {
		a = netip.AddrFrom16([16]byte(c.b[:16]))
	}
	c.b = c.b[n:]
	return "", a
}

// packNames are the names a chunk writes as their index: methods,
// outcomes, trace protocols, ICMP messages as probe.ICMPReply.Name gives
// them, TCP answers, DNS types and rcodes as dig names them. The list is
// part of the format: names are only ever added at its end.
var packNames = [...]string{
	MethodICMP, MethodTCP, MethodTrace, MethodDNS, "udp",
	OutcomeReply, OutcomeTimeout, OutcomeUnreachable, OutcomeOpen, OutcomeClosed, OutcomeError,
	"echo-reply", "time-exceeded", "packet-too-big", "rst", "syn-ack",
	"dest-unreachable/net", "dest-unreachable/host", "dest-unreachable/protocol",
	"dest-unreachable/port", "dest-unreachable/frag-needed", "dest-unreachable/admin",
	"dest-unreachable/net-prohibited", "dest-unreachable/host-prohibited",
	"dest-unreachable/beyond-scope", "dest-unreachable/policy", "dest-unreachable/reject-route",
	"A", "AAAA", "NS", "SOA", "TXT", "MX", "CNAME", "PTR", "SRV", "CAA",
	"DS", "DNSKEY", "HTTPS", "SVCB", "ANY",
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "BADSIG",
	"RRSIG", "NSEC", "NSEC3", "CH",
}

// packNameIndex is the index of each of packNames.
var packNameIndex = func() map[string]uint64 {
	m := make(map[string]uint64, len(packNames))
	for i, s := range packNames {
		m[s] = uint64(i)
	}
	return m
}()
