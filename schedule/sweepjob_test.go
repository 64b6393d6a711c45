package schedule

import (
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
)

// TestSweepJobPrepare checks each refusal of Prepare and what it takes from
// the configuration.
func TestSweepJobPrepare(t *testing.T) {
	space, err := NewSpace([]netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Vantage: "vp1", Round: 11 * time.Minute, Rate: RateConfig{PPS: 500, PerBlockPPS: 7}}
	icmp := Method{Name: results.MethodICMP}
	for _, tc := range []struct {
		name string
		job  SweepJob
		sh   Shard
		want string
	}{
		{"dns", SweepJob{Method: Method{Name: results.MethodDNS}}, Shard{Count: 1}, "method dns"},
		{"no shards", SweepJob{Method: icmp}, Shard{}, "shard 0 of 0"},
		{"shard past the last", SweepJob{Method: icmp}, Shard{Count: 2, Index: 2}, "shard 2 of 2"},
		{"retries", SweepJob{Method: icmp, Retries: 11}, Shard{Count: 1}, "retries 11"},
		{"negative retries", SweepJob{Method: icmp, Retries: -1}, Shard{Count: 1}, "retries -1"},
	} {
		if err := tc.job.Prepare(c, space, tc.sh); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Prepare = %v, want an error with %q", tc.name, err, tc.want)
		}
	}

	j := SweepJob{Method: icmp, Round: -1, Rate: -1, PerBlock: -1}
	if err := j.Prepare(c, space, Shard{Count: 2, Index: 1, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	if j.Rate != 500 || j.PerBlock != 7 || j.Vantage != "vp1" || j.Space != space || j.Round <= 0 {
		t.Errorf("prepared job %+v: want the configuration's rate 500, per-block 7, vantage vp1 and a round", j)
	}
	kept := SweepJob{Method: icmp, Round: 3, Rate: 0, PerBlock: 0}
	if err := kept.Prepare(c, space, Shard{Count: 1}); err != nil {
		t.Fatal(err)
	}
	if kept.Rate != 0 || kept.PerBlock != 0 || kept.Round != 3 {
		t.Errorf("set values overridden: %+v", kept)
	}
	p, err := j.Perm()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ok := p.Next(); ok; _, ok = p.Next() {
		n++
	}
	if n != 128 {
		t.Errorf("shard 1 of 2 of a /24 walks %d addresses, want 128", n)
	}
}

// TestHeapSize: heapSize counts what is still referenced.
func TestHeapSize(t *testing.T) {
	keep := make([]byte, 8<<20)
	runtime.GC()
	if n := heapSize(); n < 8<<20 {
		t.Errorf("live heap %d bytes with 8 MiB referenced", n)
	}
	runtime.KeepAlive(keep)
}
