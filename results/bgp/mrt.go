package bgp

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/packet/mrt"
)

// MaxRecord is the longest MRT record a Reader accepts, in bytes. Real
// records are a few kilobytes (a RIB entry with every peer of a large
// collector is well under a megabyte); a longer length field means a corrupt
// file, not a record worth reading into memory.
const MaxRecord = 16 << 20

// Errors a caller may want to tell apart, wrapped in a *FormatError.
var (
	// ErrTruncated means the file ends inside a record (or inside its
	// compressed stream).
	ErrTruncated = errors.New("file ends inside a record (truncated)")
	// ErrCorrupt means a record's bytes do not parse.
	ErrCorrupt = errors.New("corrupt record")
)

// FormatError is a file that stops being MRT: truncated or corrupt. Every
// route before Offset was delivered before it was returned.
type FormatError struct {
	File string
	// Offset is the byte offset of the failing record's first byte in the
	// MRT data: in the decompressed stream when Compression is set.
	Offset int64
	// Compression is "gzip", "bzip2" or "" for a plain file.
	Compression string
	Err         error
}

func (e *FormatError) Error() string {
	where := fmt.Sprintf("byte %d", e.Offset)
	if e.Compression != "" {
		where += " of the " + e.Compression + "-decompressed data"
	}
	return fmt.Sprintf("mrt: %s: record at %s: %v", e.File, where, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Reader reads the routes of one MRT stream: plain, gzip'd or bzip2'd (told
// apart by their first bytes, not by the file's name).
type Reader struct {
	name        string
	compression string
	r           *bufio.Reader
	off         int64
	peers       []*mrt.Peer
	hdr         [16]byte
	body        []byte
}

// NewReader returns a Reader of the MRT data r holds; name names it in
// errors.
func NewReader(r io.Reader, name string) (*Reader, error) {
	rd := &Reader{name: name}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(3)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &FormatError{File: name, Compression: "gzip", Err: fmt.Errorf("%w: gzip header: %v", ErrCorrupt, err)}
		}
		rd.compression = "gzip"
		rd.r = bufio.NewReaderSize(zr, 256<<10)
	case bytes.HasPrefix(magic, []byte("BZh")):
		rd.compression = "bzip2"
		rd.r = bufio.NewReaderSize(bzip2.NewReader(br), 256<<10)
	default:
		rd.r = br
	}
	return rd, nil
}

// Compression returns "gzip", "bzip2" or "" for plain MRT data.
func (rd *Reader) Compression() string { return rd.compression }

// stop carries an error of the caller's function out unchanged.
type stop struct{ err error }

func (s stop) Error() string { return s.err.Error() }

// Each calls fn with every route of the stream, in the order of the file.
// It returns nil at the end of the data, fn's error unchanged when fn fails,
// or a *FormatError for a truncated or corrupt record, after fn has had
// every route before it. Records that carry no routes (OPEN, KEEPALIVE,
// NOTIFICATION, OSPF, IS-IS, multicast RIBs) are skipped.
func (rd *Reader) Each(fn func(Route) error) error {
	for {
		start := rd.off
		n, err := io.ReadFull(rd.r, rd.hdr[:mrt.MRT_COMMON_HEADER_LEN])
		rd.off += int64(n)
		if n == 0 && err == io.EOF {
			return nil
		}
		if err != nil {
			return rd.fail(start, rd.readError(err, "MRT header", n, mrt.MRT_COMMON_HEADER_LEN))
		}
		hlen := mrt.MRT_COMMON_HEADER_LEN
		if mrt.MRTType(binary.BigEndian.Uint16(rd.hdr[4:6])).HasExtendedTimestamp() {
			// The microseconds follow the common header and count in
			// its length (RFC 6396 3).
			n, err := io.ReadFull(rd.r, rd.hdr[12:16])
			rd.off += int64(n)
			if err != nil {
				return rd.fail(start, rd.readError(err, "extended MRT header", 12+n, 16))
			}
			hlen = 16
		}
		h, err := mrt.ParseHeader(rd.hdr[:hlen])
		if err != nil {
			return rd.fail(start, fmt.Errorf("%w: %v", ErrCorrupt, err))
		}
		length := h.Len
		if hlen == 16 {
			if length < 4 {
				return rd.fail(start, fmt.Errorf("%w: extended-timestamp record of length %d", ErrCorrupt, length))
			}
			length -= 4
		}
		if length > MaxRecord {
			return rd.fail(start, fmt.Errorf("%w: record length %d is more than %d", ErrCorrupt, length, MaxRecord))
		}
		if cap(rd.body) < int(length) {
			rd.body = make([]byte, length)
		}
		body := rd.body[:length]
		n, err = io.ReadFull(rd.r, body)
		rd.off += int64(n)
		if err != nil {
			return rd.fail(start, rd.readError(err, fmt.Sprintf("%d-byte record (type %d, subtype %d)", length, h.Type, h.SubType), n, int(length)))
		}
		if err := rd.record(h, body, fn); err != nil {
			var s stop
			if errors.As(err, &s) {
				return s.err
			}
			return rd.fail(start, err)
		}
	}
}

// readError explains a short read: the end of the data, or the
// decompressor's complaint.
func (rd *Reader) readError(err error, what string, got, want int) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: the data ends %d bytes into a %s of %d", ErrTruncated, got, what, want)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
}

