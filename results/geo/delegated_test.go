package geo

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// readAll reads a file of testdata with Read.
func readAll(t *testing.T, path string) (Header, []Delegation) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds []Delegation
	h, err := Read(f, path, func(d Delegation) error {
		ds = append(ds, d)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return h, ds
}

func TestReadRealFiles(t *testing.T) {
	tests := []struct {
		file                 string
		header               Header
		records, v4, v6, asn int
		// want is one record, by its line, and the prefixes it covers.
		line int
		want Delegation
	}{
		{file: "../../testdata/geo/delegated-apnic-20110113.txt",
			header:  Header{Version: "2.3", Registry: "apnic", Serial: "20110113", Records: 23486, StartDate: "19850701", EndDate: "20110112", UTCOffset: "+1000"},
			records: 11, v4: 5, v6: 4, asn: 2, line: 11,
			want: Delegation{Registry: "apnic", Country: "KP", Type: TypeIPv4, Start: "175.45.176.0", Value: 1024,
				Prefixes: []netip.Prefix{netip.MustParsePrefix("175.45.176.0/22")}, Date: "2010-01-22", Status: "assigned", Line: 11}},
		{file: "../../testdata/geo/delegated-apnic-extended-20190909.txt",
			header:  Header{Version: "2.3", Registry: "apnic", Serial: "20190909", Records: 300, EndDate: "20190906", UTCOffset: "+1000"},
			records: 39, v4: 20, v6: 10, asn: 9, line: 9,
			want: Delegation{Registry: "apnic", Country: "JP", Type: TypeASN, Start: "2497", Value: 32, FirstASN: 2497, ASNs: 32,
				Date: "2002-04-05", Status: "allocated", OpaqueID: "A91A7381", Line: 9}},
		{file: "../../testdata/geo/delegated-apnic-extended-20190909.txt",
			header:  Header{Version: "2.3", Registry: "apnic", Serial: "20190909", Records: 300, EndDate: "20190906", UTCOffset: "+1000"},
			records: 39, v4: 20, v6: 10, asn: 9, line: 37,
			want: Delegation{Registry: "apnic", Type: TypeIPv6, Start: "2001:202::", Value: 31,
				Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:202::/31")}, Status: "available", Line: 37}},
	}
	for _, tt := range tests {
		t.Run(tt.file[strings.LastIndexByte(tt.file, '/')+1:], func(t *testing.T) {
			h, ds := readAll(t, tt.file)
			if h != tt.header {
				t.Errorf("header %+v, want %+v", h, tt.header)
			}
			count := map[string]int{}
			for _, d := range ds {
				count[d.Type]++
			}
			if len(ds) != tt.records || count[TypeIPv4] != tt.v4 || count[TypeIPv6] != tt.v6 || count[TypeASN] != tt.asn {
				t.Errorf("%d records (%v), want %d: %d ipv4, %d ipv6, %d asn", len(ds), count, tt.records, tt.v4, tt.v6, tt.asn)
			}
			i := slices.IndexFunc(ds, func(d Delegation) bool { return d.Line == tt.line })
			if i < 0 {
				t.Fatalf("no record on line %d", tt.line)
			}
			if got := ds[i]; !sameDelegation(got, tt.want) {
				t.Errorf("line %d:\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func sameDelegation(a, b Delegation) bool {
	return slices.Equal(a.Prefixes, b.Prefixes) && a.Registry == b.Registry && a.Country == b.Country && a.Type == b.Type &&
		a.Start == b.Start && a.Value == b.Value && a.FirstASN == b.FirstASN && a.ASNs == b.ASNs && a.Date == b.Date &&
		a.Status == b.Status && a.OpaqueID == b.OpaqueID && a.Line == b.Line
}

func TestSplitIPv4(t *testing.T) {
	tests := []struct {
		start string
		n     uint64
		want  string
	}{
		{"175.45.176.0", 1024, "175.45.176.0/22"},
		{"192.0.2.0", 256, "192.0.2.0/24"},
		{"198.18.0.0", 768, "198.18.0.0/23 198.18.2.0/24"},
		{"198.18.1.0", 768, "198.18.1.0/24 198.18.2.0/23"},
		{"198.51.100.0", 1536, "198.51.100.0/22 198.51.104.0/23"},
		{"203.0.113.5", 3, "203.0.113.5/32 203.0.113.6/31"},
		{"0.0.0.0", 1 << 32, "0.0.0.0/0"},
		{"255.255.255.255", 1, "255.255.255.255/32"},
		{"128.0.0.0", 1 << 31, "128.0.0.0/1"},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			var got []string
			var total uint64
			for _, p := range SplitIPv4(netip.MustParseAddr(tt.start), tt.n) {
				got = append(got, p.String())
				total += 1 << (32 - p.Bits())
				if p.Masked() != p {
					t.Errorf("%v is not aligned", p)
				}
			}
			if strings.Join(got, " ") != tt.want || total != tt.n {
				t.Errorf("SplitIPv4(%s, %d) = %v (%d addresses), want %s", tt.start, tt.n, got, total, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	const head = "2|apnic|20141221|3|19830613|20141219|+1000\napnic|*|ipv4|*|1|summary\n"
	tests := []struct {
		name, in, want string
	}{
		{"no header", "# only a comment\n\n", "x.txt:1: no version line"},
		{"record first", "apnic|KP|ipv4|175.45.176.0|1024|20100122|assigned\n", "x.txt:1: version: \"apnic\" is not a version"},
		{"bad version", "v2|apnic|1|1|1|1|+1000\n", "x.txt:1: version: \"v2\" is not a version"},
		{"bad records", "2|apnic|1|many|1|1|+1000\n", "x.txt:1: records: \"many\" is not a count"},
		{"bad summary", head + "apnic|*|ipv6|*|lots|summary\n", "x.txt:3: count: \"lots\""},
		{"short record", head + "apnic|KP|ipv4|175.45.176.0|1024|20100122\n", "x.txt:3: a record has at least 7 fields"},
		{"bad cc", head + "apnic|Korea|ipv4|175.45.176.0|1024|20100122|assigned\n", "x.txt:3: cc: \"Korea\" is not a two-letter country code"},
		{"bad type", head + "apnic|KP|ipv5|175.45.176.0|1024|20100122|assigned\n", "x.txt:3: type: \"ipv5\""},
		{"bad start", head + "apnic|KP|ipv4|175.45.176|1024|20100122|assigned\n", "x.txt:3: start: \"175.45.176\" is not an IPv4 address"},
		{"v6 start in v4", head + "apnic|KP|ipv4|2001:db8::|1024|20100122|assigned\n", "x.txt:3: start: \"2001:db8::\" is not an IPv4 address"},
		{"bad value", head + "apnic|KP|ipv4|175.45.176.0|1k|20100122|assigned\n", "x.txt:3: value: \"1k\" is not a number"},
		{"zero count", head + "apnic|KP|ipv4|175.45.176.0|0|20100122|assigned\n", "x.txt:3: value: 0 addresses"},
		{"past the space", head + "apnic|KP|ipv4|255.255.255.0|512|20100122|assigned\n", "x.txt:3: value: 512 addresses from 255.255.255.0"},
		{"v6 length", head + "apnic|JP|ipv6|2001:db8::|129|19990813|allocated\n", "x.txt:3: value: 129 is not an IPv6 prefix length"},
		{"v6 host bits", head + "apnic|JP|ipv6|2001:db8::1|32|19990813|allocated\n", "x.txt:3: start: 2001:db8::1 has bits set past /32"},
		{"asn start", head + "apnic|JP|asn|AS173|1|20020801|allocated\n", "x.txt:3: start: \"AS173\" is not an AS number"},
		{"asn range", head + "apnic|JP|asn|4294967295|2|20020801|allocated\n", "x.txt:3: value: 2 AS numbers"},
		{"bad date", head + "apnic|KP|ipv4|175.45.176.0|1024|2010-01-22|assigned\n", "x.txt:3: date: \"2010-01-22\" is not a date"},
		{"bad month", head + "apnic|KP|ipv4|175.45.176.0|1024|20101322|assigned\n", "x.txt:3: date: \"20101322\" is not a date"},
		{"bad status", head + "apnic|KP|ipv4|175.45.176.0|1024|20100122|stolen\n", "x.txt:3: status: \"stolen\" is not one of"},
		{"bad registry", head + "ap nic|KP|ipv4|175.45.176.0|1024|20100122|assigned\n", "x.txt:3: registry: \"ap nic\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in), "x.txt", func(Delegation) error { return nil })
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *SyntaxError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadStopsOnCallback(t *testing.T) {
	in := "2|apnic|1|2|1|1|+1000\napnic|KP|ipv4|175.45.176.0|1024|20100122|assigned\napnic|KP|asn|131279|1|20100122|assigned\n"
	stop := errors.New("enough")
	n := 0
	_, err := Read(strings.NewReader(in), "x", func(Delegation) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("error %v after %d records, want %v after 1", err, n, stop)
	}
}

// FuzzRead feeds Read arbitrary files: it must not panic, and every
// delegation it gives must be whole: an address range's prefixes
// aligned, of its family, and covering exactly its count.
func FuzzRead(f *testing.F) {
	for _, file := range []string{"../../testdata/geo/delegated-apnic-20110113.txt", "../../testdata/geo/delegated-apnic-extended-20190909.txt"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("2|x|1|1|1|1|+0\nx|KP|ipv4|1.2.3.4|3|00000000|reserved|\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Read(strings.NewReader(string(b)), "fuzz", func(d Delegation) error {
			switch d.Type {
			case TypeIPv4:
				var n uint64
				for _, p := range d.Prefixes {
					if !p.Addr().Is4() || p.Masked() != p {
						t.Fatalf("line %d: prefix %v", d.Line, p)
					}
					n += 1 << (32 - p.Bits())
				}
				if n != d.Value {
					t.Fatalf("line %d: prefixes %v cover %d addresses, not %d", d.Line, d.Prefixes, n, d.Value)
				}
			case TypeIPv6:
				if len(d.Prefixes) != 1 || d.Prefixes[0].Masked() != d.Prefixes[0] {
					t.Fatalf("line %d: prefixes %v", d.Line, d.Prefixes)
				}
			case TypeASN:
				if d.ASNs == 0 || uint64(d.FirstASN)+uint64(d.ASNs) > 1<<32 {
					t.Fatalf("line %d: ASNs %d+%d", d.Line, d.FirstASN, d.ASNs)
				}
			default:
				t.Fatalf("line %d: type %q", d.Line, d.Type)
			}
			return nil
		})
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %v is no *SyntaxError", err)
		}
	})
}
