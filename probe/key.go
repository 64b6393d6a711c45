package probe

// This file is the keyed hash (SipHash-2-4) that stateless probes hide in the
// fields their replies must echo.

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Key is a per-process secret that makes stateless replies verifiable: a probe
// hides Sum of its own (source, destination, port, extra) in a field the reply
// must echo (TCP sequence number, ICMP id/seq, UDP checksum), and a reply is
// accepted only if that field hashes back to the same value. Nobody off the
// path can forge a reply that passes, and two probers never accept each
// other's replies, because their keys differ.
//
// The hash is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
// PRF", 2012), a keyed pseudo-random function built for exactly this: short
// inputs, a 128-bit key, no allocation.
type Key struct {
	k0, k1 uint64
}

// NewKey returns a random key from the operating system's generator.
func NewKey() Key {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return KeyFromBytes(b)
}

// KeyFromBytes returns the key with the given 16 bytes (little-endian k0, k1, as
// the SipHash reference implementation reads them). Tests use it for
// deterministic probes; probers use NewKey.
func KeyFromBytes(b [16]byte) Key {
	return Key{binary.LittleEndian.Uint64(b[0:8]), binary.LittleEndian.Uint64(b[8:16])}
}

// Sum64 returns the keyed 64-bit hash of (src, dst, port, extra). Addresses are
// hashed in their 16-byte form, so an IPv4 address and its IPv4-mapped IPv6
// form hash alike; an invalid address hashes as ::. It does not allocate.
func (k Key) Sum64(src, dst netip.Addr, port uint16, extra uint64) uint64 {
	var m [42]byte
	s, d := src.As16(), dst.As16()
	if !src.IsValid() {
		s = [16]byte{}
	}
	if !dst.IsValid() {
		d = [16]byte{}
	}
	copy(m[0:16], s[:])
	copy(m[16:32], d[:])
	binary.BigEndian.PutUint16(m[32:34], port)
	binary.BigEndian.PutUint64(m[34:42], extra)
	return sipHash24(k.k0, k.k1, m[:])
}

// Sum32 returns 32 bits of Sum64: what fits a TCP sequence number.
func (k Key) Sum32(src, dst netip.Addr, port uint16, extra uint64) uint32 {
	return uint32(k.Sum64(src, dst, port, extra))
}

// sipHash24 is SipHash-2-4 of m under the key (k0, k1).
func sipHash24(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	n := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= w
		m = m[8:]
	}
	last := uint64(n) << 56
	for i, c := range m {
		last |= uint64(c) << (8 * i)
	}
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound (the paper's figure 2.1).
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
