package bgp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)
	peer, p := mustAddr(t, "198.51.100.9"), mustPrefix(t, "198.18.0.0/24")
	// Two of three full-feed peers see p, until one withdraws it.
	routes := []Route{
		{Time: t0, Kind: Announce, Peer: peer, PeerAS: 64500, Prefix: p},
		{Time: t0, Kind: Announce, Peer: mustAddr(t, "198.51.100.10"), PeerAS: 64502, Prefix: p},
		{Time: t0, Kind: Announce, Peer: mustAddr(t, "198.51.100.11"), PeerAS: 64503, Prefix: mustPrefix(t, "198.19.0.0/24")},
		{Time: t0.Add(10 * time.Minute), Kind: Withdraw, Peer: peer, PeerAS: 64500, Prefix: p},
	}
	vis := Timeline(routes, p, time.Time{}, time.Time{}, 5*time.Minute, Config{})
	want := []State{Announced, Announced, Withdrawn}
	if len(vis) != len(want) {
		t.Fatalf("%d bins, want %d: %+v", len(vis), len(want), vis)
	}
	for i, v := range vis {
		if v.State != want[i] || !v.Time.Equal(t0.Add(time.Duration(i)*5*time.Minute)) {
			t.Errorf("bin %d: %v at %v, want %v", i, v.State, v.Time, want[i])
		}
	}
	if vis := Timeline(routes, p, t0.Add(5*time.Minute), t0.Add(5*time.Minute), time.Minute, Config{}); len(vis) != 1 || vis[0].State != Announced {
		t.Errorf("one bin: %+v", vis)
	}

	var out strings.Builder
	if err := WriteTimeline(&out, vis, true); err != nil {
		t.Fatal(err)
	}
	var line visibilityLine
	first, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil || line.ControlPlane != "announced" || line.Prefix != "198.18.0.0/24" || line.Peers != 2 || line.FullFeedPeers != 3 {
		t.Errorf("JSON %q: %+v, %v", out.String(), line, err)
	}
	out.Reset()
	if err := WriteTimeline(&out, vis[:1], false); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "announced") {
		t.Errorf("table %q", out.String())
	}
}
