package store

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
)

// TestDecodeAddrs: E(b) as stored reads as encoding/json reads it, the
// form json.Marshal gives and others alike.
func TestDecodeAddrs(t *testing.T) {
	marshalled, _ := json.Marshal([]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), {}})
	for _, text := range []string{
		string(marshalled), `[]`, ` [ ] `, `null`, `["192.0.2.1"]`, ` [ "192.0.2.1" , "192.0.2.2" ] `,
		`[""]`, `["fe80::1%eth0"]`, `["192.0.2.1",]`, `[,]`, `["192.0.2.\u0031"]`, `["a,b"]`,
		`["192.0.2.1" "192.0.2.2"]`, `["not an address"]`, `[1]`, `{}`, `["::ffff:192.0.2.1"]`, `["192.0.2.1"`,
	} {
		var want []netip.Addr
		wantErr := json.Unmarshal([]byte(text), &want)
		got, err := decodeAddrs(text)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeAddrs(%q) = %v, %v; want %v, %v", text, got, err, want, wantErr)
		}
	}
	if _, ok := decodePlainAddrs(string(marshalled)); !ok {
		t.Errorf("%s not read without encoding/json", marshalled)
	}
}
