package main

import (
	"net/netip"
	"time"
)

// pacer holds a sweep to the global rate and the per-/24 cap.
type pacer struct {
	interval time.Duration
	next     time.Time
}

func newPacer(pps, perBlock int) *pacer {
	p := &pacer{}
	if pps > 0 {
		p.interval = time.Second / time.Duration(pps)
	}
	return p
}

// wait returns when a packet to dst may be sent.
func (p *pacer) wait(dst netip.Addr) {
	if p.interval == 0 {
		return
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > 100*time.Millisecond {
		p.next = now
	}
	for d := p.next.Sub(now); d > 0; d = p.next.Sub(time.Now()) {
		if d > time.Millisecond {
			time.Sleep(d)
		}
	}
	p.next = p.next.Add(p.interval)
}
