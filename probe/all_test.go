package probe

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"darkwatch/results"
)

// slowProber answers the targets with an even last byte, the later targets
// sooner, and counts how many probes are in flight at most.
type slowProber struct {
	inFlight, most atomic.Int32
}

func (p *slowProber) Probe(ctx context.Context, t Target) []results.Record {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
	}
	last := t.Addr.As4()[3]
	select {
	case <-time.After(time.Duration(20-last) * time.Millisecond):
	case <-ctx.Done():
	}
	out := results.OutcomeTimeout
	if last%2 == 0 {
		out = results.OutcomeReply
	}
	return []results.Record{{Target: t.Addr.String(), Outcome: out}}
}

func (p *slowProber) Close() error { return nil }

func TestProbeAll(t *testing.T) {
	var targets []Target
	for i := range 10 {
		targets = append(targets, Target{Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(2 * i)})})
	}
	p := &slowProber{}
	var order []string
	recs := ProbeAll(context.Background(), p, targets, 3, func(r []results.Record) { order = append(order, r[0].Target) })
	if len(order) != len(targets) {
		t.Fatalf("%d targets written, want %d", len(order), len(targets))
	}
	for i, tg := range targets {
		if order[i] != tg.Addr.String() {
			t.Errorf("written in the order %v", order)
			break
		}
	}
	if m := p.most.Load(); m > 3 {
		t.Errorf("%d probes at once, want at most 3", m)
	}
	if !EachAnswered(recs) {
		t.Error("every target answered, EachAnswered says not")
	}
	targets = append(targets, Target{Addr: netip.MustParseAddr("198.18.0.21")})
	if recs := ProbeAll(context.Background(), p, targets, 4, func([]results.Record) {}); EachAnswered(recs) {
		t.Error("a target did not answer, EachAnswered says all did")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if recs := ProbeAll(ctx, p, targets, 2, func([]results.Record) { t.Error("a target probed after the end") }); recs[0] != nil || EachAnswered(recs) {
		t.Errorf("after the end: %v", recs)
	}
}
