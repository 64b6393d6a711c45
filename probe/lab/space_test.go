package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProfileCheck: the Go reader of profiles and `lab.sh space check` accept
// the same profiles and refuse the same, with the same message naming the line.
func TestProfileCheck(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := scriptPath(t)
	check := func(path string) (string, error) {
		out, err := exec.Command(bash, script, "space", "check", path).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	p, err := ReadProfile(RealisticProfileName)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range p.Blocks {
		total += b.Responders
	}
	out, err := check(RealisticProfileName)
	if want := fmt.Sprintf("%d blocks, %d responsive addresses", len(p.Blocks), total); err != nil || !strings.HasSuffix(out, want) {
		t.Errorf("lab.sh space check realistic: %v, %q; want it to end %q", err, out, want)
	}

	dir := t.TempDir()
	for _, c := range []struct{ name, text, want string }{
		{"outside", "192.0.2.0/24 responders=3 a=1", "'192.0.2.0/24' is not a /24 of the target space"},
		{"octet", "198.18.256.0/24 responders=3 a=1", "'198.18.256.0/24' is not a /24"},
		{"leading zero", "198.18.01.0/24 responders=3 a=1", "'198.18.01.0/24' is not a /24"},
		{"not a slash-24", "198.18.4.0/23 responders=3 a=1", "'198.18.4.0/23' is not a /24"},
		{"twice", "198.18.4.0/24 responders=3 a=1\n198.18.4.0/24 responders=4 a=1", "198.18.4.0/24 is given twice (first on line 2)"},
		{"too many", "198.18.4.0/24 responders=251 a=1", "responders=251: want a number of addresses from 1 to 250"},
		{"no responders", "198.18.4.0/24 responders=0 a=1", "responders=0: want"},
		{"a above 1", "198.18.4.0/24 responders=3 a=1.5", "a=1.5: want a probability from 0.01 to 1"},
		{"a zero", "198.18.4.0/24 responders=3 a=0", "a=0: want a probability"},
		{"a fine", "198.18.4.0/24 responders=3 a=0.125", "a=0.125: want a probability"},
		{"missing a", "198.18.4.0/24 responders=3", "198.18.4.0/24: responders= and a= are required"},
		{"odd period", "198.18.4.0/24 responders=3 a=1 period=41s", "period=41s: want an even number of seconds"},
		{"long period", "198.18.4.0/24 responders=3 a=1 period=25h", "period=25h: want"},
		{"icmp", "198.18.4.0/24 responders=3 a=1 icmp=maybe", "icmp=maybe: want icmp=drop or icmp=answer"},
		{"unknown", "198.18.4.0/24 responders=3 a=1 colour=red", "unknown setting 'colour'"},
		{"bare word", "198.18.4.0/24 responders=3 a=1 dense", "'dense' is not KEY=VALUE"},
		{"key twice", "198.18.4.0/24 responders=3 a=1 a=0.5", "a given twice"},
		{"empty", "# nothing\n\n", "names no block"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".txt")
			if err := os.WriteFile(path, []byte("# a profile\n"+c.text+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, gerr := ReadProfile(path)
			out, serr := check(path)
			if gerr == nil || !strings.Contains(gerr.Error(), c.want) {
				t.Errorf("ReadProfile: %v, want an error with %q", gerr, c.want)
			}
			if serr == nil || !strings.Contains(out, c.want) {
				t.Errorf("lab.sh space check: %v, %q, want an error with %q", serr, out, c.want)
			}
			if gerr != nil && serr != nil && "lab.sh: "+gerr.Error() != out {
				t.Errorf("the messages differ:\n  Go:     %s\n  lab.sh: %s", gerr, out)
			}
		})
	}

	good := filepath.Join(dir, "good.txt")
	if err := os.WriteFile(good, []byte("198.18.4.0/24 responders=250 a=.5 # comment\n  198.18.255.0/24   a=1 responders=1 icmp=drop period=24h\n198.18.0.0/24 responders=7 a=0.07 period=2m icmp=answer"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = ReadProfile(good)
	if out, serr := check(good); err != nil || serr != nil {
		t.Fatalf("a good profile refused: %v / %v %s", err, serr, out)
	}
	want := []SpaceBlock{
		{Prefix: netip.MustParsePrefix("198.18.4.0/24"), Responders: 250, A: 0.5, Line: 1},
		{Prefix: netip.MustParsePrefix("198.18.255.0/24"), Responders: 1, A: 1, ICMPDrop: true, Period: 24 * time.Hour, Line: 2},
		{Prefix: netip.MustParsePrefix("198.18.0.0/24"), Responders: 7, A: 0.07, Period: 2 * time.Minute, Line: 3},
	}
	if !slices.Equal(p.Blocks, want) {
		t.Errorf("blocks %+v, want %+v", p.Blocks, want)
	}
}

// TestSpaceBlockAddrs: the responders are distinct addresses of the block,
// never its first or last, spread over both halves of it.
func TestSpaceBlockAddrs(t *testing.T) {
	for c := range 256 {
		for _, n := range []int{1, 3, 10, 40, 250} {
			b := SpaceBlock{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(c), 0}), 24), Responders: n}
			as := b.Addrs()
			seen := map[netip.Addr]bool{}
			low := 0
			for _, a := range as {
				h := a.As4()[3]
				if !b.Prefix.Contains(a) || seen[a] || h == 0 || h == 255 {
					t.Fatalf("%s n=%d: bad or repeated responder %s in %v", b.Prefix, n, a, as)
				}
				seen[a] = true
				if h < 128 {
					low++
				}
			}
			if len(as) != n || n >= 10 && (low < n/4 || low > n-n/4) {
				t.Errorf("%s n=%d: %d responders, %d in the lower half: %v", b.Prefix, n, len(as), low, as)
			}
		}
	}
	d := SpaceBlock{Period: 40 * time.Second}
	for _, c := range []struct {
		unix float64
		dark bool
	}{{0, false}, {19.9, false}, {20, true}, {39.9, true}, {40, false}, {1_800_000_035, true}} {
		tm := time.Unix(0, int64(c.unix*1e9))
		if d.Dark(tm) != c.dark {
			t.Errorf("Dark(%v) = %v", c.unix, !c.dark)
		}
	}
}

