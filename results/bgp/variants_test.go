package bgp

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"darkwatch/probe/lab"
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

// addPathUpdate rewrites a BGP UPDATE (19-byte header included) with path
// identifiers in every NLRI: withdrawn routes, MP_REACH_NLRI,
// MP_UNREACH_NLRI and the announced NLRI.
func addPathUpdate(msg []byte, id uint32) []byte {
	body := msg[19:]
	wl := int(binary.BigEndian.Uint16(body))
	w := withPathIDs(body[2:2+wl], id)
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
			val = append(append([]byte(nil), val[:head]...), withPathIDs(val[head:], id)...)
		case 15: // MP_UNREACH_NLRI: AFI, SAFI, NLRI
			val = append(append([]byte(nil), val[:3]...), withPathIDs(val[3:], id)...)
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
	out = append(out, withPathIDs(nlri, id)...)
	binary.BigEndian.PutUint16(out[16:], uint16(len(out)))
	return out
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
		lab.Missing(t, "Debian's bgpdump is not installed (scripts/install-deps.sh installs it): nothing to compare with")
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
		"MESSAGE_ADDPATH": func(i int, typ, sub uint16, body []byte) (uint16, uint16, []byte, []byte, bool) {
			if sub != 1 && sub != 4 {
				return typ, sub, body, nil, true
			}
			hdr, msg := bgp4mpMessage(sub, body)
			if msg[18] == 2 {
				msg = addPathUpdate(msg, uint32(i%5+1))
			}
			sub = map[uint16]uint16{1: 8, 4: 9}[sub] // MESSAGE_ADDPATH, MESSAGE_AS4_ADDPATH
			return typ, sub, append(append([]byte(nil), hdr...), msg...), nil, true
		},
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
		lab.Missing(t, "Debian's bgpdump is not installed (scripts/install-deps.sh installs it): nothing to compare with")
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
