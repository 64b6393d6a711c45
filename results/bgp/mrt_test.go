package bgp

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// plainMRT returns the decompressed bytes of a test data file.
func plainMRT(t testing.TB, name string) []byte {
	t.Helper()
	return gunzipFile(t, filepath.Join(mrtDir, name))
}

// gunzipFile returns the decompressed bytes of a gzip file.
func gunzipFile(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordStarts returns the offset of every MRT record in plain data.
func recordStarts(b []byte) []int {
	var out []int
	for off := 0; off+12 <= len(b); {
		out = append(out, off)
		off += 12 + int(binary.BigEndian.Uint32(b[off+8:]))
	}
	return out
}

// readAll reads MRT data and returns the bgpdump lines of what it read and
// its error.
func readAll(t testing.TB, data []byte, name string) (string, error) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(data), name)
	if err != nil {
		return "", err
	}
	var out []byte
	err = rd.Each(func(r Route) error {
		out = AppendDump(out, &r)
		return nil
	})
	return string(out), err
}

// TestTruncated cuts a real file at several offsets, into a temporary file,
// plain and gzip'd: the error names the file and the cut record's offset,
// and every route before it comes out as from the whole file.
func TestTruncated(t *testing.T) {
	whole := plainMRT(t, "updates.20020722.2238.gz")
	full, err := readAll(t, whole, "whole")
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(whole)
	if len(starts) < 100 {
		t.Fatalf("only %d records", len(starts))
	}
	dir := t.TempDir()
	tests := []struct {
		name   string
		record int // index of the record the cut falls in
		into   int // bytes of that record kept
	}{
		{"inside the first header", 0, 5},
		{"after the first header", 0, 12},
		{"in a record's body", 10, 30},
		{"one byte short", 57, -1},
		{"in the middle", len(starts) / 2, 20},
		{"last record", len(starts) - 1, 13},
	}
	for _, tt := range tests {
		for _, compress := range []bool{false, true} {
			name := tt.name
			if compress {
				name += ", gzip"
			}
			t.Run(name, func(t *testing.T) {
				off := starts[tt.record]
				cut := off + tt.into
				if tt.into < 0 {
					end := len(whole)
					if tt.record+1 < len(starts) {
						end = starts[tt.record+1]
					}
					cut = end - 1
				}
				data := whole[:cut]
				file := filepath.Join(dir, "cut.mrt")
				if compress {
					var buf bytes.Buffer
					zw := gzip.NewWriter(&buf)
					zw.Write(data)
					zw.Close()
					data = buf.Bytes()
					file += ".gz"
				}
				if err := os.WriteFile(file, data, 0o644); err != nil {
					t.Fatal(err)
				}
				var got []byte
				err := ReadFile(file, func(r Route) error {
					got = AppendDump(got, &r)
					return nil
				})
				var fe *FormatError
				if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) {
					t.Fatalf("error %v, want a *FormatError wrapping ErrTruncated", err)
				}
				if fe.File != file || fe.Offset != int64(off) {
					t.Errorf("error names %s at %d, want %s at %d", fe.File, fe.Offset, file, off)
				}
				for _, w := range []string{file, "byte " + itoa(off)} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("message %q does not name %q", err, w)
					}
				}
				before, _ := readAll(t, whole[:off], "before")
				if string(got) != before {
					t.Errorf("%d bytes of routes before the cut, want %d", len(got), len(before))
				}
				if !strings.HasPrefix(full, string(got)) {
					t.Error("the routes before the cut differ from the whole file's")
				}
			})
		}
	}
}

