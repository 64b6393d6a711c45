package bgp

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/internal/testenv"
)

// The test data has BGP4MP records of two kinds only (MESSAGE and
// MESSAGE_AS4). These tests rewrite real records into the other kinds RFC
// 6396 and RFC 8050 define — extended timestamps, locally sent messages,
// ADD-PATH — and compare darkwatch's lines with those of Debian's bgpdump
// on the same bytes.

// variant rewrites one MRT record (header and body); ok false drops it.
type variant func(i int, typ, sub uint16, body []byte) (newTyp, newSub uint16, newBody, micro []byte, ok bool)

func rewrite(plain []byte, v variant) []byte {
	var out []byte
	for i, off := range recordStarts(plain) {
		h := plain[off : off+12]
		n := int(binary.BigEndian.Uint32(h[8:]))
		typ, sub := binary.BigEndian.Uint16(h[4:]), binary.BigEndian.Uint16(h[6:])
		typ, sub, body, micro, ok := v(i, typ, sub, plain[off+12:off+12+n])
		if !ok {
			continue
		}
		rec := make([]byte, 12)
		copy(rec, h[:4])
		binary.BigEndian.PutUint16(rec[4:], typ)
		binary.BigEndian.PutUint16(rec[6:], sub)
		binary.BigEndian.PutUint32(rec[8:], uint32(len(micro)+len(body)))
		out = append(append(append(out, rec...), micro...), body...)
	}
	return out
}

// withPathIDs puts path identifier id before every prefix of an NLRI list.
func withPathIDs(nlri []byte, id uint32) []byte {
	var out []byte
	for len(nlri) > 0 {
		n := 1 + (int(nlri[0])+7)/8
		if n > len(nlri) {
			n = len(nlri)
		}
		out = binary.BigEndian.AppendUint32(out, id)
		out = append(out, nlri[:n]...)
		nlri = nlri[n:]
	}
	return out
}

// rewriteLists rewrites a BGP UPDATE (19-byte header included) with fn
// applied to every prefix list: withdrawn routes, the NLRI of MP_REACH_NLRI
// and MP_UNREACH_NLRI, and the announced NLRI. fn gets a copy.
func rewriteLists(msg []byte, fn func(list []byte) []byte) []byte {
	list := func(b []byte) []byte { return fn(bytes.Clone(b)) }
	body := msg[19:]
	wl := int(binary.BigEndian.Uint16(body))
	w := list(body[2 : 2+wl])
	rest := body[2+wl:]
	al := int(binary.BigEndian.Uint16(rest))
	attrs, nlri := rest[2:2+al], rest[2+al:]
	var na []byte
	for len(attrs) > 0 {
		flags, typ := attrs[0], attrs[1]
		l, hl := int(attrs[2]), 3
		if flags&0x10 != 0 {
			l, hl = int(binary.BigEndian.Uint16(attrs[2:])), 4
		}
		val := attrs[hl : hl+l]
		switch typ {
		case 14: // MP_REACH_NLRI: AFI, SAFI, next hop, reserved, NLRI
			head := 3 + 1 + int(val[3]) + 1
			val = append(append([]byte(nil), val[:head]...), list(val[head:])...)
		case 15: // MP_UNREACH_NLRI: AFI, SAFI, NLRI
			val = append(append([]byte(nil), val[:3]...), list(val[3:])...)
		}
		na = append(na, flags|0x10, typ)
		na = binary.BigEndian.AppendUint16(na, uint16(len(val)))
		na = append(na, val...)
		attrs = attrs[hl+l:]
	}
	out := append([]byte(nil), msg[:16]...)
	out = append(out, 0, 0, 2)
	out = binary.BigEndian.AppendUint16(out, uint16(len(w)))
	out = append(out, w...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(na)))
	out = append(out, na...)
	out = append(out, list(nlri)...)
	binary.BigEndian.PutUint16(out[16:], uint16(len(out)))
	return out
}

// addPathUpdate rewrites a BGP UPDATE with path identifier id in every
// prefix list.
func addPathUpdate(msg []byte, id uint32) []byte {
	return rewriteLists(msg, func(l []byte) []byte { return withPathIDs(l, id) })
}

// cutShort is a prefix whose bytes are missing: a /24 and nothing of its
// address, as a list ends when a dumper cuts it in a prefix.
const cutShort = 24

