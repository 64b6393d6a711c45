package results

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestBlockOf(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"198.18.3.4", 0, "198.18.3.0/24"},
		{"198.18.3.4", 56, "198.18.3.0/24"},
		{"::ffff:198.18.3.4", 48, "198.18.3.0/24"},
		{"2001:db8:1:ff00::1", 0, "2001:db8:1::/48"},
		{"2001:db8:1:ff00::1", 48, "2001:db8:1::/48"},
		{"2001:db8:1:ff00::1", 56, "2001:db8:1:ff00::/56"},
		{"2001:db8:1:ff00::1%eth0", 64, "2001:db8:1:ff00::/64"},
		{"2001:db8:1:ff00::1", 129, "2001:db8:1::/48"},
	}
	for _, tt := range tests {
		if got := BlockOf(netip.MustParseAddr(tt.addr), tt.bits).String(); got != tt.want {
			t.Errorf("BlockOf(%s, %d) = %s, want %s", tt.addr, tt.bits, got, tt.want)
		}
	}
	if BlockOf(netip.Addr{}, 48).IsValid() {
		t.Error("BlockOf of the zero Addr is a valid prefix")
	}
}

// v6Records are n rounds of one vantage's probes of 16 hitlist addresses in
// each of two /56s of 2001:db8:1::/48; the second /56 is silent from round 3.
func v6Records(n int) []Record {
	start := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	var recs []Record
	for round := range n {
		at := start.Add(time.Duration(round) * time.Minute)
		for _, net := range []string{"2001:db8:1:0", "2001:db8:1:100"} {
			for host := 1; host <= 16; host++ {
				out := OutcomeReply
				if net == "2001:db8:1:100" && round >= 3 {
					out = OutcomeTimeout
				}
				recs = append(recs, Record{Time: at.Add(time.Second), Vantage: "vp1", Round: int64(round), Method: MethodICMP,
					Target: fmt.Sprintf("%s::%x", net, host), Outcome: out})
			}
		}
	}
	return recs
}

// TestAnalyzeIPv6Blocks: IPv6 addresses are judged in blocks of BlockBits6
// bits, /48 by default, which roll up to the set's AS through its hitlist
// blocks.
func TestAnalyzeIPv6Blocks(t *testing.T) {
	for _, tc := range []struct {
		bits int
		want map[string]string // block: verdict in round 5
	}{
		{0, map[string]string{"2001:db8:1::/48": VerdictReachable}},
		{56, map[string]string{"2001:db8:1::/56": VerdictReachable, "2001:db8:1:100::/56": VerdictOutage}},
	} {
		blocks := []netip.Prefix{BlockOf(netip.MustParseAddr("2001:db8:1::1"), tc.bits), BlockOf(netip.MustParseAddr("2001:db8:1:100::1"), tc.bits)}
		an := Analysis{Sets: []TargetSet{{Name: "v6", Blocks: blocks, ASN: 64500}}, Quorum: 1, Round: time.Minute, BlockBits6: tc.bits}
		vs, _ := an.Analyze(v6Records(6))
		n := 0
		for _, v := range vs {
			if v.Level == LevelBlock && v.Time.Equal(time.Date(2026, 11, 21, 22, 5, 0, 0, time.UTC)) {
				n++
				if want, ok := tc.want[v.Entity]; !ok || v.Verdict != want {
					t.Errorf("bits %d: block %s %s, want %q", tc.bits, v.Entity, v.Verdict, want)
				}
			}
		}
		if n != len(tc.want) {
			t.Errorf("bits %d: %d block verdicts in round 5, want %d", tc.bits, n, len(tc.want))
		}
		if got := verdictAt(vs, LevelASN, ASEntity(64500), 1); got != VerdictReachable {
			t.Errorf("bits %d: AS verdict %s, want the blocks rolled up to it, reachable", tc.bits, got)
		}
	}
}
