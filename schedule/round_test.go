package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoundsValidate(t *testing.T) {
	tests := []struct {
		r       Rounds
		wantErr string
	}{
		{Rounds{Length: 11 * time.Minute}, ""},
		{Rounds{Length: time.Second, Jitter: 999 * time.Millisecond, Align: true}, ""},
		{Rounds{}, "positive"},
		{Rounds{Length: -time.Second}, "positive"},
		{Rounds{Length: time.Minute, Jitter: -time.Second}, "negative"},
		{Rounds{Length: time.Minute, Jitter: time.Minute}, "less than the round length"},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: Validate() = %v, want %q", tt.r, err, tt.wantErr)
		}
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRoundsNextAndNumber(t *testing.T) {
	// 2014-12-22T16:00:00Z is 1419264000 s after the epoch, a multiple of 11
	// minutes: the start of round 2150400.
	eleven := Rounds{Length: 11 * time.Minute, Align: true}
	jit := Rounds{Length: 10 * time.Second, Jitter: 2 * time.Second, Align: true}
	fraOff := jit.Offset("vp-fra1")
	tests := []struct {
		name    string
		r       Rounds
		vantage string
		now     string
		next    string
		number  int64 // of now
	}{
		{"before a boundary", eleven, "vp-fra1", "2014-12-22T15:59:59Z", "2014-12-22T16:00:00Z", 2150399},
		{"on a boundary: the next one", eleven, "vp-fra1", "2014-12-22T16:00:00Z", "2014-12-22T16:11:00Z", 2150400},
		{"just after a boundary", eleven, "vp-fra1", "2014-12-22T16:00:00.000000001Z", "2014-12-22T16:11:00Z", 2150400},
		{"end of a round", eleven, "vp-fra1", "2014-12-22T16:10:59.999999999Z", "2014-12-22T16:11:00Z", 2150400},
		{"jitter shifts the start", jit, "vp-fra1", "2014-12-22T16:00:00Z", utc("2014-12-22T16:00:00Z").Add(fraOff).Format(time.RFC3339Nano), 141926400},
		{"after the jittered start", jit, "vp-fra1", utc("2014-12-22T16:00:00Z").Add(fraOff).Format(time.RFC3339Nano), utc("2014-12-22T16:00:10Z").Add(fraOff).Format(time.RFC3339Nano), 141926400},
		{"before the epoch", Rounds{Length: 10 * time.Second, Align: true}, "", "1969-12-31T23:59:55Z", "1970-01-01T00:00:00Z", -1},
		{"free-running", Rounds{Length: 11 * time.Minute, Jitter: time.Minute}, "vp-fra1", "2014-12-22T16:03:17Z", "2014-12-22T16:14:17Z", 2150400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := utc(tt.now)
			next := tt.r.Next(now, tt.vantage)
			if !next.Equal(utc(tt.next)) {
				t.Errorf("Next(%s) = %s, want %s", tt.now, next.Format(time.RFC3339Nano), tt.next)
			}
			if got := tt.r.Number(now); got != tt.number {
				t.Errorf("Number(%s) = %d, want %d", tt.now, got, tt.number)
			}
			if tt.r.Align {
				if got, want := tt.r.Number(next), tt.r.Number(utc(tt.next).Add(-tt.r.Offset(tt.vantage))); got != want {
					t.Errorf("Number(Next) = %d, want the boundary's %d", got, want)
				}
			}
		})
	}
}

