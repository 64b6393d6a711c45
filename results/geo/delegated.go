// Package geo holds darkwatch's view of where address space is registered:
// the RIR statistics exchange files (delegated and delegated-extended, as
// APNIC, ARIN, AFRINIC, LACNIC, RIPE NCC and the NRO publish them), read
// into delegations of IPv4 and IPv6 prefixes and AS numbers to countries.
//
// It knows the file format and nothing of stores, probes or configuration:
// Read hands each delegation to a function, and Import keeps a file's
// delegations in a DelegationStore.
package geo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// Resource types of a delegation.
const (
	TypeIPv4 = "ipv4"
	TypeIPv6 = "ipv6"
	TypeASN  = "asn"
)

// Header is a file's version line: format version, registry, serial,
// record count, the first and last dates of its records, and the
// registry's UTC offset, as the file gives them.
type Header struct {
	Version   string
	Registry  string
	Serial    string
	Records   int
	StartDate string
	EndDate   string
	UTCOffset string
}

// Delegation is one record of a file: a range of addresses or AS numbers
// that Registry delegated to an organisation in Country (ISO 3166 code,
// upper case; empty for available and reserved space) on Date.
type Delegation struct {
	Registry string
	Country  string
	Type     string // TypeIPv4, TypeIPv6 or TypeASN
	// Start is the first address or AS number, as written.
	Start string
	// Value is the record's value: an IPv4 address count, an IPv6 prefix
	// length, an AS number count.
	Value uint64
	// Prefixes are the CIDR prefixes the range of an ipv4 or ipv6 record
	// covers, in order (an IPv4 count need not be a power of two, nor its
	// start aligned); empty for asn records.
	Prefixes []netip.Prefix
	// FirstASN and ASNs are an asn record's range.
	FirstASN, ASNs uint32
	// Date is the delegation date as YYYY-MM-DD; empty when the file gives
	// none (00000000, or an empty field).
	Date string
	// Status is allocated, assigned, available or reserved.
	Status string
	// OpaqueID names the holder within the registry (extended files only).
	OpaqueID string
	// Line is the record's line in its file.
	Line int
}

// Delegated reports whether the record gives the space to someone: it is
// allocated or assigned, not available or reserved.
func (d *Delegation) Delegated() bool {
	return d.Status == "allocated" || d.Status == "assigned"
}

// SyntaxError is a bad line of a statistics file: the file, the line and
// the field.
type SyntaxError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error names the file, line and field, as FILE:LINE: FIELD: what.
func (e *SyntaxError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// maxLine is the longest line Read takes.
const maxLine = 64 << 10

// Read reads a statistics file from r (name is its name in errors) and
// calls fn with each delegation record, in file order, after the version
// line, which it returns. Comments (#), blank lines and summary lines are
// skipped. The first bad line stops it with a *SyntaxError naming
// FILE:LINE and the field; an error from fn stops it and is returned as it
// is.
func Read(r io.Reader, name string, fn func(Delegation) error) (Header, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var h Header
	seen := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		f := strings.Split(line, "|")
		if !seen {
			var err error
			if h, err = parseHeader(f, name, n); err != nil {
				return h, err
			}
			seen = true
			continue
		}
		if len(f) >= 6 && f[5] == "summary" {
			if err := checkSummary(f, name, n); err != nil {
				return h, err
			}
			continue
		}
		d, err := parseRecord(f, name, n)
		if err != nil {
			return h, err
		}
		if err := fn(d); err != nil {
			return h, err
		}
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("%s: %w", name, err)
	}
	if !seen {
		return h, &SyntaxError{File: name, Line: 1, Msg: "no version line (2|registry|serial|records|startdate|enddate|UTCoffset): not a statistics file"}
	}
	return h, nil
}

