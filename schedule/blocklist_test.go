package schedule

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// rangeOf returns the first range of DefaultBlocked whose reason says why.
// The tests take addresses from the table rather than write them out, so
// that they name no address outside the lab's ranges.
func rangeOf(t *testing.T, why string) netip.Prefix {
	t.Helper()
	for _, r := range DefaultBlocked {
		if strings.Contains(r.Why, why) {
			return netip.MustParsePrefix(r.Prefix)
		}
	}
	t.Fatalf("DefaultBlocked has no range that is %s", why)
	return netip.Prefix{}
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().AsSlice()
	for i := range a {
		bits := p.Bits() - 8*i
		switch {
		case bits <= 0:
			a[i] = 0xff
		case bits < 8:
			a[i] |= 0xff >> bits
		}
	}
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

func TestBlocklistDefault(t *testing.T) {
	// What must be there, by the reason the table gives.
	for why, n := range map[string]int{"private (RFC 1918)": 3, "loopback": 2, "link-local": 2, "shared address space": 1,
		"multicast": 2, "unique local": 1, "benchmarking": 1, "documentation": 5, "limited broadcast": 1} {
		got := 0
		for _, r := range DefaultBlocked {
			if strings.Contains(r.Why, why) {
				got++
			}
		}
		if got != n {
			t.Errorf("DefaultBlocked has %d ranges that are %s, want %d", got, why, n)
		}
	}
	b := NewBlocklist(nil, nil)
	for _, r := range DefaultBlocked {
		p := netip.MustParsePrefix(r.Prefix)
		for _, a := range []netip.Addr{p.Addr(), lastAddr(p)} {
			if err := b.Check(a); err == nil {
				t.Errorf("Check(%s) of %s (%s) is nil", a, p, r.Why)
			}
		}
	}
	// Mapped addresses are checked as IPv4.
	private := rangeOf(t, "private (RFC 1918)")
	if err := b.Check(netip.AddrFrom16(private.Addr().Next().As16())); err == nil {
		t.Errorf("the IPv4-mapped form of %s is not blocked", private.Addr().Next())
	}
	// Around the benchmarking range: blocked inside, not past its end.
	bench := rangeOf(t, "benchmarking")
	for a, blocked := range map[netip.Addr]bool{lastAddr(bench): true, lastAddr(bench).Next(): false, bench.Addr().Prev(): false} {
		if err := b.Check(a); (err != nil) != blocked {
			t.Errorf("Check(%s) = %v, want blocked=%v", a, err, blocked)
		}
	}
}

func TestBlocklistAllowAndExtra(t *testing.T) {
	// Allow the first /16 of a private range and the benchmarking range;
	// block one more /24.
	private := rangeOf(t, "private (RFC 1918)")
	allowed := netip.PrefixFrom(private.Addr(), 16)
	rest := lastAddr(allowed).Next()
	b := NewBlocklist(
		[]netip.Prefix{netip.MustParsePrefix("175.45.176.0/24")},
		[]netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), allowed},
	)
	for addr, blocked := range map[netip.Addr]bool{
		netip.MustParseAddr("198.18.5.5"):    false, // allowed benchmarking range
		allowed.Addr().Next():                false, // allowed part of private space
		rest:                                 true,  // the rest of it stays blocked
		netip.MustParseAddr("175.45.176.15"): true,  // configured blocklist
		netip.MustParseAddr("175.45.177.15"): false,
	} {
		if err := b.Check(addr); (err != nil) != blocked {
			t.Errorf("Check(%s) = %v, want blocked=%v", addr, err, blocked)
		}
	}
}

func TestBlockedErrorSaysHowToAllow(t *testing.T) {
	private := rangeOf(t, "private (RFC 1918)")
	addr := private.Addr().Next()
	err := NewBlocklist(nil, nil).Check(addr)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want *BlockedError, got %T %v", err, err)
	}
	for _, want := range []string{addr.String(), private.String(), "private", "--allow " + private.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParseBlocklistFile(t *testing.T) {
	in := "# opt-outs\n175.45.176.0/24\n\n  203.0.113.7  # one host\n2001:db8::/48\n"
	got, err := ParseBlocklistFile(strings.NewReader(in), "opt-out.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"175.45.176.0/24", "203.0.113.7/32", "2001:db8::/48"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("line %d: got %s, want %s", i, got[i], want[i])
		}
	}
	_, err = ParseBlocklistFile(strings.NewReader("198.18.0.0/15\nnot-an-address\n"), "bad.txt")
	if err == nil || !strings.Contains(err.Error(), "bad.txt:2") {
		t.Fatalf("want an error naming bad.txt:2, got %v", err)
	}
}

// An address is blocked whatever its spelling: with an IPv6 zone, IPv4-mapped,
// or translated into NAT64's well-known prefix.
func TestBlocklistSpellings(t *testing.T) {
	b := NewBlocklist(nil, nil)
	private := rangeOf(t, "private (RFC 1918)").Addr().Next()
	for _, s := range []string{
		"::1%lo", "::1%nonexistent", "fd00::1%x", "2001:db8::1%x", "fe80::1%eth0",
		"64:ff9b::" + private.String(), // NAT64 of a private address
		"64:ff9b::198.18.1.1",          // NAT64 of a benchmarking address
		"::" + private.String(),        // IPv4-compatible
		"3fff::1", "5f00::1", "fec0::1", "100::1",
	} {
		if err := b.Check(netip.MustParseAddr(s)); err == nil {
			t.Errorf("Check(%s) is nil, want blocked", s)
		}
	}
	// The lab's allowance reaches its NAT64 form too, but nothing else.
	lab := NewBlocklist(nil, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")})
	if err := lab.Check(netip.MustParseAddr("64:ff9b::198.18.1.1")); err != nil {
		t.Errorf("NAT64 of an allowed address: %v", err)
	}
	if err := lab.Check(netip.MustParseAddr("64:ff9b::" + private.String())); err == nil {
		t.Error("NAT64 of a private address is not blocked beside an unrelated allow")
	}
}

// The operator's blocklist (opt-outs) always wins: --allow exempts only the
// default ranges.
func TestBlocklistOperatorWinsOverAllow(t *testing.T) {
	optOut := netip.MustParsePrefix("198.18.7.0/24")
	b := NewBlocklist([]netip.Prefix{optOut}, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), optOut})
	err := b.Check(netip.MustParseAddr("198.18.7.9"))
	var be *BlockedError
	if !errors.As(err, &be) || !be.Operator || !strings.Contains(err.Error(), "does not override") {
		t.Fatalf("Check of an opted-out address allowed twice over: %v", err)
	}
	if err := b.Check(netip.MustParseAddr("198.18.8.9")); err != nil {
		t.Errorf("allowed address next to the opt-out: %v", err)
	}
	s, err := NewSpace([]netip.Prefix{netip.MustParsePrefix("198.18.4.0/22")}, b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != 768 || s.Blocked() != 256 {
		t.Errorf("space of 198.18.4.0/22 less the opt-out: %d addresses, %d blocked; want 768 and 256", s.Size(), s.Blocked())
	}
	nat, err := NewSpace([]netip.Prefix{netip.MustParsePrefix("64:ff9b::198.18.7.0/120")}, b)
	if err != nil {
		t.Fatal(err)
	}
	if nat.Size() != 0 {
		t.Errorf("NAT64 image of the opt-out: %d addresses left, want 0", nat.Size())
	}
}
