package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"darkwatch/internal/testenv"
	"darkwatch/probe/lab"
	"darkwatch/results/bgp"
	"darkwatch/results/store"
)

// TestLabBGPCollector runs `darkwatch bgp collect` in the lab's collector
// namespace against BIRD in the border: BIRD's five announcements (four
// /24s and their /16) are stored; a withdrawal is stored within seconds and
// makes the /24 withdrawn under its still-announced /16; restored, it is
// announced again.
func TestLabBGPCollector(t *testing.T) {
	l := lab.StartN(t, 1)
	bin := lab.Binary(t)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "bgp.db")
	cfg := filepath.Join(dir, "bgp.yaml")
	conf := fmt.Sprintf("bgp: {local_asn: %d, listen: \"%s:179\", peers: [{addr: %s, asn: %d}], full_feed: {ipv4: 0, ipv6: 0}}\n",
		lab.CollectorASN, lab.Collector4, lab.BorderBGP4, lab.BorderASN)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	cctx, stop := context.WithCancel(ctx)
	cmd := l.Command(cctx, "col", bin, "--config", cfg, "--store", db, "bgp", "collect")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	var stdout, stderr testenv.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop()
		cmd.Wait()
		if t.Failed() {
			t.Logf("collector stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}()

	peer := netip.MustParseAddr(lab.BorderBGP4)
	var want []netip.Prefix
	for _, s := range lab.BGPPrefixes {
		want = append(want, netip.MustParsePrefix(s))
	}
	// view replays the store's routes and returns each wanted prefix's
	// visibility now.
	view := func() map[netip.Prefix]bgp.Visibility {
		t.Helper()
		var routes []bgp.Route
		if err := st.EachRoute(ctx, store.RouteQuery{}, func(r bgp.Route) error {
			if r.Peer == peer && r.PeerAS == lab.BorderASN {
				routes = append(routes, r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		vis := bgp.ControlPlane(routes, []time.Time{now}, want, bgp.Config{})
		out := map[netip.Prefix]bgp.Visibility{}
		for p, v := range vis {
			out[p] = v[0]
		}
		return out
	}
	waitFor := func(what string, limit time.Duration, ok func(map[netip.Prefix]bgp.Visibility) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			v := view()
			if ok(v) {
				return time.Since(start)
			}
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v; visibility now %v", what, limit, v)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	allAnnounced := func(v map[netip.Prefix]bgp.Visibility) bool {
		for _, p := range want {
			if v[p].State != bgp.Announced {
				return false
			}
		}
		return true
	}

	d := waitFor("BIRD's five announcements stored", 45*time.Second, allAnnounced)
	t.Logf("session up and %d prefixes stored %v after the collector started", len(want), d.Round(time.Millisecond))
	var announced []string
	if err := st.EachRoute(ctx, store.RouteQuery{}, func(r bgp.Route) error {
		if r.Kind == bgp.Announce {
			if r.Peer != peer || r.PeerAS != lab.BorderASN || r.Attrs == nil || r.Attrs.ASPath != fmt.Sprint(lab.BorderASN) {
				return fmt.Errorf("announcement %+v is not from the border's peer with path %d", r, lab.BorderASN)
			}
			announced = append(announced, r.Prefix.String())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(announced) != len(want) {
		t.Errorf("stored announcements %v, want the five of BIRD", announced)
	}

	// Withdraw one /24: withdrawn within seconds, the /16 still covers it.
	gone := netip.MustParsePrefix("198.18.1.0/24")
	l.Fault(t, "withdraw", gone.String())
	d = waitFor("the withdrawal stored", 10*time.Second, func(v map[netip.Prefix]bgp.Visibility) bool {
		return v[gone].State == bgp.Withdrawn
	})
	t.Logf("withdrawal of %v stored and seen %v after BIRD withdrew it", gone, d.Round(time.Millisecond))
	v := view()
	cov := netip.MustParsePrefix("198.18.0.0/16")
	if v[gone].Covering != cov || v[gone].FullFeed != 1 || v[gone].Peers != 0 {
		t.Errorf("%v after the withdrawal: %+v; want seen by 0 of 1 peers, covered by %v", gone, v[gone], cov)
	}
	for _, p := range want {
		if p != gone && v[p].State != bgp.Announced {
			t.Errorf("%v is %s after another prefix's withdrawal", p, v[p].State)
		}
	}
	if !strings.Contains(stdout.String(), "|W|"+lab.BorderBGP4+"|"+fmt.Sprint(lab.BorderASN)+"|"+gone.String()+"\n") {
		t.Errorf("the collector printed no bgpdump line for the withdrawal")
	}

	// Restore: announced again (after a bin of bgp show's 1 s has passed
	// with the prefix withdrawn).
	time.Sleep(1500 * time.Millisecond)
	l.Restore(t)
	waitFor("the re-announcement stored", 10*time.Second, allAnnounced)

	// bgp show reads the same history from the store.
	code, out, serr := runCLI(t, "--config", cfg, "--store", db, "bgp", "show", gone.String(), "--bin", "1s", "--json")
	if code != 0 || !strings.Contains(out, `"control_plane":"withdrawn"`) || !strings.Contains(out, `"covering":"198.18.0.0/16"`) {
		t.Errorf("bgp show: exit %d, %s\n%s", code, out, serr)
	}
}
