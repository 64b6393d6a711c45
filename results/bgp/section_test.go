package bgp

import (
	"errors"
	"strings"
	"testing"
)

// TestSectionValidate: the bgp: section, each bad value refused naming
// its key within the section.
func TestSectionValidate(t *testing.T) {
	peer := []PeerConfig{{Addr: "198.51.100.9", ASN: 64500}}
	for _, tt := range []struct {
		name string
		s    Section
		key  string // "" for valid
	}{
		{"empty", Section{}, ""},
		{"collector", Section{LocalASN: 64512, Peers: peer, Listen: "[::]:179", FullFeed: FullFeedConfig{1, 1}}, ""},
		{"peers without local ASN", Section{Peers: peer}, "local_asn"},
		{"peer without ASN", Section{LocalASN: 64512, Peers: []PeerConfig{{Addr: "198.51.100.9"}}}, "peers[0].asn"},
		{"peer not an address", Section{LocalASN: 64512, Peers: []PeerConfig{{Addr: "nowhere", ASN: 1}}}, "peers[0].addr"},
		{"negative full feed", Section{FullFeed: FullFeedConfig{IPv4: -1}}, "full_feed"},
		{"listen without address", Section{Listen: "179"}, "listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			var ce *ConfigError
			switch {
			case tt.key == "" && err != nil:
				t.Fatal(err)
			case tt.key != "" && (!errors.As(err, &ce) || ce.Key != tt.key || strings.Contains(ce.Msg, "\n")):
				t.Fatalf("error %v, want one line for %s", err, tt.key)
			}
		})
	}
	s := Section{FullFeed: FullFeedConfig{IPv4: 3, IPv6: 4}}
	if v := s.Visibility(); v.FullFeedIPv4 != 3 || v.FullFeedIPv6 != 4 {
		t.Errorf("visibility %+v", v)
	}
}
