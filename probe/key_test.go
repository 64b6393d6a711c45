package probe

import (
	"net/netip"
	"testing"
)

// sipVectors are the 64 SipHash-2-4 test vectors of the reference
// implementation (vectors.h, vectors_sip64): key 00 01 .. 0f, message
// 00 01 .. (n-1) for n = 0..63. The n = 15 entry is the worked example of the
// SipHash paper's appendix A.
var sipVectors = [64]uint64{
	0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a,
	0x85676696d7fb7e2d, 0xcf2794e0277187b7, 0x18765564cd99a68d,
	0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462,
	0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
	0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
	0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794,
	0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd, 0xbed65cf21aa2ee98,
	0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3,
	0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
	0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce,
	0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
	0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d,
	0x9abfd8766a33735c, 0x0e3ea96b5304a7d0, 0xad0c42d6fc585992,
	0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2,
	0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
	0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72,
	0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f,
	0x7fa8220ba3b2ecea, 0x245731c13ca42499, 0xb78dbfaf3a8d83bd,
	0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
	0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57,
	0x958a324ceb064572,
}

// testKey is the reference key 00 01 .. 0f; golden files are built with it.
var testKey = KeyFromBytes([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})

func TestSipHashReferenceVectors(t *testing.T) {
	var msg [64]byte
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range sipVectors {
		if got := sipHash24(testKey.k0, testKey.k1, msg[:n]); got != want {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", n, got, want)
		}
	}
}

func TestKeySum(t *testing.T) {
	a := netip.MustParseAddr("198.18.0.1")
	b := netip.MustParseAddr("198.18.7.7")
	k2 := KeyFromBytes([16]byte{15: 1})
	base := testKey.Sum64(a, b, 80, 1)
	if testKey.Sum64(a, b, 80, 1) != base {
		t.Fatal("Sum64 is not deterministic")
	}
	differ := map[string]uint64{
		"key":   k2.Sum64(a, b, 80, 1),
		"src":   testKey.Sum64(b, a, 80, 1),
		"dst":   testKey.Sum64(a, a, 80, 1),
		"port":  testKey.Sum64(a, b, 81, 1),
		"extra": testKey.Sum64(a, b, 80, 2),
		"v6":    testKey.Sum64(netip.MustParseAddr("2001:db8::1"), b, 80, 1),
	}
	for what, h := range differ {
		if h == base {
			t.Errorf("changing the %s does not change the hash", what)
		}
	}
	if got := testKey.Sum32(a, b, 80, 1); got != uint32(base) {
		t.Errorf("Sum32 = %#x, want the low 32 bits of Sum64 %#x", got, base)
	}
	// Pinned so that a change of the message layout (which would change every
	// golden probe) is seen here first.
	const pinned = 0x6f0333d532661faa
	if base != pinned {
		t.Errorf("Sum64 = %#x, pinned %#x", base, uint64(pinned))
	}
	if k1, k2 := NewKey(), NewKey(); k1 == k2 || k1 == (Key{}) {
		t.Error("NewKey returned the same key twice, or the zero key")
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = testKey.Sum64(a, b, 80, 1) }); allocs != 0 {
		t.Errorf("Sum64 allocates %.0f times per call, want 0", allocs)
	}
}

func BenchmarkKeySum(b *testing.B) {
	for _, tc := range []struct{ name, src, dst string }{
		{"v4", "198.18.0.1", "198.18.7.7"},
		{"v6", "2001:db8::1", "2001:db8:1::7"},
	} {
		src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr(tc.dst)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink uint64
			for i := 0; b.Loop(); i++ {
				sink += testKey.Sum64(src, dst, 80, uint64(i))
			}
			_ = sink
		})
	}
}