func (rd *Reader) fail(off int64, err error) error {
	return &FormatError{File: rd.name, Offset: off, Compression: rd.compression, Err: err}
}

// record turns one MRT record into routes.
func (rd *Reader) record(h *mrt.MRTHeader, body []byte, fn func(Route) error) error {
	t := time.Unix(int64(h.Timestamp), int64(h.ExtendedTimestampMicroseconds)*1000).UTC()
	switch h.Type {
	case mrt.TABLE_DUMP:
		return tableDump(h, t, body, fn)
	case mrt.TABLE_DUMPv2:
		return rd.tableDumpV2(h, t, body, fn)
	case mrt.BGP4MP, mrt.BGP4MP_ET:
		return bgp4mp(h, t, body, fn)
	}
	return nil // OSPF, IS-IS and the deprecated types carry no BGP routes
}

// emit calls fn, marking its error as the caller's.
func emit(fn func(Route) error, r Route) error {
	if err := fn(r); err != nil {
		return stop{err}
	}
	return nil
}

// tableDumpV2 reads a TABLE_DUMP_V2 record (RFC 6396 4.3, RFC 8050) with
// gobgp's MRT parser: the peer index table, then unicast RIB entries (their
// MP_REACH_NLRI abbreviated first where a dumper wrote it whole).
func (rd *Reader) tableDumpV2(h *mrt.MRTHeader, t time.Time, body []byte, fn func(Route) error) error {
	label := "TABLE_DUMP2"
	addPath := false
	switch mrt.MRTSubTypeTableDumpv2(h.SubType) {
	case mrt.PEER_INDEX_TABLE:
	case mrt.RIB_IPV4_UNICAST, mrt.RIB_IPV6_UNICAST:
	case mrt.RIB_IPV4_UNICAST_ADDPATH, mrt.RIB_IPV6_UNICAST_ADDPATH:
		label, addPath = "TABLE_DUMP2_AP", true
	default:
		return nil // multicast and generic RIBs: not unicast reachability
	}
	if h.SubType != uint16(mrt.PEER_INDEX_TABLE) {
		body = abbreviateMPReach(body, addPath)
	}
	hh := *h
	hh.Len = uint32(len(body))
	msg, err := parseBody(body, &hh)
	if err != nil {
		return fmt.Errorf("%w: TABLE_DUMP_V2 subtype %d: %v", ErrCorrupt, h.SubType, err)
	}
	switch b := msg.Body.(type) {
	case *mrt.PeerIndexTable:
		rd.peers = b.Peers
		return nil
	case *mrt.Rib:
		prefix, ok := nlriPrefix(b.Prefix)
		if !ok {
			return fmt.Errorf("%w: RIB entry of an unknown prefix type %T", ErrCorrupt, b.Prefix)
		}
		for _, e := range b.Entries {
			if int(e.PeerIndex) >= len(rd.peers) {
				return fmt.Errorf("%w: RIB entry of %v names peer %d, but the peer index table before it has %d peers",
					ErrCorrupt, prefix, e.PeerIndex, len(rd.peers))
			}
			p := rd.peers[e.PeerIndex]
			a := attrsOf(e.PathAttributes, true)
			nh := a.NextHop
			if a.HasMPReach {
				nh = a.MPNextHop
			}
			r := Route{Time: t, Record: label, Kind: RIB, Peer: p.IpAddress, PeerAS: p.AS, Prefix: prefix,
				PathID: e.PathIdentifier, AddPath: addPath, NextHop: nh, Attrs: a}
			if err := emit(fn, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseBody is mrt.ParseBody with its panics (on some corrupt input) turned
// into errors.
func parseBody(body []byte, h *mrt.MRTHeader) (msg *mrt.MRTMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			msg, err = nil, fmt.Errorf("unparseable: %v", p)
		}
	}()
	return mrt.ParseBody(body, h)
}

// tableDump reads a TABLE_DUMP record (RFC 6396 4.2), which gobgp's MRT
// package does not parse: one route of one peer. Subtypes 1 and 2 are IPv4
// and IPv6 with 2-byte ASNs; 3 and 4, which bgpdump reads, the same with
// 4-byte ASNs.
func tableDump(h *mrt.MRTHeader, t time.Time, b []byte, fn func(Route) error) error {
	alen, asLen := 4, 2
	switch h.SubType {
	case 1:
	case 2:
		alen = 16
	case 3:
		asLen = 4
	case 4:
		alen, asLen = 16, 4
	default:
		return fmt.Errorf("%w: TABLE_DUMP subtype %d", ErrCorrupt, h.SubType)
	}
	need := 4 + alen + 2 + 4 + alen + asLen + 2
	if len(b) < need {
		return fmt.Errorf("%w: TABLE_DUMP record of %d bytes, want at least %d", ErrCorrupt, len(b), need)
	}
	pos := 4 // view, sequence
	addr, _ := netip.AddrFromSlice(b[pos : pos+alen])
	pos += alen
	bits := int(b[pos])
	pos += 2 // prefix length, status
	pos += 4 // originated time
	peer, _ := netip.AddrFromSlice(b[pos : pos+alen])
	pos += alen
	var peerAS uint32
	if asLen == 2 {
		peerAS = uint32(binary.BigEndian.Uint16(b[pos:]))
	} else {
		peerAS = binary.BigEndian.Uint32(b[pos:])
	}
	pos += asLen
	attrLen := int(binary.BigEndian.Uint16(b[pos:]))
	pos += 2
	if len(b)-pos < attrLen {
		return fmt.Errorf("%w: TABLE_DUMP attributes of %d bytes, %d left", ErrCorrupt, attrLen, len(b)-pos)
	}
	prefix, err := addr.Prefix(bits)
	if err != nil {
		return fmt.Errorf("%w: TABLE_DUMP prefix length %d", ErrCorrupt, bits)
	}
	opt := optAS4
	if asLen == 2 {
		opt = optAS2
	}
	list, err := decodeAttributes(b[pos:pos+attrLen], opt)
	if err != nil {
		return fmt.Errorf("%w: TABLE_DUMP attributes: %v", ErrCorrupt, err)
	}
	a := attrsOf(list, asLen == 4)
	nh := a.NextHop
	if a.HasMPReach && alen == 16 {
		nh = a.MPNextHop
	}
	return emit(fn, Route{Time: t, Record: "TABLE_DUMP", Kind: RIB, Peer: peer, PeerAS: peerAS, Prefix: prefix,
		NextHop: nh, Attrs: a})
}

// decodeAttributes decodes a run of path attributes with gobgp's decoders.
func decodeAttributes(data []byte, opt *bgp.MarshallingOption) (list []bgp.PathAttributeInterface, err error) {
	defer func() {
		if p := recover(); p != nil {
			list, err = nil, fmt.Errorf("unparseable attributes: %v", p)
		}
	}()
	for len(data) > 0 {
		p, err := bgp.GetPathAttribute(data)
		if err != nil {
			return nil, err
		}
		if err := p.DecodeFromBytes(data, opt); err != nil {
			return nil, err
		}
		n := p.Len(opt)
		if n > len(data) {
			return nil, fmt.Errorf("attribute of %d bytes, %d left", n, len(data))
		}
		list = append(list, p)
		data = data[n:]
	}
	return list, nil
}

// Decoding options for BGP messages in BGP4MP records: 2- or 4-byte AS
// numbers, with or without ADD-PATH path identifiers.
var (
	optAS2        = &bgp.MarshallingOption{Use2ByteAS: true}
	optAS4        = &bgp.MarshallingOption{}
	addPathFamily = map[bgp.Family]bgp.BGPAddPathMode{
		bgp.RF_IPv4_UC: bgp.BGP_ADD_PATH_RECEIVE, bgp.RF_IPv6_UC: bgp.BGP_ADD_PATH_RECEIVE,
		bgp.RF_IPv4_MC: bgp.BGP_ADD_PATH_RECEIVE, bgp.RF_IPv6_MC: bgp.BGP_ADD_PATH_RECEIVE,
	}
	optAS2AddPath = &bgp.MarshallingOption{Use2ByteAS: true, AddPath: addPathFamily}
	optAS4AddPath = &bgp.MarshallingOption{AddPath: addPathFamily}
)

// bgp4mp reads a BGP4MP or BGP4MP_ET record (RFC 6396 4.4, RFC 8050): a
// state change, or a BGP message whose UPDATE gobgp's BGP parser decodes
// with the record's AS size and ADD-PATH mode, once its prefix lists are
// cut after their last whole prefix, as bgpdump reads them. (gobgp's MRT
// parser does not take the extended-timestamp type, and parses every
// message with 4-byte ASNs and without path identifiers, so the record
// header is read here.)
func bgp4mp(h *mrt.MRTHeader, t time.Time, b []byte, fn func(Route) error) error {
	k, ok := bgp4mpKindOf(mrt.MRTSubTypeBGP4MP(h.SubType))
	if !ok {
		return nil // subtypes bgpdump does not print either
	}
	asLen := 2
	if k.as4 {
		asLen = 4
	}
	r := Route{Time: t, Record: bgp4mpLabel(h.Type == mrt.BGP4MP_ET, k.local, k.addPath), AddPath: k.addPath}
	if len(b) < 2*asLen+4 {
		return fmt.Errorf("%w: BGP4MP record of %d bytes", ErrCorrupt, len(b))
	}
	if k.as4 {
		r.PeerAS = binary.BigEndian.Uint32(b)
	} else {
		r.PeerAS = uint32(binary.BigEndian.Uint16(b))
	}
	pos := 2 * asLen
	if k.state && len(b) == 2*asLen+4 {
		// Zebra once wrote state changes without interface and addresses.
		r.Kind, r.Peer = StateChange, netip.IPv4Unspecified()
		r.OldState, r.NewState = binary.BigEndian.Uint16(b[pos:]), binary.BigEndian.Uint16(b[pos+2:])
		return emit(fn, r)
	}
	b, err := bgp4mpPeer(&r, b, pos)
	if err != nil {
		return err
	}
	if k.state {
		if len(b) < 4 {
			return fmt.Errorf("%w: BGP4MP state change without its states", ErrCorrupt)
		}
		r.Kind = StateChange
		r.OldState, r.NewState = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		return emit(fn, r)
	}
	return bgp4mpUpdate(r, b, k, fn)
}

// bgp4mpKind is what a BGP4MP subtype says of its record: a state change or
// a message, with 4-byte AS numbers or 2-byte ones, of the local side, with
// path identifiers (ADD-PATH).
type bgp4mpKind struct {
	as4, local, addPath, state bool
}

// bgp4mpKindOf is what subtype sub says of its record; ok is false for the
// subtypes bgpdump does not print.
func bgp4mpKindOf(sub mrt.MRTSubTypeBGP4MP) (k bgp4mpKind, ok bool) {
	switch sub {
	case mrt.STATE_CHANGE:
		k.state = true
	case mrt.STATE_CHANGE_AS4:
		k.state, k.as4 = true, true
	case mrt.MESSAGE:
	case mrt.MESSAGE_AS4:
		k.as4 = true
	case mrt.MESSAGE_LOCAL:
		k.local = true
	case mrt.MESSAGE_AS4_LOCAL:
		k.as4, k.local = true, true
	case mrt.MESSAGE_ADDPATH:
		k.addPath = true
	case mrt.MESSAGE_AS4_ADDPATH:
		k.as4, k.addPath = true, true
	case mrt.MESSAGE_LOCAL_ADDPATH:
		k.local, k.addPath = true, true
	case mrt.MESSAGE_AS4_LOCAL_ADDPATH:
		k.as4, k.local, k.addPath = true, true, true
	default:
		return k, false
	}
	return k, true
}

// bgp4mpPeer reads the interface index, the address family and the peer
// and local addresses of a BGP4MP record b from pos, the peer's into r, and
// returns what follows them.
func bgp4mpPeer(r *Route, b []byte, pos int) ([]byte, error) {
	afi := binary.BigEndian.Uint16(b[pos+2:])
	pos += 4
	alen := 4
	switch afi {
	case bgp.AFI_IP:
	case bgp.AFI_IP6:
		alen = 16
	default:
		return nil, fmt.Errorf("%w: BGP4MP address family %d", ErrCorrupt, afi)
	}
	if len(b) < pos+2*alen {
		return nil, fmt.Errorf("%w: BGP4MP record of %d bytes ends in its addresses", ErrCorrupt, len(b))
	}
	r.Peer, _ = netip.AddrFromSlice(b[pos : pos+alen])
	pos += 2 * alen
	return b[pos:], nil
}

// bgp4mpUpdate reads the BGP message b of a BGP4MP record of kind k whose
// header r holds, and hands fn the routes of an UPDATE; other messages
// carry none.
func bgp4mpUpdate(r Route, b []byte, k bgp4mpKind, fn func(Route) error) error {
	if len(b) < bgp.BGP_HEADER_LENGTH {
		return fmt.Errorf("%w: BGP4MP message of %d bytes, shorter than a BGP header", ErrCorrupt, len(b))
	}
	for _, c := range b[:16] {
		if c != 0xff {
			return fmt.Errorf("%w: BGP message without its marker", ErrCorrupt)
		}
	}
	if b[18] != bgp.BGP_MSG_UPDATE {
		return nil // OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH: no routes
	}
	mlen := int(binary.BigEndian.Uint16(b[16:]))
	if mlen < bgp.BGP_HEADER_LENGTH || mlen > len(b) {
		return fmt.Errorf("%w: BGP message length %d, %d bytes in the record", ErrCorrupt, mlen, len(b))
	}
	opt := optAS2
	switch {
	case k.as4 && k.addPath:
		opt = optAS4AddPath
	case k.as4:
		opt = optAS4
	case k.addPath:
		opt = optAS2AddPath
	}
	u, err := parseUpdate(trimUpdate(b[:mlen], k.addPath), opt)
	if err != nil {
		return fmt.Errorf("%w: BGP UPDATE from %v: %v", ErrCorrupt, r.Peer, err)
	}
	return updateRoutes(r, u, k.as4, fn)
}

// parseUpdate decodes one BGP UPDATE message. Errors that RFC 7606 handles
// by treating the routes as withdrawn or discarding an attribute leave the
// message readable, as bgpdump reads it; others fail.
func parseUpdate(msg []byte, opt *bgp.MarshallingOption) (u *bgp.BGPUpdate, err error) {
	defer func() {
		if p := recover(); p != nil {
			u, err = nil, fmt.Errorf("unparseable: %v", p)
		}
	}()
	m, err := bgp.ParseBGPMessage(msg, opt)
	if err != nil {
		var me *bgp.MessageError
		if m == nil || !errors.As(err, &me) ||
			(me.ErrorHandling != bgp.ERROR_HANDLING_TREAT_AS_WITHDRAW && me.ErrorHandling != bgp.ERROR_HANDLING_ATTRIBUTE_DISCARD) {
			return nil, err
		}
	}
	u, ok := m.Body.(*bgp.BGPUpdate)
	if !ok {
		return nil, fmt.Errorf("not an UPDATE")
	}
	return u, nil
}

// bgp4mpLabel names a BGP4MP record as bgpdump -m does.
func bgp4mpLabel(et, local, addPath bool) string {
	s := "BGP4MP"
	if et {
		s += "_ET"
	}
	if local {
		s += "_LOCAL"
	}
	if addPath {
		s += "_AP"
	}
	return s
}

// mpOrder is the order in which bgpdump prints multiprotocol NLRI: IPv4
// unicast, multicast, both, then IPv6 the same.
func mpOrder(afi uint16, safi uint8) int {
	if (afi != bgp.AFI_IP && afi != bgp.AFI_IP6) || safi < 1 || safi > 3 {
		return -1
	}
	return int(afi-1)*3 + int(safi-1)
}

// updateRoutes emits an UPDATE's withdrawals, then its announcements, each
// in bgpdump's order.
func updateRoutes(r Route, u *bgp.BGPUpdate, as4 bool, fn func(Route) error) error {
	var reach [6]*bgp.PathAttributeMpReachNLRI
	var unreach [6]*bgp.PathAttributeMpUnreachNLRI
	for _, p := range u.PathAttributes {
		switch v := p.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			if i := mpOrder(v.AFI, v.SAFI); i >= 0 && reach[i] == nil {
				reach[i] = v
			}
		case *bgp.PathAttributeMpUnreachNLRI:
			if i := mpOrder(v.AFI, v.SAFI); i >= 0 && unreach[i] == nil {
				unreach[i] = v
			}
		}
	}
	w := r
	w.Kind = Withdraw
	withdraw := func(ns []bgp.PathNLRI) error {
		for _, n := range ns {
			p, ok := nlriPrefix(n.NLRI)
			if !ok {
				continue
			}
			w.Prefix, w.PathID = p, n.ID
			if err := emit(fn, w); err != nil {
				return err
			}
		}
		return nil
	}
	if err := withdraw(u.WithdrawnRoutes); err != nil {
		return err
	}
	for _, m := range unreach {
		if m != nil {
			if err := withdraw(m.Value); err != nil {
				return err
			}
		}
	}
	hasReach := slices.ContainsFunc(reach[:], func(m *bgp.PathAttributeMpReachNLRI) bool { return m != nil })
	if len(u.NLRI) == 0 && !hasReach {
		return nil
	}
	a := attrsOf(u.PathAttributes, as4)
	ann := r
	ann.Kind, ann.Attrs = Announce, a
	announce := func(ns []bgp.PathNLRI, nh netip.Addr) error {
		ann.NextHop = nh
		for _, n := range ns {
			p, ok := nlriPrefix(n.NLRI)
			if !ok {
				continue
			}
			ann.Prefix, ann.PathID = p, n.ID
			if err := emit(fn, ann); err != nil {
				return err
			}
		}
		return nil
	}
	if err := announce(u.NLRI, a.NextHop); err != nil {
		return err
	}
	for _, m := range reach {
		if m != nil {
			if err := announce(m.Value, m.Nexthop); err != nil {
				return err
			}
		}
	}
	return nil
}

// nlriPrefix returns the IP prefix of a unicast or multicast NLRI.
func nlriPrefix(n bgp.NLRI) (netip.Prefix, bool) {
	if p, ok := n.(*bgp.IPAddrPrefix); ok && p.Prefix.IsValid() {
		return p.Prefix, true
	}
	return netip.Prefix{}, false
}

// attrsOf gathers the path attributes darkwatch and bgpdump -m use. For a
// 2-byte-AS message (as4 false) it merges AS4_PATH and AS4_AGGREGATOR into
// AS_PATH and AGGREGATOR (RFC 6793), as bgpdump does.
func attrsOf(list []bgp.PathAttributeInterface, as4 bool) *Attrs {
	a := &Attrs{Origin: -1}
	var path []segment
	var as4Path []segment
	var hasAS4Path, hasAgg, hasAS4Agg bool
	var as4AggAS uint32
	var as4AggAddr netip.Addr
	for _, p := range list {
		switch v := p.(type) {
		case *bgp.PathAttributeOrigin:
			a.Origin = int(v.Value)
		case *bgp.PathAttributeAsPath:
			a.HasASPath = true
			for _, s := range v.Value {
				path = append(path, segment{typ: s.GetType(), as: s.GetAS()})
			}
		case *bgp.PathAttributeNextHop:
			a.NextHop = v.Value
		case *bgp.PathAttributeMultiExitDisc:
			a.MED, a.HasMED = v.Value, true
		case *bgp.PathAttributeLocalPref:
			a.LocalPref, a.HasLocalPref = v.Value, true
		case *bgp.PathAttributeAtomicAggregate:
			a.AtomicAggregate = true
		case *bgp.PathAttributeAggregator:
			hasAgg = true
			a.AggregatorAS, a.AggregatorAddr = v.Value.AS, v.Value.Address
		case *bgp.PathAttributeCommunities:
			a.Communities, a.HasCommunities = v.Value, true
		case *bgp.PathAttributeMpReachNLRI:
			a.HasMPReach, a.MPNextHop = true, v.Nexthop
		case *bgp.PathAttributeAs4Path:
			hasAS4Path = true
			for _, s := range v.Value {
				as4Path = append(as4Path, segment{typ: s.Type, as: s.AS})
			}
		case *bgp.PathAttributeAs4Aggregator:
			hasAS4Agg = true
			as4AggAS, as4AggAddr = v.Value.AS, v.Value.Address
		}
	}
	if !as4 {
		path = mergeAS4(path, as4Path, a, hasAS4Path, hasAgg, hasAS4Agg, as4AggAS, as4AggAddr)
	}
	if a.HasASPath {
		a.ASPath = formatASPath(path)
	}
	return a
}

// mergeAS4 reconstructs a 2-byte session's path (RFC 6793 4.2.3) the way
// bgpdump does: an AGGREGATOR that is not AS_TRANS keeps the path as it is;
// otherwise AS4_AGGREGATOR replaces it, and the AS4_PATH replaces as many
// ASes at the end of AS_PATH as it holds.
func mergeAS4(path, as4Path []segment, a *Attrs, hasAS4Path, hasAgg, hasAS4Agg bool, aggAS uint32, aggAddr netip.Addr) []segment {
	const asTrans = 23456
	if hasAgg && hasAS4Agg {
		if a.AggregatorAS != asTrans {
			return path
		}
		a.AggregatorAS, a.AggregatorAddr = aggAS, aggAddr
	}
	if !hasAS4Path || !a.HasASPath {
		return path
	}
	n, n4 := pathCount(path), pathCount(as4Path)
	if n < n4 {
		return path
	}
	var merged []segment
	count := 0
	for _, s := range path {
		if count >= n-n4 {
			break
		}
		s.as = slices.Clone(s.as)
		if s.typ == bgp.BGP_ASPATH_ATTR_TYPE_SET || s.typ == bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SET {
			count++
		} else {
			if count+len(s.as) > n-n4 {
				s.as = s.as[:n-n4-count]
			}
			count += len(s.as)
		}
		merged = append(merged, s)
	}
	return append(merged, as4Path...)
}

// segment is one AS_PATH segment.
type segment struct {
	typ uint8
	as  []uint32
}

// pathCount counts a path's length as RFC 4271 does: a set counts one.
func pathCount(p []segment) int {
	n := 0
	for _, s := range p {
		if s.typ == bgp.BGP_ASPATH_ATTR_TYPE_SET || s.typ == bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SET {
			n++
		} else {
			n += len(s.as)
		}
	}
	return n
}

// maxASPath is where bgpdump cuts a long AS path short with "...".
const maxASPath = 8000 - 100

// formatASPath writes a path as bgpdump does.
func formatASPath(p []segment) string {
	var b []byte
	space := false
	prev := uint8(bgp.BGP_ASPATH_ATTR_TYPE_SEQ)
	for _, s := range p {
		if prev != bgp.BGP_ASPATH_ATTR_TYPE_SEQ {
			b = append(b, delimiter(prev, false))
		}
		if space {
			b = append(b, ' ')
		}
		if s.typ != bgp.BGP_ASPATH_ATTR_TYPE_SEQ {
			b = append(b, delimiter(s.typ, true))
		}
		space = false
		for _, as := range s.as {
			if space {
				if s.typ == bgp.BGP_ASPATH_ATTR_TYPE_SET || s.typ == bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SET {
					b = append(b, ',')
				} else {
					b = append(b, ' ')
				}
			} else {
				space = true
			}
			b = appendUint(b, as)
			if len(b) > maxASPath {
				return string(append(b, "..."...))
			}
		}
		prev = s.typ
	}
	if len(p) > 0 && p[len(p)-1].typ != bgp.BGP_ASPATH_ATTR_TYPE_SEQ {
		b = append(b, delimiter(p[len(p)-1].typ, false))
	}
	return string(b)
}

// delimiter returns the character that opens or closes a segment type.
func delimiter(typ uint8, open bool) byte {
	var o, c byte = ' ', ' '
	switch typ {
	case bgp.BGP_ASPATH_ATTR_TYPE_SET:
		o, c = '{', '}'
	case bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SET:
		o, c = '[', ']'
	case bgp.BGP_ASPATH_ATTR_TYPE_CONFED_SEQ:
		o, c = '(', ')'
	}
	if open {
		return o
	}
	return c
}

// Files expands paths into the MRT files to read: a file is itself, a
// directory every regular file in it (not its subdirectories) in name
// order, and "-" standard input.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "-" {
			out = append(out, p)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("mrt: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("mrt: %w", err)
		}
		var names []string
		for _, e := range ents {
			if e.Type().IsRegular() && e.Name()[0] != '.' {
				names = append(names, filepath.Join(p, e.Name()))
			}
		}
		slices.Sort(names)
		out = append(out, names...)
	}
	return out, nil
}

// ReadFile calls fn with every route of one MRT file (plain, gzip or
// bzip2; "-" is standard input), as Reader.Each does.
func ReadFile(path string, fn func(Route) error) error {
	if path == "-" {
		rd, err := NewReader(os.Stdin, "standard input")
		if err != nil {
			return err
		}
		return rd.Each(fn)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("mrt: %w", err)
	}
	defer f.Close()
	rd, err := NewReader(f, path)
	if err != nil {
		return err
	}
	return rd.Each(fn)
}
