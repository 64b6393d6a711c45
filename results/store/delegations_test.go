package store

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"darkwatch/results/geo"
)

func TestDelegationsSQLite(t *testing.T) {
	testDelegations(t, sqliteDSN(t))
}

func TestDelegationsPostgres(t *testing.T) {
	testDelegations(t, postgresDSN(t))
}

// testDelegations imports two real statistics files of one registry, one
// after the other, and reads back what each leaves in the store.
func testDelegations(t *testing.T, dsn string) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	older := "../../testdata/geo/delegated-apnic-20110113.txt"
	h, n, err := geo.ImportFile(ctx, s, older)
	if err != nil || n != 11 || h.Registry != "apnic" {
		t.Fatalf("import %s: %d delegations, registry %q, error %v; want 11, apnic", older, n, h.Registry, err)
	}
	kp, err := s.Delegations(ctx, DelegationQuery{Country: "kp"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("175.45.176.0/22")}
	if len(kp) != 1 || !slices.Equal(kp[0].Prefixes, want) || kp[0].Date != "2010-01-22" || kp[0].Status != "assigned" ||
		kp[0].Source != "delegated-apnic-20110113.txt" || kp[0].Serial != "20110113" || kp[0].Line != 11 {
		t.Fatalf("KP: %+v, want one delegation of %v, assigned 2010-01-22, line 11 of delegated-apnic-20110113.txt", kp, want)
	}
	// The newer file of the same registry replaces the older one whole:
	// KP's record is not in it.
	newer := "../../testdata/geo/delegated-apnic-extended-20190909.txt"
	if _, n, err = geo.ImportFile(ctx, s, newer); err != nil || n != 39 {
		t.Fatalf("import %s: %d delegations, error %v; want 39", newer, n, err)
	}
	tests := []struct {
		q    DelegationQuery
		want []string // start/value of each, in file order
	}{
		{DelegationQuery{Country: "KP"}, nil},
		{DelegationQuery{Country: "JP", Type: geo.TypeASN}, []string{"173/1", "2497/32"}},
		{DelegationQuery{Country: "au", Type: geo.TypeIPv4}, []string{"1.0.0.0/256", "1.0.4.0/1024", "1.1.1.0/256", "1.2.3.0/256", "1.128.0.0/2097152"}},
		{DelegationQuery{Country: "CN", Type: geo.TypeIPv6}, []string{"2001:250::/35", "2001:251::/32", "2001:252::/32"}},
	}
	for _, tt := range tests {
		ds, err := s.Delegations(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.Start+"/"+strconv.FormatUint(d.Value, 10))
			if d.OpaqueID == "" || d.Source != "delegated-apnic-extended-20190909.txt" {
				t.Errorf("%+v: no opaque id or wrong source", d)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%+v: %v, want %v", tt.q, got, tt.want)
		}
	}
	all, err := s.Delegations(ctx, DelegationQuery{})
	if err != nil || len(all) != 39 {
		t.Fatalf("%d delegations in all (error %v), want 39", len(all), err)
	}
	if as := all[slices.IndexFunc(all, func(d Delegation) bool { return d.Start == "2497" })]; as.FirstASN != 2497 || as.ASNs != 32 {
		t.Errorf("AS2497's record reads back as %d+%d", as.FirstASN, as.ASNs)
	}
}
