package probe

// This file is the IPv6 part of the stateless sweep: probes to hitlist
// addresses go out in sendmmsg batches on one raw IPv6 socket of the
// method's protocol, bound to the source, and their replies come back on it
// without an IPv6 header. The sweep modules build and validate them as they
// do IPv4 probes; the kernel writes the IPv6 header (and the ICMPv6
// checksum).

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"darkwatch/results"
)

// openSweep6 opens the IPv6 socket of a sweep with module mod: raw ICMPv6,
// filtered to echo replies and errors, or raw TCP, with hop limit ttl (0:
// the system's), and returns it with its descriptor for sendmmsg.
func openSweep6(mod sweepModule, ttl int) (*rawSocket, int, error) {
	var s *rawSocket
	var err error
	if mod.proto(true) == protoICMPv6 {
		s, err = openRawICMP(true)
	} else {
		s, err = openRaw(true, int(mod.proto(true)), netip.Addr{})
	}
	if err != nil {
		return nil, -1, err
	}
	fd := -1
	err = s.setTTL(ttl)
	if err == nil {
		err = s.rc.Control(func(f uintptr) {
			fd = int(f)
			// As openSweepSockets: a sweep at line rate must not drop replies.
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
		})
	}
	if err != nil {
		s.Close()
		return nil, -1, err
	}
	return s, fd, nil
}

// bind6 binds the sweep's IPv6 socket to src once the sender has learnt it,
// so that every probe goes out from the address its keyed hash (and a TCP
// probe's checksum) was computed for.
func bind6(fd int, src netip.Addr) error {
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: src.As16()}); err != nil {
		return fmt.Errorf("probe: sweep source %s: %w", src, err)
	}
	return nil
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
