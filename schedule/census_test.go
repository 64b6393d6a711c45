package schedule

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"darkwatch/probe"
	"darkwatch/results/store"
)

// TestCensus: the passes find a block's ever-responsive addresses, stored
// under the method's own name; a census cut short is not stored, and one of
// nothing is a configuration error.
func TestCensus(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/dw.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	up := func(a netip.Addr) bool { return a.Is4() && a.As4()[2] == 1 && a.As4()[3] >= 1 && a.As4()[3] <= 20 }
	f := &fakeProber{up: up, swept: map[string][]netip.Addr{}}
	passes := 0
	c := &Census{Prober: f, Store: st, Method: Method{Name: "tcp", Port: 80}, Passes: 2,
		OnPass: func(int, probe.SweepStats, uint64) { passes++ }}
	out, err := c.Run(ctx, validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if passes != 2 || len(f.swept["tcp"]) != 2*1024 {
		t.Errorf("%d passes over %d addresses, want 2 over 2048", passes, len(f.swept["tcp"]))
	}
	var found bool
	for _, b := range out {
		if b.Prefix == netip.MustParsePrefix("198.18.1.0/24") {
			found = true
			if len(b.E) != 20 || b.A != 1 || b.Method != "tcp:80" || b.Censuses != 1 {
				t.Errorf("block %s: |E| %d, A %v, method %q, censuses %d; want 20, 1, tcp:80, 1", b.Prefix, len(b.E), b.A, b.Method, b.Censuses)
			}
		}
	}
	if !found {
		t.Errorf("198.18.1.0/24 not in the census: %+v", out)
	}

	cut, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Run(cut, validConfig()); !errors.Is(err, ErrInterrupted) {
		t.Errorf("a census cut short: %v, want ErrInterrupted", err)
	}
	none := validConfig()
	none.Targets = nil
	var ce *ConfigError
	if _, err := c.Run(ctx, none); !errors.As(err, &ce) || ce.Key != "targets" {
		t.Errorf("a census of nothing: %v, want a ConfigError for targets", err)
	}
}

func TestWriteCensus(t *testing.T) {
	blocks := []store.Block{{Prefix: netip.MustParsePrefix("198.18.0.0/24"), Vantage: "vp1", Method: "icmp",
		E: []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")}, A: 0.755, Sparse: true, Censuses: 3}}
	var b strings.Builder
	if err := WriteCensus(&b, blocks); err != nil {
		t.Fatal(err)
	}
	want := "BLOCK          VANTAGE  METHOD  |E|  A     SPARSE  CENSUSES\n" +
		"198.18.0.0/24  vp1      icmp    2    0.76  true    3\n"
	if b.String() != want {
		t.Errorf("table\n%s\nwant\n%s", b.String(), want)
	}
}

// TestCensusHitlist: a census over a hitlist finds E(b) per IPv6 block,
// /48 by default and as ipv6_block_bits says otherwise.
func TestCensusHitlist(t *testing.T) {
	ctx := t.Context()
	hl := writeHitlist(t, "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1:100::3", "2001:db8:2::1")
	up := func(a netip.Addr) bool { return a != netip.MustParseAddr("2001:db8:2::1") }
	for _, tc := range []struct {
		bits int
		want map[string]int // block: |E|
	}{
		{0, map[string]int{"2001:db8:1::/48": 3, "2001:db8:2::/48": 0}},
		{56, map[string]int{"2001:db8:1::/56": 2, "2001:db8:1:100::/56": 1, "2001:db8:2::/56": 0}},
	} {
		st, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/dw.db")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		cfg := validConfig()
		cfg.Targets = []TargetSet{{Name: "v6", Prefixes: []string{"2001:db8::/32"}, Hitlist: hl}}
		cfg.Allow = []string{"2001:db8::/32"}
		cfg.IPv6BlockBits = tc.bits
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		f := &fakeProber{up: up, swept: map[string][]netip.Addr{}}
		c := &Census{Prober: f, Store: st, Method: Method{Name: "icmp"}, Passes: 1}
		out, err := c.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.swept["icmp"]) != 4 {
			t.Errorf("ipv6_block_bits %d: swept %v, want the 4 hitlist addresses", tc.bits, f.swept["icmp"])
		}
		got := map[string]int{}
		for _, b := range out {
			got[b.Prefix.String()] = len(b.E)
		}
		for block, n := range tc.want {
			if e, ok := got[block]; n > 0 && (!ok || e != n) {
				t.Errorf("ipv6_block_bits %d: block %s |E| = %d (stored %v), want %d; census %v", tc.bits, block, e, ok, n, got)
			}
		}
	}
}