// updateVariant rewrites every BGP UPDATE of BGP4MP MESSAGE and MESSAGE_AS4
// records with fn, and with ADD-PATH into MESSAGE_ADDPATH and
// MESSAGE_AS4_ADDPATH (path identifiers fn must put in itself).
func updateVariant(addPath bool, fn func(i int, msg []byte) []byte) variant {
	return func(i int, typ, sub uint16, body []byte) (uint16, uint16, []byte, []byte, bool) {
		if sub != 1 && sub != 4 {
			return typ, sub, body, nil, true
		}
		hdr, msg := bgp4mpMessage(sub, body)
		if msg[18] == 2 {
			msg = fn(i, msg)
		}
		if addPath {
			sub = map[uint16]uint16{1: 8, 4: 9}[sub]
		}
		return typ, sub, append(append([]byte(nil), hdr...), msg...), nil, true
	}
}

// bgp4mpMessage splits a BGP4MP message record's body into its header and
// its BGP message.
func bgp4mpMessage(sub uint16, body []byte) (hdr, msg []byte) {
	asLen := 2
	if sub == 4 || sub == 7 || sub == 9 || sub == 11 {
		asLen = 4
	}
	alen := 4
	if binary.BigEndian.Uint16(body[2*asLen+2:]) == 2 {
		alen = 16
	}
	n := 2*asLen + 4 + 2*alen
	return body[:n], body[n:]
}

func TestDumpVariantsMatchBgpdump(t *testing.T) {
	bgpdump, err := exec.LookPath("bgpdump")
	if err != nil {
		testenv.Missing(t, "Debian's bgpdump is not installed (scripts/install-deps.sh installs it): nothing to compare with")
	}
	variants := map[string]variant{
		"BGP4MP_ET": func(i int, typ, sub uint16, body []byte) (uint16, uint16, []byte, []byte, bool) {
			micro := binary.BigEndian.AppendUint32(nil, uint32(i*7919%1000000))
			return 17, sub, body, micro, true
		},
		"MESSAGE_LOCAL": func(i int, typ, sub uint16, body []byte) (uint16, uint16, []byte, []byte, bool) {
			switch sub {
			case 1:
				sub = 6
			case 4:
				sub = 7
			}
			return typ, sub, body, nil, true
		},
		"MESSAGE_ADDPATH": updateVariant(true, func(i int, msg []byte) []byte {
			return addPathUpdate(msg, uint32(i%5+1))
		}),
		// Every prefix list ends in a prefix cut short: bgpdump drops it
		// and prints the prefixes before it.
		"truncated prefix": updateVariant(false, func(i int, msg []byte) []byte {
			return rewriteLists(msg, func(l []byte) []byte { return append(l, cutShort) })
		}),
		"MESSAGE_ADDPATH, truncated prefix": updateVariant(true, func(i int, msg []byte) []byte {
			id := uint32(i%5 + 1)
			return rewriteLists(msg, func(l []byte) []byte {
				return append(binary.BigEndian.AppendUint32(withPathIDs(l, id), id), cutShort)
			})
		}),
	}
	dir := t.TempDir()
	for _, file := range []string{"updates.20160811.1600.gz", "updates.20020722.2238.gz"} {
		plain := plainMRT(t, file)
		for name, v := range variants {
			t.Run(file+"/"+name, func(t *testing.T) {
				data := rewrite(plain, v)
				path := filepath.Join(dir, name+"-"+file+".mrt")
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				want, err := exec.Command(bgpdump, "-m", path).Output()
				if err != nil {
					t.Fatalf("bgpdump -m: %v", err)
				}
				got, err := readAll(t, data, path)
				if err != nil {
					t.Fatal(err)
				}
				wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
				if len(wl) < 1000 {
					t.Fatalf("bgpdump printed only %d lines", len(wl))
				}
				if len(gl) != len(wl) {
					t.Errorf("%d lines, bgpdump -m prints %d", len(gl), len(wl))
				}
				bad := 0
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						if bad++; bad <= 3 {
							t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d lines differ", bad, len(wl))
				}
			})
		}
	}
}