// TestTruncatedCompressed cuts the gzip'd file itself, as a download cut
// short leaves it: what was decompressed is delivered, then an error.
func TestTruncatedCompressed(t *testing.T) {
	path := filepath.Join(mrtDir, "updates.20160811.1600.gz")
	zdata, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, err := readAll(t, zdata, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, frac := range []int{10, 50, 90} {
		t.Run(itoa(frac)+"%", func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "cut.gz")
			os.WriteFile(file, zdata[:len(zdata)*frac/100], 0o644)
			var got []byte
			err := ReadFile(file, func(r Route) error {
				got = AppendDump(got, &r)
				return nil
			})
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) || fe.Compression != "gzip" {
				t.Fatalf("error %v, want a gzip *FormatError wrapping ErrTruncated", err)
			}
			if len(got) == 0 || !strings.HasPrefix(full, string(got)) {
				t.Errorf("%d bytes of routes, not a beginning of the whole file's %d", len(got), len(full))
			}
			if frac == 90 && len(got) < len(full)/2 {
				t.Errorf("only %d of %d bytes of routes from 90%% of the file", len(got), len(full))
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	whole := plainMRT(t, "updates.20160811.1600.gz")
	starts := recordStarts(whole)
	tests := []struct {
		name    string
		corrupt func(b []byte, off int)
		want    string
	}{
		{"huge length", func(b []byte, off int) { binary.BigEndian.PutUint32(b[off+8:], 1<<30) }, "record length"},
		{"bad marker", func(b []byte, off int) { b[off+12+16+4] = 0 }, "marker"},
		{"bad address family", func(b []byte, off int) { binary.BigEndian.PutUint16(b[off+12+10:], 9) }, "address family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(whole)
			off := starts[100]
			tt.corrupt(b, off)
			got, err := readAll(t, b, "x.mrt")
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset != int64(off) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one at byte %d about %s", err, off, tt.want)
			}
			before, _ := readAll(t, whole[:off], "before")
			if got != before {
				t.Error("the routes before the corrupt record differ")
			}
		})
	}
}

