package probe

// This file is the socket layer every prober shares: raw IP sockets (TCP, ICMP,
// IPPROTO_RAW), the ICMP echo sockets (raw or the kernel's ping sockets), the
// batched sendmmsg/recvmmsg calls of the sweep, the receive loop, and how a
// probe finds its source address.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"darkwatch/results"
)

// routeSource returns src if it is valid, else the address the kernel would
// send from to reach dst, learnt from a UDP socket connected to dst: connecting
// a UDP socket sends nothing.
func routeSource(src, dst netip.Addr) (netip.Addr, error) {
	if src.IsValid() {
		src = src.Unmap()
		if src.Is4() != dst.Is4() {
			return netip.Addr{}, fmt.Errorf("source %s and target %s are of different families", src, dst)
		}
		return src, nil
	}
	if dst.Zone() != "" {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
		if err != nil {
			return netip.Addr{}, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().WithZone(""), nil
	}
	return kernelSource(dst.Unmap())
}

// kernelSource is routeSource's UDP socket in plain system calls (socket,
// connect, getsockname, close), without the runtime's poller: the socket never
// waits, and a sweep of traces asks once a trace.
func kernelSource(dst netip.Addr) (netip.Addr, error) {
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: 9, Addr: dst.As16()})
	if dst.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %s: %w", dst, os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("route to %s: %w", dst, os.NewSyscallError("connect", err))
	}
	la, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %s: %w", dst, os.NewSyscallError("getsockname", err))
	}
	switch a := la.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("route to %s: no address of its family", dst)
}

// rawConn is a raw IP socket reduced to what the TCP and trace probers need, so
// that tests can replay recorded packets through their matching logic.
type rawConn interface {
	// ReadFrom reads one packet as the socket delivers it (IPv4 with its IP
	// header, IPv6 without), its sender and, for IPv6, its hop limit (0 when
	// unknown).
	ReadFrom(b []byte) (n int, src netip.Addr, hopLimit int, err error)
	// WriteTo sends b to dst. On IPv6 sockets src (when valid) is the source
	// address and hopLimit (when > 0) the hop limit of this packet only.
	WriteTo(b []byte, dst, src netip.Addr, hopLimit int) error
	Close() error
}

// rawSocket is a raw IP socket of one family and protocol.
type rawSocket struct {
	c  *net.IPConn
	rc syscall.RawConn
	p6 *ipv6.PacketConn // IPv6: per-packet options
	v6 bool
}

// openRaw opens a raw socket for IP protocol proto, bound to bind when it is of
// the socket's family. IPv6 sockets report the hop limit of what they read.
func openRaw(v6 bool, proto int, bind netip.Addr) (*rawSocket, error) {
	network, addr := fmt.Sprintf("ip4:%d", proto), "0.0.0.0"
	if v6 {
		network, addr = fmt.Sprintf("ip6:%d", proto), "::"
	}
	if bind = bind.Unmap(); bind.IsValid() && bind.Is6() == v6 {
		addr = bind.String()
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.IPConn)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	// Many probers in flight answer in bursts: a small buffer drops replies.
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	})
	s := &rawSocket{c: c, rc: rc, v6: v6}
	if v6 {
		s.p6 = ipv6.NewPacketConn(c)
		if err := s.p6.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
			c.Close()
			return nil, err
		}
	}
	return s, nil
}

// openRawICMP opens a raw ICMP (ICMPv6) socket whose kernel filter lets only
// echo replies and errors through.
func openRawICMP(v6 bool) (*rawSocket, error) {
	proto := protoICMP
	if v6 {
		proto = protoICMPv6
	}
	s, err := openRaw(v6, proto, netip.Addr{})
	if err != nil {
		return nil, err
	}
	if v6 {
		err = s.p6.SetICMPFilter(answerFilter6())
	} else {
		err = ipv4.NewPacketConn(s.c).SetICMPFilter(answerFilter4())
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// answerFilter4 and answerFilter6 are the kernel ICMP filters of raw ICMP
// sockets: they let through only what can answer a probe, echo replies and
// errors.
func answerFilter4() *ipv4.ICMPFilter {
	var f ipv4.ICMPFilter
	f.SetAll(true)
	for _, t := range []ipv4.ICMPType{ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeDestinationUnreachable,
		ipv4.ICMPTypeTimeExceeded} {
		f.Accept(t)
	}
	return &f
}

func answerFilter6() *ipv6.ICMPFilter {
	var f ipv6.ICMPFilter
	f.SetAll(true)
	for _, t := range []ipv6.ICMPType{ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeDestinationUnreachable,
		ipv6.ICMPTypeTimeExceeded, ipv6.ICMPTypePacketTooBig} {
		f.Accept(t)
	}
	return &f
}

// setTTL sets the TTL (hop limit) of everything the socket sends; 0 keeps the
// system default.
func (s *rawSocket) setTTL(ttl int) error {
	if ttl <= 0 {
		return nil
	}
	if s.v6 {
		return s.p6.SetHopLimit(ttl)
	}
	return ipv4.NewConn(s.c).SetTTL(ttl)
}

// setBPF attaches a classic BPF filter to the socket.
func (s *rawSocket) setBPF(prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	if s.v6 {
		return s.p6.SetBPF(raw)
	}
	return ipv4.NewPacketConn(s.c).SetBPF(raw)
}

// ReadFrom reads one packet with recvmsg, which, unlike net.IPConn.ReadFrom,
// keeps the IPv4 header.
func (s *rawSocket) ReadFrom(b []byte) (int, netip.Addr, int, error) {
	var (
		n, oobn int
		from    unix.Sockaddr
		rerr    error
		oob     [64]byte
	)
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), b, oob[:], unix.MSG_DONTWAIT)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, netip.Addr{}, 0, err
	}
	var src netip.Addr
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		src = netip.AddrFrom16(sa.Addr).Unmap()
	}
	hopLimit := 0
	if s.v6 && oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4 {
					hopLimit = int(binary.NativeEndian.Uint32(m.Data))
				}
			}
		}
	}
	return n, src, hopLimit, nil
}