// TestRoundsAligned checks, over many times and vantages, that the next round
// starts after now, within one round, on the vantage's grid, and that every
// vantage gives the same round the same number.
func TestRoundsAligned(t *testing.T) {
	r := Rounds{Length: 11 * time.Minute, Jitter: 90 * time.Second, Align: true}
	now := utc("2014-12-22T07:00:00Z")
	vantages := []string{"vp-fra1", "vp-sin1", "vp-iad1", "vp-syd1", "lab-vp1"}
	for step := range 500 {
		now = now.Add(time.Duration(step) * 7919 * time.Millisecond)
		var numbers []int64
		for _, v := range vantages {
			next := r.Next(now, v)
			if !next.After(now) || next.Sub(now) > r.Length {
				t.Fatalf("Next(%s, %s) = %s", now, v, next)
			}
			if off := time.Duration(next.UnixNano() % int64(r.Length)); off != r.Offset(v) {
				t.Fatalf("Next(%s, %s) = %s, %v into its slot, want %v", now, v, next, off, r.Offset(v))
			}
			if !r.Start(r.Number(next), v).Equal(next) {
				t.Fatalf("Start(Number(%s)) = %s", next, r.Start(r.Number(next), v))
			}
			numbers = append(numbers, r.Number(r.Start(r.Number(now)+1, v)))
		}
		for _, n := range numbers {
			if n != r.Number(now)+1 {
				t.Fatalf("vantages number the next round %v", numbers)
			}
		}
	}
}

func TestRoundsOffset(t *testing.T) {
	r := Rounds{Length: time.Minute, Jitter: 10 * time.Second, Align: true}
	offsets := map[time.Duration]bool{}
	for _, v := range vantageNames(50) {
		o := r.Offset(v)
		if o < 0 || o >= r.Jitter {
			t.Fatalf("Offset(%s) = %v, out of [0, %v)", v, o, r.Jitter)
		}
		if o != r.Offset(v) {
			t.Fatalf("Offset(%s) is not deterministic", v)
		}
		offsets[o] = true
	}
	if len(offsets) < 45 {
		t.Errorf("50 vantages share %d offsets", len(offsets))
	}
	if o := (Rounds{Length: time.Minute}).Offset("vp-fra1"); o != 0 {
		t.Errorf("no jitter: Offset = %v", o)
	}
	// Pinned (checked against an independent implementation): offsets must not
	// change between versions.
	if got, want := (Rounds{Length: time.Hour, Jitter: time.Minute}).Offset("vp-fra1"), time.Duration(26358234541); got != want {
		t.Errorf("Offset(vp-fra1) = %v (%d), want %v", got, int64(got), want)
	}
}

func TestRoundsInvalidPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Next on a zero Rounds did not panic")
		}
	}()
	Rounds{}.Next(time.Now(), "vp")
}

func TestMethodMix(t *testing.T) {
	methods := []string{"icmp", "tcp:80", "trace", "dns:kp./SOA", "trace:udp"}
	all := methods
	noTrace := []string{"icmp", "tcp:80", "dns:kp./SOA"}
	tests := []struct {
		name       string
		methods    []string
		traceEvery int
		round      int64
		want       []string
	}{
		{"trace round", methods, 6, 2150400, all},
		{"other round", methods, 6, 2150401, noTrace},
		{"six later", methods, 6, 2150406, all},
		{"round 0", methods, 6, 0, all},
		{"negative multiple", methods, 6, -6, all},
		{"negative other", methods, 6, -5, noTrace},
		{"every round", methods, 1, 7, all},
		{"unset: every round", methods, 0, 7, all},
		{"no trace configured", []string{"icmp"}, 3, 1, []string{"icmp"}},
		{"only trace, off round", []string{"trace:tcp"}, 3, 1, []string{}},
		{"not a trace", []string{"tracer", "icmp:trace"}, 3, 1, []string{"tracer", "icmp:trace"}},
		{"none", nil, 3, 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MethodMix(tt.methods, tt.traceEvery, tt.round)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("MethodMix(%v, %d, %d) = %v, want %v", tt.methods, tt.traceEvery, tt.round, got, tt.want)
			}
			if len(got) > 0 && len(tt.methods) > 0 && &got[0] == &tt.methods[0] {
				t.Fatal("MethodMix returned its argument")
			}
		})
	}
}