func TestCompressionByContent(t *testing.T) {
	// A bzip2 file named .gz and a gzip file named .bz2 are read all the
	// same: the first bytes decide.
	dir := t.TempDir()
	for _, name := range []string{"routeviews.route-views.jinx.updates.1427846400.bz2", "ris.rrc06.updates.1427846400.gz"} {
		src := filepath.Join(mrtDir, name)
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		swapped := filepath.Join(dir, strings.NewReplacer(".bz2", ".gz", ".gz", ".bz2").Replace(name))
		os.WriteFile(swapped, data, 0o644)
		var a, b []byte
		if err := ReadFile(src, func(r Route) error { a = AppendDump(a, &r); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := ReadFile(swapped, func(r Route) error { b = AppendDump(b, &r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: %d bytes of routes, renamed %d", name, len(a), len(b))
		}
	}
	// And plain.
	plain := plainMRT(t, "updates.long_withdrawal.gz")
	out, err := readAll(t, plain, "plain")
	if err != nil || strings.Count(out, "\n") != 4096 {
		t.Errorf("plain file: %d lines, %v; want 4096", strings.Count(out, "\n"), err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.gz", "a.bz2", ".hidden", "c"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	got, err := Files([]string{dir, filepath.Join(dir, "c")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.bz2", "b.gz", "c", "c"}
	if len(got) != len(want) {
		t.Fatalf("Files = %v", got)
	}
	for i := range want {
		if filepath.Base(got[i]) != want[i] {
			t.Errorf("Files[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := Files([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing file is no error")
	}
}

func TestReadStdin(t *testing.T) {
	path := filepath.Join(mrtDir, "updates.long_withdrawal.gz")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	files, err := Files([]string{"-"})
	if err != nil || len(files) != 1 || files[0] != "-" {
		t.Fatalf("Files(-) = %v, %v", files, err)
	}
	n := 0
	if err := ReadFile("-", func(Route) error { n++; return nil }); err != nil || n != 4096 {
		t.Errorf("standard input: %d routes, %v; want 4096", n, err)
	}
}

func TestCallbackErrorComesBack(t *testing.T) {
	plain := plainMRT(t, "updates.long_withdrawal.gz")
	rd, _ := NewReader(bytes.NewReader(plain), "x")
	mine := errors.New("enough")
	n := 0
	err := rd.Each(func(Route) error {
		if n++; n == 10 {
			return mine
		}
		return nil
	})
	if err != mine || n != 10 {
		t.Errorf("Each returned %v after %d routes, want the callback's error after 10", err, n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzParseMRT feeds arbitrary bytes to the MRT reader: it must never
// panic, and an error must be a *FormatError.
func FuzzParseMRT(f *testing.F) {
	for _, name := range []string{"updates.20020722.2238.gz", "updates.20160811.1600.gz", "bview.ipv4_unicast_add_path.gz",
		"bview.ipv6_unicast_add_path.gz", "updates.long_withdrawal.gz", "updates.nlri_mask_trailing_bits.gz"} {
		b := plainMRT(f, name)
		starts := recordStarts(b)
		// A few records of each file: a peer index table and RIB entries,
		// BGP4MP messages and state changes.
		end := len(b)
		if len(starts) > 4 {
			end = starts[4]
		}
		f.Add(b[:end])
	}
	// RIB entries with MP_REACH_NLRI written whole (as an UPDATE has it),
	// their NLRI cut to one prefix.
	f.Add(rewriteRIB(plainMRT(f, "bview.64k_stream_overflow.gz"), func(attrs []byte) []byte {
		return mapMPReach(attrs, func(v []byte) []byte { return append(v[:5+int(v[3])], 32, 0x20, 0x01, 0x0d, 0xb8) })
	}))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 17, 0, 4, 0, 0, 0, 3, 0, 0, 0}) // BGP4MP_ET shorter than its timestamp
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		err = rd.Each(func(r Route) error {
			_ = AppendDump(nil, &r)
			return nil
		})
		var fe *FormatError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %v is not a *FormatError", err)
		}
	})
}

// FuzzParseBGP4MP feeds arbitrary BGP4MP record bodies (with the subtype
// as a fuzzed value) to the BGP4MP parser, which decodes BGP UPDATEs.
func FuzzParseBGP4MP(f *testing.F) {
	b := plainMRT(f, "updates.20160811.1600.gz")
	for i, off := range recordStarts(b) {
		if i > 20 {
			break
		}
		n := binary.BigEndian.Uint32(b[off+8:])
		f.Add(binary.BigEndian.Uint16(b[off+6:]), b[off+12:off+12+int(n)])
	}
	b = plainMRT(f, "updates.20020722.2238.gz")
	for i, off := range recordStarts(b) {
		if i > 20 {
			break
		}
		n := binary.BigEndian.Uint32(b[off+8:])
		f.Add(binary.BigEndian.Uint16(b[off+6:]), b[off+12:off+12+int(n)])
	}
	// An UPDATE whose NLRI has bits past its length and ends in a prefix
	// cut short, and UPDATEs whose every prefix list ends so.
	b = plainMRT(f, "updates.nlri_mask_trailing_bits.gz")
	f.Add(binary.BigEndian.Uint16(b[6:]), b[12:])
	b = rewrite(plainMRT(f, "updates.20160811.1600.gz"), updateVariant(false, func(i int, msg []byte) []byte {
		return rewriteLists(msg, func(l []byte) []byte { return append(l, cutShort) })
	}))
	for i, off := range recordStarts(b) {
		if i > 10 {
			break
		}
		n := binary.BigEndian.Uint32(b[off+8:])
		f.Add(binary.BigEndian.Uint16(b[off+6:]), b[off+12:off+12+int(n)])
	}
	f.Fuzz(func(t *testing.T, subtype uint16, body []byte) {
		for _, typ := range []uint16{16, 17} {
			rec := make([]byte, 12, 12+len(body)+4)
			binary.BigEndian.PutUint16(rec[4:], typ)
			binary.BigEndian.PutUint16(rec[6:], subtype)
			n := len(body)
			if typ == 17 {
				rec = append(rec, 0, 0, 0, 7)
				n += 4
			}
			binary.BigEndian.PutUint32(rec[8:], uint32(n))
			rec = append(rec, body...)
			rd, _ := NewReader(bytes.NewReader(rec), "fuzz")
			err := rd.Each(func(r Route) error {
				_ = AppendDump(nil, &r)
				return nil
			})
			var fe *FormatError
			if err != nil && !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
		}
	})
}