// parseHeader reads the version line.
func parseHeader(f []string, name string, n int) (Header, error) {
	bad := func(field, format string, a ...any) error {
		return &SyntaxError{File: name, Line: n, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(f) < 7 {
		return Header{}, bad("", "the first line that is no comment must be the version line, of 7 fields (version|registry|serial|records|startdate|enddate|UTCoffset); this one has %d",
			len(f))
	}
	if v, err := strconv.ParseFloat(f[0], 64); err != nil || v < 1 || v >= 3 {
		return Header{}, bad("version", "%q is not a version of the format (2, 2.3)", f[0])
	}
	if !isName(f[1]) {
		return Header{}, bad("registry", "%q is not a registry name", f[1])
	}
	records, err := strconv.Atoi(f[3])
	if err != nil || records < 0 {
		return Header{}, bad("records", "%q is not a count", f[3])
	}
	return Header{Version: f[0], Registry: f[1], Serial: f[2], Records: records, StartDate: f[4], EndDate: f[5], UTCOffset: f[6]}, nil
}

// checkSummary checks a summary line: registry|*|type|*|count|summary.
func checkSummary(f []string, name string, n int) error {
	if _, err := strconv.ParseUint(f[4], 10, 64); err != nil {
		return &SyntaxError{File: name, Line: n, Field: "count", Msg: fmt.Sprintf("%q is not a count", f[4])}
	}
	return nil
}

// parseRecord reads one record:
// registry|cc|type|start|value|date|status[|opaque-id[|extensions...]].
func parseRecord(f []string, name string, n int) (Delegation, error) {
	bad := func(field, format string, a ...any) error {
		return &SyntaxError{File: name, Line: n, Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if len(f) < 7 {
		return Delegation{}, bad("", "a record has at least 7 fields (registry|cc|type|start|value|date|status), this one %d", len(f))
	}
	d := Delegation{Registry: f[0], Country: strings.ToUpper(f[1]), Type: f[2], Start: f[3], Status: strings.ToLower(f[6]), Line: n}
	if len(f) > 7 {
		d.OpaqueID = f[7]
	}
	if !isName(d.Registry) {
		return d, bad("registry", "%q is not a registry name", f[0])
	}
	if d.Country != "" && !isCountry(d.Country) {
		return d, bad("cc", "%q is not a two-letter country code", f[1])
	}
	switch d.Status {
	case "allocated", "assigned", "available", "reserved":
	default:
		return d, bad("status", "%q is not one of allocated, assigned, available, reserved", f[6])
	}
	var err error
	if d.Date, err = parseDate(f[5]); err != nil {
		return d, bad("date", "%v", err)
	}
	value, err := strconv.ParseUint(f[4], 10, 64)
	if err != nil {
		return d, bad("value", "%q is not a number", f[4])
	}
	d.Value = value
	switch d.Type {
	case TypeIPv4:
		err = d.ipv4()
	case TypeIPv6:
		err = d.ipv6()
	case TypeASN:
		err = d.asn()
	default:
		return d, bad("type", "%q is not one of ipv4, ipv6, asn", f[2])
	}
	if err != nil {
		var fe fieldError
		if errors.As(err, &fe) {
			return d, bad(fe.field, "%s", fe.msg)
		}
		return d, bad("", "%v", err)
	}
	return d, nil
}

// fieldError is what is wrong with one field of a record.
type fieldError struct{ field, msg string }

func (e fieldError) Error() string { return e.field + ": " + e.msg }

// ipv4 reads an ipv4 record's start and address count into Prefixes.
func (d *Delegation) ipv4() error {
	a, err := netip.ParseAddr(d.Start)
	if err != nil || !a.Is4() {
		return fieldError{"start", fmt.Sprintf("%q is not an IPv4 address", d.Start)}
	}
	first := uint64(be32(a.As4()))
	if d.Value == 0 || first+d.Value > 1<<32 {
		return fieldError{"value", fmt.Sprintf("%d addresses from %s do not fit in the IPv4 space", d.Value, a)}
	}
	d.Prefixes = SplitIPv4(a, d.Value)
	return nil
}

// ipv6 reads an ipv6 record's start and prefix length into Prefixes.
func (d *Delegation) ipv6() error {
	a, err := netip.ParseAddr(d.Start)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return fieldError{"start", fmt.Sprintf("%q is not an IPv6 address", d.Start)}
	}
	if d.Value > 128 {
		return fieldError{"value", fmt.Sprintf("%d is not an IPv6 prefix length (0-128)", d.Value)}
	}
	p := netip.PrefixFrom(a, int(d.Value))
	if p.Masked().Addr() != a {
		return fieldError{"start", fmt.Sprintf("%s has bits set past /%d", a, d.Value)}
	}
	d.Prefixes = []netip.Prefix{p}
	return nil
}

// asn reads an asn record's first AS number and count.
func (d *Delegation) asn() error {
	first, err := strconv.ParseUint(d.Start, 10, 32)
	if err != nil {
		return fieldError{"start", fmt.Sprintf("%q is not an AS number", d.Start)}
	}
	if d.Value == 0 || first+d.Value > 1<<32 {
		return fieldError{"value", fmt.Sprintf("%d AS numbers from %d do not fit in 32 bits", d.Value, first)}
	}
	d.FirstASN, d.ASNs = uint32(first), uint32(d.Value)
	return nil
}

// SplitIPv4 returns the fewest CIDR prefixes that cover exactly the n
// addresses from first on, in order. n must be at least 1 and the range
// must end within the IPv4 space.
func SplitIPv4(first netip.Addr, n uint64) []netip.Prefix {
	var out []netip.Prefix
	a := uint64(be32(first.As4()))
	for n > 0 {
		// The largest aligned block at a that fits in what is left.
		k := min(bits.TrailingZeros64(a|1<<32), bits.Len64(n)-1)
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 32-k))
		a += 1 << k
		n -= 1 << k
	}
	return out
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// parseDate reads YYYYMMDD into YYYY-MM-DD; "" and 00000000 are no date.
func parseDate(s string) (string, error) {
	if s == "" || s == "00000000" {
		return "", nil
	}
	if len(s) != 8 || strings.Trim(s, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a date (YYYYMMDD)", s)
	}
	m, _ := strconv.Atoi(s[4:6])
	day, _ := strconv.Atoi(s[6:8])
	if m < 1 || m > 12 || day < 1 || day > 31 {
		return "", fmt.Errorf("%q is not a date (YYYYMMDD)", s)
	}
	return s[:4] + "-" + s[4:6] + "-" + s[6:], nil
}

// isName reports whether s may be a registry name: letters, digits, '-'
// and '.', at most 32 of them.
func isName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// isCountry reports whether s is two upper-case letters.
func isCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
