package schedule

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestBlocklistDefault(t *testing.T) {
	b := NewBlocklist(nil, nil)
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"10.1.2.3", true},
		{"172.31.255.255", true},
		{"192.168.0.1", true},
		{"127.0.0.1", true},
		{"169.254.1.1", true},
		{"100.64.0.1", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"192.0.2.1", true},
		{"198.51.100.7", true},
		{"203.0.113.200", true},
		{"::1", true},
		{"fe80::1", true},
		{"fd00::1", true},
		{"ff02::1", true},
		{"2001:db8::1", true},
		{"::ffff:10.0.0.1", true}, // mapped addresses are checked as IPv4
		{"175.45.176.15", false},
		{"198.20.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := b.Check(netip.MustParseAddr(tt.addr))
			if (err != nil) != tt.blocked {
				t.Fatalf("Check(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
			}
		})
	}
}

func TestBlocklistAllowAndExtra(t *testing.T) {
	b := NewBlocklist(
		[]netip.Prefix{netip.MustParsePrefix("175.45.176.0/24")},
		[]netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("10.9.0.0/16")},
	)
	for addr, blocked := range map[string]bool{
		"198.18.5.5":    false, // allowed benchmarking range
		"10.9.1.1":      false, // allowed part of private space
		"10.8.1.1":      true,  // the rest of 10/8 stays blocked
		"175.45.176.15": true,  // configured blocklist
		"175.45.177.15": false,
	} {
		if err := b.Check(netip.MustParseAddr(addr)); (err != nil) != blocked {
			t.Errorf("Check(%s) = %v, want blocked=%v", addr, err, blocked)
		}
	}
}

func TestBlockedErrorSaysHowToAllow(t *testing.T) {
	err := NewBlocklist(nil, nil).Check(netip.MustParseAddr("10.1.2.3"))
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("want *BlockedError, got %T %v", err, err)
	}
	for _, want := range []string{"10.1.2.3", "10.0.0.0/8", "private", "--allow 10.0.0.0/8"} {
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
	_, err = ParseBlocklistFile(strings.NewReader("10.0.0.0/8\nnot-an-address\n"), "bad.txt")
	if err == nil || !strings.Contains(err.Error(), "bad.txt:2") {
		t.Fatalf("want an error naming bad.txt:2, got %v", err)
	}
}
