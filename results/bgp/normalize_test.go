package bgp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// update makes a BGP UPDATE of its three parts.
func update(withdrawn, attrs, nlri []byte) []byte {
	msg := bytes.Repeat([]byte{0xff}, 16)
	msg = append(msg, 0, 0, 2)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(withdrawn)))
	msg = append(msg, withdrawn...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(attrs)))
	msg = append(append(msg, attrs...), nlri...)
	binary.BigEndian.PutUint16(msg[16:], uint16(len(msg)))
	return msg
}

func TestTrimUpdate(t *testing.T) {
	origin := []byte{0x40, 1, 1, 0}
	// MP_UNREACH_NLRI of IPv6 unicast: 2001:db8::/32, then a /48 cut short.
	unreach := []byte{0x80, 15, 10, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8, 48, 0x20}
	tests := []struct {
		name      string
		msg, want []byte
		addPath   bool
	}{
		{"whole", update([]byte{8, 10}, origin, []byte{13, 11, 13}), nil, false},
		{"NLRI with bits past its length and a prefix cut short",
			update(nil, origin, []byte{13, 11, 13, 11}), update(nil, origin, []byte{13, 11, 13}), false},
		{"withdrawn routes cut in an address",
			update([]byte{8, 10, 24, 192, 0}, nil, nil), update([]byte{8, 10}, nil, nil), false},
		{"MP_UNREACH_NLRI", update(nil, append(unreach, origin...), nil),
			update(nil, append([]byte{0x80, 15, 8, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8}, origin...), nil), false},
		{"ADD-PATH, a path identifier cut", update(nil, origin, []byte{0, 0, 0, 1, 8, 10, 0, 0}),
			update(nil, origin, []byte{0, 0, 0, 1, 8, 10}), true},
		{"withdrawn length past the end", update(nil, nil, nil)[:21], nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.msg)
			got := trimUpdate(in, tt.addPath)
			if tt.want == nil {
				if &got[0] != &in[0] || !bytes.Equal(got, tt.msg) {
					t.Errorf("trimUpdate(% x) = % x, want the message itself", tt.msg, got)
				}
				return
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("trimUpdate(% x)\n = % x\nwant % x", tt.msg, got, tt.want)
			}
			if !bytes.Equal(in, tt.msg) {
				t.Error("trimUpdate changed its input")
			}
		})
	}
}

func TestAbbreviateMPReach(t *testing.T) {
	// A RIB_IPV6_UNICAST record of 2001:db8::/32 with two entries: one
	// with an abbreviated MP_REACH_NLRI, one with it whole.
	nh := mustAddr(t, "2001:db8::1").AsSlice()
	abbreviated := append([]byte{0x80, 14, 17, 16}, nh...)
	whole := append(append([]byte{0x80, 14, 26, 0, 2, 1, 16}, nh...), 0, 32, 0x20, 0x01, 0x0d, 0xb8)
	record := func(attrs ...[]byte) []byte {
		b := []byte{0, 0, 0, 7, 32, 0x20, 0x01, 0x0d, 0xb8}
		b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
		for i, a := range attrs {
			b = binary.BigEndian.AppendUint16(b, uint16(i))
			b = append(b, 0, 0, 0, 9)
			b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
			b = append(b, a...)
		}
		return b
	}
	in := record(abbreviated, whole)
	if got, want := abbreviateMPReach(in, false), record(abbreviated, abbreviated); !bytes.Equal(got, want) {
		t.Errorf("abbreviateMPReach\n = % x\nwant % x", got, want)
	}
	same := record(abbreviated, abbreviated)
	if got := abbreviateMPReach(same, false); &got[0] != &same[0] {
		t.Error("a record with nothing to abbreviate was copied")
	}
	if cut := in[:len(in)-3]; &abbreviateMPReach(cut, false)[0] != &cut[0] {
		t.Error("a record cut short was rewritten, not left to gobgp")
	}
}