// sweepRecord is what the space test reads of darkwatch's records.
type sweepRecord struct {
	Time    time.Time `json:"time"`
	Target  string    `json:"target"`
	Outcome string    `json:"outcome"`
}

// sweep runs `darkwatch sweep` from vp1 over cidr with method and returns the
// records, one per address (--all: a timeout record for the silent ones).
func sweep(t *testing.T, l *Lab, cidr, method string) []sweepRecord {
	t.Helper()
	cmd := l.Command(t.Context(), "vp1", Binary(t), "--allow", "198.18.0.0/15", "sweep", "--targets", cidr,
		"--method", method, "--rate", "0", "--per-block-rate", "0", "--cooldown", "1s", "--all", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("sweep %s: %v\n%s", cidr, err, stderr.String())
		}
	}
	var recs []sweepRecord
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r sweepRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// answered returns the addresses that answered among recs.
func answered(recs []sweepRecord) []netip.Addr {
	var out []netip.Addr
	for _, r := range recs {
		if r.Outcome == "reply" || r.Outcome == "open" {
			out = append(out, netip.MustParseAddr(r.Target))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// phase is how far t is into its period of d counted from the Unix epoch.
func phase(t time.Time, d time.Duration) time.Duration {
	return time.Duration(t.UnixNano() % int64(d))
}

func sorted(as []netip.Addr) []netip.Addr {
	as = slices.Clone(as)
	slices.SortFunc(as, netip.Addr.Compare)
	return as
}

// TestLabSpace applies a profile to a lab and probes it with darkwatch sweep:
// exactly the responders answer, at about the rate the profile gives; ICMP
// filtering, the diurnal clock, dark faults, restore and space off do what
// lab.sh says.
func TestLabSpace(t *testing.T) {
	l := StartN(t, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "space.txt")
	if err := os.WriteFile(path, []byte(`# the space test's profile
198.18.40.0/24 responders=37 a=1
198.18.41.0/24 responders=120 a=0.5
198.18.42.0/24 responders=20 a=1 icmp=drop
198.18.43.0/24 responders=30 a=1 period=8s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := l.Space(t, path)
	block := func(s string) SpaceBlock {
		b, ok := p.Block(netip.MustParsePrefix(s))
		if !ok {
			t.Fatalf("no block %s in the profile", s)
		}
		return b
	}
	dense, mid, filtered, diurnal := block("198.18.40.0/24"), block("198.18.41.0/24"), block("198.18.42.0/24"), block("198.18.43.0/24")

	t.Run("responders", func(t *testing.T) {
		const passes = 6
		hits := map[netip.Addr]int{}
		for range passes {
			recs := sweep(t, l, "198.18.40.0/23", "icmp")
			if len(recs) != 512 {
				t.Fatalf("%d records for 512 addresses", len(recs))
			}
			var inDense []netip.Addr
			for _, a := range answered(recs) {
				hits[a]++
				if dense.Prefix.Contains(a) {
					inDense = append(inDense, a)
				}
			}
			if !slices.Equal(inDense, sorted(dense.Addrs())) {
				t.Errorf("%s (a=1): answered %d addresses %v, want exactly the %d responders %v",
					dense.Prefix, len(inDense), inDense, dense.Responders, sorted(dense.Addrs()))
			}
		}
		resp := map[netip.Addr]bool{}
		for _, a := range mid.Addrs() {
			resp[a] = true
		}
		ever, sum := 0, 0
		for a, n := range hits {
			if !mid.Prefix.Contains(a) {
				continue
			}
			if !resp[a] {
				t.Errorf("%s: %s answered but is no responder", mid.Prefix, a)
			}
			ever++
			sum += n
		}
		// 720 probes at 0.5: the rate's standard deviation is 0.019.
		rate := float64(sum) / float64(passes*mid.Responders)
		t.Logf("%s: %d of %d responders answered in %d passes, rate %.3f (profile a=%.2f)", mid.Prefix, ever, mid.Responders, passes, rate, mid.A)
		if ever < mid.Responders*9/10 || rate < 0.35 || rate > 0.65 {
			t.Errorf("%s: %d of %d responders answered, rate %.3f; want nearly all of them at about %.2f",
				mid.Prefix, ever, mid.Responders, rate, mid.A)
		}
		if got := answered(sweep(t, l, "198.18.44.0/24", "icmp")); len(got) != 256 {
			t.Errorf("198.18.44.0/24, not in the profile: %d addresses answered, want all 256", len(got))
		}
	})

	t.Run("icmp=drop", func(t *testing.T) {
		if got := answered(sweep(t, l, filtered.Prefix.String(), "icmp")); len(got) != 0 {
			t.Errorf("%s icmp=drop: %d addresses answered ICMP echo", filtered.Prefix, len(got))
		}
		if got := answered(sweep(t, l, filtered.Prefix.String(), "tcp:80")); !slices.Equal(got, sorted(filtered.Addrs())) {
			t.Errorf("%s icmp=drop: TCP 80 open on %v, want the responders %v", filtered.Prefix, got, sorted(filtered.Addrs()))
		}
	})

	t.Run("diurnal", func(t *testing.T) {
		// Sweep once in each half; records within half a second of a
		// switch (the clock switches SpaceLead early, a loaded machine
		// later still) say nothing and are skipped.
		for _, dark := range []bool{false, true} {
			var checked int
			for try := 0; try < 4 && checked < 100; try++ {
				now := time.Now()
				start := now.Add(-phase(now, diurnal.Period)).Add(time.Second)
				if dark {
					start = start.Add(diurnal.Period / 2)
				}
				for start.Before(now) {
					start = start.Add(diurnal.Period)
				}
				time.Sleep(time.Until(start))
				for _, r := range sweep(t, l, diurnal.Prefix.String(), "icmp") {
					ph := phase(r.Time, diurnal.Period/2)
					if ph < 500*time.Millisecond || ph > diurnal.Period/2-SpaceLead-500*time.Millisecond {
						continue
					}
					checked++
					a := netip.MustParseAddr(r.Target)
					want := !diurnal.Dark(r.Time) && slices.Contains(diurnal.Addrs(), a)
					if got := r.Outcome == "reply"; got != want {
						t.Errorf("%s at %s (dark %v): answered %v, want %v", a, r.Time.Format(time.RFC3339Nano), diurnal.Dark(r.Time), got, want)
					}
				}
			}
			if checked < 100 {
				t.Errorf("dark=%v: only %d records clear of the clock's switches", dark, checked)
			}
		}
		// The clock logs its switches: each SpaceLead before a half of the
		// period (give or take a loaded machine), to that half's state.
		sws, err := l.SpaceSwitches()
		if err != nil {
			t.Fatal(err)
		}
		half := diurnal.Period / 2
		n := 0
		for i, sw := range sws {
			if sw.Block != diurnal.Prefix || i == 0 {
				continue // the first sets the state the profile starts in
			}
			n++
			at := sw.Time.Add(SpaceLead)
			boundary := at.Add(-phase(at, half))
			if phase(at, half) > half/2 {
				boundary = boundary.Add(half)
			}
			if off := at.Sub(boundary); off.Abs() > time.Second || sw.Dark != diurnal.Dark(boundary) {
				t.Errorf("clock switch %+v: %v from the boundary %s, where the block turns dark=%v",
					sw, off, boundary.Format(time.RFC3339Nano), diurnal.Dark(boundary))
			}
		}
		if n < 3 {
			t.Errorf("the clock logged %d switches of %s: %+v", n, diurnal.Prefix, sws)
		}
	})

	t.Run("dark", func(t *testing.T) {
		l.Fault(t, "dark", "198.18.40.128/25")
		var lit []netip.Addr
		for _, a := range dense.Addrs() {
			if a.As4()[3] < 128 {
				lit = append(lit, a)
			}
		}
		if got := answered(sweep(t, l, dense.Prefix.String(), "icmp")); !slices.Equal(got, sorted(lit)) {
			t.Errorf("%s with its upper half dark: %v answered, want %v", dense.Prefix, got, sorted(lit))
		}
		l.Fault(t, "undark", "198.18.40.128/25")
		if got := answered(sweep(t, l, dense.Prefix.String(), "icmp")); len(got) != dense.Responders {
			t.Errorf("%s after undark: %d answered, want %d", dense.Prefix, len(got), dense.Responders)
		}
		l.Fault(t, "dark", "198.18.40.0/23")
		if got := answered(sweep(t, l, "198.18.40.0/23", "icmp")); len(got) != 0 {
			t.Errorf("198.18.40.0/23 dark: %d addresses answered in it", len(got))
		}
		// Restore lifts the faults and keeps the profile.
		l.Restore(t)
		if got := answered(sweep(t, l, dense.Prefix.String(), "icmp")); !slices.Equal(got, sorted(dense.Addrs())) {
			t.Errorf("%s after restore: %d answered, want the %d responders", dense.Prefix, len(got), dense.Responders)
		}
		if got := answered(sweep(t, l, filtered.Prefix.String(), "icmp")); len(got) != 0 {
			t.Errorf("%s after restore: %d answered ICMP, want the profile's icmp=drop kept", filtered.Prefix, len(got))
		}
	})

	t.Run("off", func(t *testing.T) {
		l.SpaceOff(t)
		if got := answered(sweep(t, l, "198.18.40.0/22", "icmp")); len(got) != 1024 {
			t.Errorf("space off: %d of 1024 addresses answered", len(got))
		}
	})
}