// WriteTo sends b to dst.
func (s *rawSocket) WriteTo(b []byte, dst, src netip.Addr, hopLimit int) error {
	a := &net.IPAddr{IP: dst.AsSlice()}
	if s.v6 && (src.IsValid() || hopLimit > 0) {
		cm := &ipv6.ControlMessage{HopLimit: hopLimit}
		if src.IsValid() {
			cm.Src = src.AsSlice()
		}
		_, err := s.p6.WriteTo(b, cm, a)
		return err
	}
	_, err := s.c.WriteTo(b, a)
	return err
}

func (s *rawSocket) Close() error { return s.c.Close() }

// readLoop reads packets from c and hands each to handle, with its arrival
// time, until done is closed or c is: the receive loop of every raw-socket
// prober. A transient read error is retried after a pause, never spun on.
func readLoop(c rawConn, done <-chan struct{}, handle func(b []byte, src netip.Addr, ttl int, at time.Time)) {
	buf := make([]byte, 4096)
	for {
		n, src, ttl, err := c.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			select {
			case <-done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		handle(buf[:n], src, ttl, at)
	}
}

// dstPortFilter is a classic BPF program that accepts the TCP or UDP packets
// to port and drops the rest. An IPv4 raw socket filters the packet from its
// IP header on, an IPv6 one from the transport header.
func dstPortFilter(v6 bool, port uint16) []bpf.Instruction {
	load := []bpf.Instruction{
		bpf.LoadMemShift{Off: 0},          // X = IPv4 header length
		bpf.LoadIndirect{Off: 2, Size: 2}, // A = destination port
	}
	if v6 {
		load = []bpf.Instruction{bpf.LoadAbsolute{Off: 2, Size: 2}}
	}
	return append(load,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 16},
		bpf.RetConstant{Val: 0},
	)
}

// RouteSource returns the source address the kernel would use towards dst,
// found with a connected UDP socket (which sends nothing).
func RouteSource(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("probe: no route to %s: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// recvmmsg reads up to len(msgs) datagrams with one system call, waiting for
// the first only (MSG_WAITFORONE), and returns how many it read.
func recvmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int(n), nil
}

// sendmmsg sends msgs with one system call and returns how many went.
func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
	if errno != 0 {
		return int(n), syscall.Errno(errno)
	}
	return int(n), nil
}

func sweepSocketErr(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return ErrPermission
	}
	return fmt.Errorf("probe: sweep socket: %w", err)
}

// sendPath is what a raw-socket probe needs before it sends: a context still
// live, the socket of dst's family, and the source address the kernel would
// use. On failure it returns the probe's outcome (unreachable when there is no
// route, else error) and why nothing was sent.
func sendPath[C any](ctx context.Context, open func(v6 bool) (C, error), source, dst netip.Addr) (C, netip.Addr, string, error) {
	var c C
	if err := ctx.Err(); err != nil {
		return c, netip.Addr{}, results.OutcomeError, fmt.Errorf("not sent: %w", err)
	}
	c, err := open(dst.Is6())
	if err != nil {
		return c, netip.Addr{}, results.OutcomeError, fmt.Errorf("not sent: %w", err)
	}
	src, err := routeSource(source, dst)
	if err != nil {
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			return c, netip.Addr{}, results.OutcomeUnreachable, err
		}
		return c, netip.Addr{}, results.OutcomeError, fmt.Errorf("not sent: %w", err)
	}
	return c, src, "", nil
}

// echoConn is the socket under an ICMP prober, reduced to what the prober needs
// so that tests can replay recorded packets through the matching logic.
type echoConn interface {
	// ReadFrom reads one ICMP message, without its IP header, with its sender
	// and its TTL or hop limit (0 when unknown).
	ReadFrom(b []byte) (n, ttl int, src netip.Addr, err error)
	WriteTo(b []byte, dst netip.Addr) error
	Close() error
}

// echoSocket is a raw or ping ICMP socket of one family.
type echoSocket struct {
	c       *icmp.PacketConn
	v6, raw bool
}