// tableDumpV1 makes TABLE_DUMP (version 1, 2-byte AS) records of the IPv4
// announcements of 2-byte BGP4MP UPDATEs: one record per prefix, with the
// UPDATE's attributes, as an old RIB dump holds them.
func tableDumpV1(plain []byte) []byte {
	var out []byte
	seq := 0
	for _, off := range recordStarts(plain) {
		h := plain[off : off+12]
		n := int(binary.BigEndian.Uint32(h[8:]))
		if binary.BigEndian.Uint16(h[4:]) != 16 || binary.BigEndian.Uint16(h[6:]) != 1 {
			continue
		}
		body := plain[off+12 : off+12+n]
		hdr, msg := bgp4mpMessage(1, body)
		if binary.BigEndian.Uint16(hdr[6:]) != 1 || msg[18] != 2 {
			continue // IPv4 sessions' UPDATEs only
		}
		peer, peerAS := hdr[8:12], hdr[0:2]
		u := msg[19:]
		wl := int(binary.BigEndian.Uint16(u))
		rest := u[2+wl:]
		al := int(binary.BigEndian.Uint16(rest))
		attrs, nlri := rest[2:2+al], rest[2+al:]
		for len(nlri) > 0 {
			bits := int(nlri[0])
			k := (bits + 7) / 8
			var prefix [4]byte
			copy(prefix[:], nlri[1:1+k])
			nlri = nlri[1+k:]
			rec := make([]byte, 0, 12+22+len(attrs))
			rec = append(rec, h[:4]...)
			rec = binary.BigEndian.AppendUint16(rec, 12) // TABLE_DUMP
			rec = binary.BigEndian.AppendUint16(rec, 1)  // AFI_IPv4
			rec = binary.BigEndian.AppendUint32(rec, uint32(22+len(attrs)))
			rec = binary.BigEndian.AppendUint16(rec, 0) // view
			rec = binary.BigEndian.AppendUint16(rec, uint16(seq))
			rec = append(rec, prefix[:]...)
			rec = append(rec, byte(bits), 1) // prefix length, status
			rec = append(rec, h[:4]...)      // originated
			rec = append(rec, peer...)
			rec = append(rec, peerAS...)
			rec = binary.BigEndian.AppendUint16(rec, uint16(len(attrs)))
			rec = append(rec, attrs...)
			out = append(out, rec...)
			seq++
		}
	}
	return out
}

