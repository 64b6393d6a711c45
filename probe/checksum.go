package probe

// This file is the package's one Internet checksum (RFC 1071), with the
// pseudo-header sums of TCP, UDP and ICMPv6.

import (
	"encoding/binary"
	"net/netip"
)

// checksum is the Internet checksum (RFC 1071) of b, with pseudo the sum of the
// pseudo-header it covers (pseudoSum; 0 for an IPv4 header or an ICMPv4
// message). It is the one checksum of the package: IPv4 headers, ICMP, TCP and
// UDP, sent or verified. Over a message whose checksum field is filled in, a
// correct checksum gives 0.
func checksum(pseudo uint32, b []byte) uint16 {
	return ^foldSum(sumWords(pseudo, b))
}

// sumWords adds b as big-endian 16-bit words (odd length padded with a zero
// byte) to sum.
func sumWords(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
		if sum > 0xffff0000 {
			sum = sum&0xffff + sum>>16
		}
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

// foldSum folds a 32-bit sum into 16-bit ones' complement.
func foldSum(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// pseudoSum is the sum of the IPv4 or IPv6 pseudo-header of a transport
// message of the given length.
func pseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var sum uint32
	if dst.Is4() {
		s, d := src.As4(), dst.As4()
		sum = sumWords(sumWords(0, s[:]), d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = sumWords(sumWords(0, s[:]), d[:])
	}
	return sum + uint32(proto) + uint32(length&0xffff) + uint32(length>>16)
}

// setChecksum makes the Internet checksum of b, with pseudo the sum of its
// pseudo-header, equal want: it writes a compensating 16-bit word at b[fill:]
// (an even offset, zero until now) and want at b[at:]. want must not be 0xffff.
// Paris traceroute uses it to keep a flow's checksum constant.
func setChecksum(b []byte, pseudo uint32, at, fill int, want uint16) {
	b[at], b[at+1], b[fill], b[fill+1] = 0, 0, 0, 0
	s := foldSum(sumWords(pseudo, b))
	// The sum must become ^want; adding ^s cancels the sum so far (to ones'
	// complement zero), adding ^want then gives it.
	w := foldSum(uint32(^want) + uint32(^s))
	binary.BigEndian.PutUint16(b[fill:], w)
	binary.BigEndian.PutUint16(b[at:], want)
}