// openEcho opens a raw (ip4:icmp, ip6:ipv6-icmp) or ping (udp4, udp6) ICMP
// socket, bound to src when src is of its family, sending with the given TTL
// (0: the system default) and reporting the TTL of what it receives.
func openEcho(v6, raw bool, src netip.Addr, ttl int) (echoConn, error) {
	network, addr := "udp4", "0.0.0.0"
	switch {
	case v6 && raw:
		network, addr = "ip6:ipv6-icmp", "::"
	case v6:
		network, addr = "udp6", "::"
	case raw:
		network = "ip4:icmp"
	}
	if src = src.Unmap(); src.IsValid() && src.Is6() == v6 {
		addr = src.String()
	}
	c, err := icmp.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	if err := setupEcho(c, v6, raw, ttl); err != nil {
		c.Close()
		return nil, err
	}
	return &echoSocket{c: c, v6: v6, raw: raw}, nil
}

// setupEcho asks for the TTL of received packets, sets the TTL of sent ones and,
// on raw sockets, lets only echo replies and errors through the kernel's filter.
func setupEcho(c *icmp.PacketConn, v6, raw bool, ttl int) error {
	if v6 {
		p := c.IPv6PacketConn()
		if err := p.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
			return err
		}
		if ttl > 0 {
			if err := p.SetHopLimit(ttl); err != nil {
				return err
			}
		}
		if raw {
			return p.SetICMPFilter(answerFilter6())
		}
		return nil
	}
	p := c.IPv4PacketConn()
	if err := p.SetControlMessage(ipv4.FlagTTL, true); err != nil {
		return err
	}
	if ttl > 0 {
		if err := p.SetTTL(ttl); err != nil {
			return err
		}
	}
	if raw {
		return p.SetICMPFilter(answerFilter4())
	}
	return nil
}

func (s *echoSocket) ReadFrom(b []byte) (n, ttl int, src netip.Addr, err error) {
	var a net.Addr
	if s.v6 {
		var cm *ipv6.ControlMessage
		n, cm, a, err = s.c.IPv6PacketConn().ReadFrom(b)
		if cm != nil {
			ttl = cm.HopLimit
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, a, err = s.c.IPv4PacketConn().ReadFrom(b)
		if cm != nil {
			ttl = cm.TTL
		}
	}
	var ip net.IP
	switch a := a.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	src, _ = netip.AddrFromSlice(ip)
	return n, ttl, src.Unmap(), err
}

func (s *echoSocket) WriteTo(b []byte, dst netip.Addr) error {
	var a net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if s.raw {
		a = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	_, err := s.c.WriteTo(b, a)
	return err
}

func (s *echoSocket) Close() error { return s.c.Close() }

// family indexes per-family arrays: 0 IPv4, 1 IPv6.
func family(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// isPermission reports whether err says the process may not open the socket.
func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

// openSweepSockets opens the sockets of a sweep: an IPPROTO_RAW socket that
// sends packets with our own IPv4 header, and a raw socket of IP protocol
// proto that reads replies, both with big buffers (a sweep at line rate must
// not drop replies in the kernel) and reads that time out every 50 ms.
func openSweepSockets(proto int) (send, recv int, err error) {
	send, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return -1, -1, sweepSocketErr(err)
	}
	recv, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		unix.Close(send)
		return -1, -1, sweepSocketErr(err)
	}
	for _, fd := range []int{send, recv} {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	}
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	_ = unix.SetsockoptTimeval(recv, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return send, recv, nil
}

// rawSockets are a prober's raw sockets of one address family.
type rawSockets struct {
	send rawConn // what probes go out on
	icmp rawConn // reads ICMP errors (and, for traces, echo replies)
	tcp  rawConn // reads TCP answers: SYN-ACKs and RSTs
	err  error   // why the family cannot be used
}

// close closes each distinct socket.
func (s *rawSockets) close() []error {
	var errs []error
	seen := map[rawConn]bool{}
	for _, c := range []rawConn{s.send, s.icmp, s.tcp} {
		if c != nil && !seen[c] {
			seen[c] = true
			errs = append(errs, c.Close())
		}
	}
	return errs
}

// familySockets are a prober's raw sockets: IPv4, then IPv6.
type familySockets [2]rawSockets

// sender returns the sending socket of a family, unless the prober is
// closed or the family cannot be used. The caller holds the prober's lock.
func (f *familySockets) sender(closed, v6 bool) (rawConn, error) {
	if closed {
		return nil, net.ErrClosed
	}
	s := f[family(v6)]
	if s.err != nil {
		return nil, s.err
	}
	return s.send, nil
}

// shutdown closes a prober the first time it is called: under mu it marks
// it closed and closes done, then closes the sockets and waits for the
// receivers in wg.
func (f *familySockets) shutdown(mu *sync.Mutex, closed *bool, done chan struct{}, wg *sync.WaitGroup) error {
	mu.Lock()
	first := shutdown(closed, done)
	socks := *f
	mu.Unlock()
	if !first {
		return nil
	}
	var errs []error
	for i := range socks {
		errs = append(errs, socks[i].close()...)
	}
	wg.Wait()
	return errors.Join(errs...)
}