func TestTableDumpV1MatchesBgpdump(t *testing.T) {
	bgpdump, err := exec.LookPath("bgpdump")
	if err != nil {
		testenv.Missing(t, "Debian's bgpdump is not installed (scripts/install-deps.sh installs it): nothing to compare with")
	}
	data := tableDumpV1(plainMRT(t, "updates.20020722.2238.gz"))
	path := filepath.Join(t.TempDir(), "table_dump_v1.mrt")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command(bgpdump, "-m", path).Output()
	if err != nil {
		t.Fatalf("bgpdump -m: %v", err)
	}
	got, err := readAll(t, data, path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(want), "\n") < 500 || !strings.HasPrefix(string(want), "TABLE_DUMP|") {
		t.Fatalf("bgpdump printed %d lines, beginning %.60q", strings.Count(string(want), "\n"), want)
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	bad := 0
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			if bad++; bad <= 3 {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
	}
	if bad > 0 || len(gl) != len(wl) {
		t.Errorf("%d of %d lines differ; %d lines, want %d", bad, len(wl), len(gl), len(wl))
	}
}

// rewriteRIB rewrites the path attributes of every entry of the unicast
// TABLE_DUMP_V2 RIB records of plain with fn, which gets a copy.
func rewriteRIB(plain []byte, fn func(attrs []byte) []byte) []byte {
	return rewrite(plain, func(i int, typ, sub uint16, body []byte) (uint16, uint16, []byte, []byte, bool) {
		if typ != 13 || (sub != 2 && sub != 4 && sub != 8 && sub != 10) {
			return typ, sub, body, nil, true
		}
		head := 6 // peer index, originated time
		if sub >= 8 {
			head = 10 // and path identifier
		}
		pos := 5 + (int(body[4])+7)/8
		count := int(binary.BigEndian.Uint16(body[pos:]))
		pos += 2
		out := append([]byte(nil), body[:pos]...)
		for range count {
			n := int(binary.BigEndian.Uint16(body[pos+head:]))
			attrs := fn(bytes.Clone(body[pos+head+2 : pos+head+2+n]))
			out = append(out, body[pos:pos+head]...)
			out = binary.BigEndian.AppendUint16(out, uint16(len(attrs)))
			out = append(out, attrs...)
			pos += head + 2 + n
		}
		return typ, sub, out, nil, true
	})
}

// mapMPReach rewrites the value of every MP_REACH_NLRI of attrs with fn.
func mapMPReach(attrs []byte, fn func(val []byte) []byte) []byte {
	var out []byte
	for len(attrs) > 0 {
		flags, typ := attrs[0], attrs[1]
		l, hl := int(attrs[2]), 3
		if flags&0x10 != 0 {
			l, hl = int(binary.BigEndian.Uint16(attrs[2:])), 4
		}
		val := attrs[hl : hl+l]
		if typ == 14 {
			val = fn(bytes.Clone(val))
		}
		out = append(out, flags|0x10, typ)
		out = binary.BigEndian.AppendUint16(out, uint16(len(val)))
		out = append(out, val...)
		attrs = attrs[hl+l:]
	}
	return out
}

// wholeMPReach is an MP_REACH_NLRI (extended length) in the form of an
// UPDATE: AFI, SAFI, next hop, reserved byte, NLRI.
func wholeMPReach(afi uint16, safi uint8, nextHop []byte, nlri ...byte) []byte {
	v := binary.BigEndian.AppendUint16(nil, afi)
	v = append(v, safi, byte(len(nextHop)))
	v = append(append(v, nextHop...), 0)
	v = append(v, nlri...)
	return append(binary.BigEndian.AppendUint16([]byte{0x90, 14}, uint16(len(v))), v...)
}

// TestRIBVariantsMatchBgpdump gives real RIB entries MP_REACH_NLRI of
// several families, in RFC 6396's abbreviated form (next hop only) and in
// the form of an UPDATE, which some dumpers write (as
// bview.64k_stream_overflow.gz has it), and compares darkwatch's lines with
// those of Debian's bgpdump.
func TestRIBVariantsMatchBgpdump(t *testing.T) {
	bgpdump, err := exec.LookPath("bgpdump")
	if err != nil {
		testenv.Missing(t, "Debian's bgpdump is not installed (scripts/install-deps.sh installs it): nothing to compare with")
	}
	ip := func(s string) []byte { return mustAddr(t, s).AsSlice() }
	tests := []struct {
		name, file string
		attrs      func(attrs []byte) []byte
	}{
		{"whole IPv6 unicast abbreviated", "bview.64k_stream_overflow.gz", func(attrs []byte) []byte {
			return mapMPReach(attrs, func(v []byte) []byte { return v[3 : 4+int(v[3])] })
		}},
		{"whole IPv6 multicast", "bview.64k_stream_overflow.gz", func(attrs []byte) []byte {
			return mapMPReach(attrs, func(v []byte) []byte { v[2] = 2; return v })
		}},
		{"whole IPv6 unicast with a link-local next hop", "bview.ipv6_unicast_add_path.gz", func(attrs []byte) []byte {
			nh := append(ip("2001:db8::1"), ip("fe80::1")...)
			return append(attrs, wholeMPReach(2, 1, nh, 32, 0x20, 0x01, 0x0d, 0xb8)...)
		}},
		{"whole IPv4 unicast", "bview.ipv4_unicast_add_path.gz", func(attrs []byte) []byte {
			return append(attrs, wholeMPReach(1, 1, ip("192.0.2.1"), 24, 192, 0, 2)...)
		}},
		{"whole IPv4 multicast", "bview.ipv4_unicast_add_path.gz", func(attrs []byte) []byte {
			return append(attrs, wholeMPReach(1, 2, ip("192.0.2.1"), 24, 192, 0, 2)...)
		}},
		{"whole IPv4 unicast in an IPv6 RIB", "bview.ipv6_unicast_add_path.gz", func(attrs []byte) []byte {
			return append(attrs, wholeMPReach(1, 1, ip("192.0.2.1"), 24, 192, 0, 2)...)
		}},
		{"whole IPv4 unicast, IPv6 next hop", "bview.ipv4_unicast_add_path.gz", func(attrs []byte) []byte {
			return append(attrs, wholeMPReach(1, 1, ip("2001:db8::3"), 24, 192, 0, 2)...)
		}},
		{"abbreviated IPv4", "bview.ipv4_unicast_add_path.gz", func(attrs []byte) []byte {
			return append(attrs, 0x80, 14, 5, 4, 192, 0, 2, 9)
		}},
		{"abbreviated IPv6", "bview.ipv6_unicast_add_path.gz", func(attrs []byte) []byte {
			nh := ip("2001:db8::2")
			return append(attrs, append([]byte{0x80, 14, byte(1 + len(nh)), byte(len(nh))}, nh...)...)
		}},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := rewriteRIB(plainMRT(t, tt.file), tt.attrs)
			path := filepath.Join(dir, itoa(i)+".mrt")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := exec.Command(bgpdump, "-m", path).Output()
			if err != nil {
				t.Fatalf("bgpdump -m: %v", err)
			}
			got, err := readAll(t, data, path)
			if err != nil {
				t.Fatal(err)
			}
			wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
			if len(wl) < 20 {
				t.Fatalf("bgpdump printed only %d lines", len(wl))
			}
			bad := 0
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					if bad++; bad <= 3 {
						t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
			}
			if bad > 0 || len(gl) != len(wl) {
				t.Errorf("%d of %d lines differ; %d lines, want %d", bad, len(wl), len(gl), len(wl))
			}
		})
	}
}
