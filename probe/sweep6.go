package probe

// This file is the IPv6 part of the stateless sweep: probes to hitlist
// addresses go out on one raw IPv6 socket of the method's protocol, one packet
// a system call with the source set per packet, and their replies come back
// on it without an IPv6 header. The sweep modules build and validate them as
// they do IPv4 probes.

import (
	"net/netip"
	"sync"
	"time"

	"darkwatch/results"
)

// openSweep6 opens the IPv6 socket of a sweep with module mod: raw ICMPv6,
// filtered to echo replies and errors, or raw TCP.
func openSweep6(mod sweepModule) (*rawSocket, error) {
	if mod.proto(true) == protoICMPv6 {
		return openRawICMP(true)
	}
	return openRaw(true, int(mod.proto(true)), netip.Addr{})
}

// send6 builds the probe to the IPv6 address dst with b and sends it from
// b's source with the sweep's hop limit.
func (s *Sweep) send6(b *ProbeBuilder, dst netip.Addr) {
	var buf [128]byte
	b.Stamp()
	n := b.Build(buf[:], dst)
	if err := s.v6.WriteTo(buf[:n], dst, b.src, int(b.ttl)); err != nil {
		s.sendErr.Add(1)
		return
	}
	s.sent.Add(1)
}

// receive6 reads IPv6 replies until done is closed (and the socket's read
// deadline wakes it), validates them and emits the first reply of each target.
func (s *Sweep) receive6(done <-chan struct{}, emit func(results.Record)) {
	var v ProbeBuilder
	readLoop(s.v6, done, func(p []byte, from netip.Addr, hopLimit int, at time.Time) {
		if !v.src.IsValid() {
			src := s.source(true)
			if !src.IsValid() {
				s.invalid.Add(1) // nothing sent yet: not an answer of ours
				return
			}
			v.Init(s.cfg, s.key, src, s.epoch)
		}
		rep, ok := v.Validate6(p, from, hopLimit)
		s.take(rep, ok, at, emit)
	})
}

// serialize returns emit made safe to call from the IPv4 and the IPv6
// receiver at once.
func serialize(emit func(results.Record)) func(results.Record) {
	var mu sync.Mutex
	return func(r results.Record) {
		mu.Lock()
		defer mu.Unlock()
		emit(r)
	}
}
