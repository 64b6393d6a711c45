package bgp

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bgpdumpOrigins replays bgpdump's own lines of an MRT file (testdata/mrt/
// expect) and says, per origin AS, which prefixes it originates at the end
// and through how many peers: what Origins must find reading the MRT file.
func bgpdumpOrigins(t *testing.T, expect string) map[uint32]map[netip.Prefix]int {
	t.Helper()
	f, err := os.Open(expect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ peer, peerAS, prefix string }
	routes := map[key]uint32{}
	sc := bufio.NewScanner(z)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		x := strings.Split(sc.Text(), "|")
		switch x[2] {
		case "A", "B":
			path := strings.Fields(x[6])
			origin := uint64(0)
			if len(path) > 0 {
				origin, _ = strconv.ParseUint(path[len(path)-1], 10, 32) // 0 for an AS_SET
			}
			routes[key{x[3], x[4], x[5]}] = uint32(origin)
		case "W":
			delete(routes, key{x[3], x[4], x[5]})
		case "STATE":
			if x[6] != "6" {
				maps.DeleteFunc(routes, func(k key, _ uint32) bool { return k.peer == x[3] && k.peerAS == x[4] })
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[uint32]map[netip.Prefix]int{}
	for k, origin := range routes {
		if origin == 0 {
			continue
		}
		if out[origin] == nil {
			out[origin] = map[netip.Prefix]int{}
		}
		out[origin][netip.MustParsePrefix(k.prefix).Masked()]++
	}
	return out
}

// replay reads an MRT file of testdata/mrt into Origins.
func replay(t *testing.T, file string) *Origins {
	t.Helper()
	o := NewOrigins()
	if err := ReadFile(file, func(r Route) error { o.Apply(r); return nil }); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOriginsMatchBgpdump checks, for every origin AS of real MRT files,
// that the prefixes Origins says it originates at the end of the file, and
// the peers it counts for each, are those bgpdump's lines of the same file
// say.
func TestOriginsMatchBgpdump(t *testing.T) {
	for _, file := range []string{"ris.rrc06.updates.1427846400.gz", "updates.20160811.1600.gz"} {
		t.Run(file, func(t *testing.T) {
			o := replay(t, "../../testdata/mrt/"+file)
			expect := "../../testdata/mrt/expect/" + file + ".bgpdump-m.gz"
			if _, err := os.Stat(expect); err != nil {
				expect = "../../testdata/mrt/expect/" + file + ".bgp.gz"
			}
			want := bgpdumpOrigins(t, expect)
			if len(want) < 100 {
				t.Fatalf("bgpdump's lines name %d origin ASes: the test would say little", len(want))
			}
			for asn, prefixes := range want {
				got := map[netip.Prefix]int{}
				for _, org := range o.Of(asn) {
					got[org.Prefix] = org.Peers
				}
				if !maps.Equal(got, prefixes) {
					t.Errorf("AS%d: %v, bgpdump says %v", asn, got, prefixes)
				}
			}
		})
	}
}

func TestOriginsRealAS(t *testing.T) {
	tests := []struct {
		file string
		asn  uint32
		// want is the prefix, its peers, its origins, of some of what asn
		// originates; n how many prefixes in all.
		want []string
		n    int
	}{
		// RIS rrc06 on 1 April 2015: AS45899 (VNPT, Vietnam).
		{"ris.rrc06.updates.1427846400.gz", 45899, []string{"14.166.64.0/19 1 [45899]", "123.24.0.0/18 1 [45899]", "222.254.96.0/19 1 [45899]"}, 70},
		// RIS on 11 August 2016: 84.32.0.0/22 has two origins.
		{"updates.20160811.1600.gz", 33922, []string{"84.32.0.0/22 15 [33922 49550]", "84.32.140.0/22 15 [33922 49550]"}, 0},
		{"updates.20160811.1600.gz", 49550, []string{"84.32.0.0/22 2 [33922 49550]"}, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("AS%d", tt.asn), func(t *testing.T) {
			of := replay(t, "../../testdata/mrt/"+tt.file).Of(tt.asn)
			var got []string
			for _, org := range of {
				got = append(got, fmt.Sprintf("%v %d %v", org.Prefix, org.Peers, org.Origins))
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("no %q among %d prefixes: %v", w, len(got), got)
				}
			}
			if tt.n != 0 && len(of) != tt.n {
				t.Errorf("%d prefixes, want %d", len(of), tt.n)
			}
		})
	}
}

func TestOriginsFollowRouting(t *testing.T) {
	peer1, peer2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	at := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	announce := func(peer netip.Addr, prefix, path string) Route {
		return Route{Time: at, Kind: Announce, Peer: peer, PeerAS: 64500, Prefix: netip.MustParsePrefix(prefix),
			Attrs: &Attrs{ASPath: path, HasASPath: true}}
	}
	withdraw := func(peer netip.Addr, prefix string) Route {
		return Route{Time: at, Kind: Withdraw, Peer: peer, PeerAS: 64500, Prefix: netip.MustParsePrefix(prefix)}
	}
	tests := []struct {
		name   string
		routes []Route
		want   string // each prefix of AS64511 as "prefix/peers[-carved...]"
	}{
		{"announced", []Route{announce(peer1, "198.18.0.0/22", "64500 64511")}, "198.18.0.0/22/1"},
		{"two peers", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), announce(peer2, "198.18.0.0/22", "64500 64510 64511")}, "198.18.0.0/22/2"},
		{"withdrawn", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), withdraw(peer1, "198.18.0.0/22")}, ""},
		{"one of two withdrawn", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), announce(peer2, "198.18.0.0/22", "64500 64511"),
			withdraw(peer1, "198.18.0.0/22")}, "198.18.0.0/22/1"},
		{"origin changed", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), announce(peer1, "198.18.0.0/22", "64500 64512")}, ""},
		{"a new prefix joins", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), announce(peer1, "198.18.8.0/24", "64500 64511")},
			"198.18.0.0/22/1 198.18.8.0/24/1"},
		{"session down", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"),
			{Time: at, Kind: StateChange, Peer: peer1, PeerAS: 64500, OldState: 6, NewState: 1}}, ""},
		{"as set", []Route{announce(peer1, "198.18.0.0/22", "64500 {64511,64512}")}, ""},
		{"more-specific of another AS", []Route{announce(peer1, "198.18.0.0/22", "64500 64511"), announce(peer1, "198.18.1.0/24", "64500 64512"),
			announce(peer1, "198.18.1.128/25", "64500 64513")}, "198.18.0.0/22/1-198.18.1.0/24"},
		{"own more-specific inside another's", []Route{announce(peer1, "198.18.0.0/16", "64500 64511"), announce(peer1, "198.18.0.0/20", "64500 64512"),
			announce(peer1, "198.18.1.0/24", "64500 64511")}, "198.18.0.0/16/1-198.18.0.0/20 198.18.1.0/24/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOrigins()
			for _, r := range tt.routes {
				o.Apply(r)
			}
			var got []string
			for _, org := range o.Of(64511) {
				s := fmt.Sprintf("%v/%d", org.Prefix, org.Peers)
				for _, c := range org.Carved {
					s += "-" + c.String()
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("AS64511 originates %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestOriginationSpace(t *testing.T) {
	tests := []struct {
		prefix string
		carved []string
		want   string
	}{
		{"198.18.0.0/22", nil, "198.18.0.0/22"},
		{"198.18.0.0/22", []string{"198.18.1.0/24"}, "198.18.0.0/24 198.18.2.0/23"},
		{"198.18.0.0/22", []string{"198.18.0.0/24", "198.18.3.128/25"}, "198.18.1.0/24 198.18.2.0/24 198.18.3.0/25"},
		{"198.18.0.0/22", []string{"198.18.0.0/22"}, ""},
		{"2001:db8::/32", []string{"2001:db8:8000::/33"}, "2001:db8::/33"},
	}
	for _, tt := range tests {
		org := Origination{Prefix: netip.MustParsePrefix(tt.prefix)}
		for _, c := range tt.carved {
			org.Carved = append(org.Carved, netip.MustParsePrefix(c))
		}
		var got []string
		for _, p := range org.Space() {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s less %v = %v, want %s", tt.prefix, tt.carved, got, tt.want)
		}
	}
}
