package alert

import (
	"errors"
	"maps"
	"net/netip"
	"strings"
	"testing"
	"time"

	"darkwatch/results"
)

var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

// sets are the target sets of the tests: a /22 of AS64500 in ZZ, a /24 of
// AS64501 in ZZ, a /24 of AS64502 in YY.
var sets = []results.TargetSet{
	{Name: "a", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/22")}, ASN: 64500, Country: "zz"},
	{Name: "b", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.8.0/24")}, ASN: 64501, Country: "ZZ"},
	{Name: "c", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.18.9.0/24")}, ASN: 64502, Country: "YY"},
}

// TestFromEvent: the labels and times of the alert of an event.
func TestFromEvent(t *testing.T) {
	for _, tt := range []struct {
		name   string
		e      results.Event
		w      Where
		labels map[string]string
		ends   time.Time
	}{
		{"prefix outage", results.Event{Level: "prefix", Entity: "198.18.0.0/22", Kind: "outage", Start: t0},
			Where{ASN: "AS64500", Country: "ZZ", Vantages: []string{"vp1", "vp2"}},
			map[string]string{"alertname": "DarkwatchOutage", "severity": "critical", "level": "prefix",
				"entity": "198.18.0.0/22", "kind": "outage", "asn": "AS64500", "country": "ZZ", "vantages": "vp1,vp2"}, time.Time{}},
		{"partial AS, ended", results.Event{Level: "asn", Entity: "AS64500", Kind: "partial", Start: t0, End: t0.Add(time.Hour)},
			Where{ASN: "AS64500", Country: "ZZ"},
			map[string]string{"alertname": "DarkwatchOutage", "severity": "warning", "level": "asn",
				"entity": "AS64500", "kind": "partial", "asn": "AS64500", "country": "ZZ"}, t0.Add(time.Hour)},
		{"withdrawn block, no place", results.Event{Level: "block", Entity: "198.51.100.0/24", Kind: "withdrawn", Start: t0},
			Where{},
			map[string]string{"alertname": "DarkwatchOutage", "severity": "warning", "level": "block",
				"entity": "198.51.100.0/24", "kind": "withdrawn"}, time.Time{}},
		{"control-plane outage of a country", results.Event{Level: "country", Entity: "ZZ", Kind: "control-plane-outage", Start: t0},
			Where{ASN: "AS64500,AS64501", Country: "ZZ", Vantages: []string{"vp3"}},
			map[string]string{"alertname": "DarkwatchOutage", "severity": "critical", "level": "country",
				"entity": "ZZ", "kind": "control-plane-outage", "asn": "AS64500,AS64501", "country": "ZZ", "vantages": "vp3"}, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := FromEvent(tt.e, tt.w, "http://127.0.0.1:8080/")
			if !maps.Equal(a.Labels, tt.labels) {
				t.Errorf("labels %v, want %v", a.Labels, tt.labels)
			}
			if !a.StartsAt.Equal(tt.e.Start) || !a.EndsAt.Equal(tt.ends) || a.GeneratorURL != "http://127.0.0.1:8080/" {
				t.Errorf("starts %v ends %v url %q", a.StartsAt, a.EndsAt, a.GeneratorURL)
			}
			if !strings.Contains(a.Annotations["summary"], tt.e.Entity) || !strings.Contains(a.Annotations["description"], tt.e.Kind) {
				t.Errorf("annotations %v do not name the entity and kind", a.Annotations)
			}
			if a.Key() != eventKey(tt.e) {
				t.Errorf("key %q, the event's %q", a.Key(), eventKey(tt.e))
			}
		})
	}
}

// TestPlacesOf: the AS and country of each level's entities.
func TestPlacesOf(t *testing.T) {
	p := NewPlaces(sets)
	for _, tt := range []struct {
		level, entity, asn, country string
	}{
		{"prefix", "198.18.0.0/22", "AS64500", "ZZ"},
		{"block", "198.18.2.0/24", "AS64500", "ZZ"},
		{"host", "198.18.9.7", "AS64502", "YY"},
		{"prefix", "203.0.113.0/24", "", ""},
		{"asn", "AS64500", "AS64500", "ZZ"},
		{"country", "ZZ", "AS64500,AS64501", "ZZ"},
		{"country", "yy", "AS64502", "YY"},
		{"vantage", "vp1", "", ""},
		{"block", "not a prefix", "", ""},
	} {
		t.Run(tt.level+" "+tt.entity, func(t *testing.T) {
			asn, country := p.Of(tt.level, tt.entity)
			if asn != tt.asn || country != tt.country {
				t.Errorf("got %q %q, want %q %q", asn, country, tt.asn, tt.country)
			}
		})
	}
}

// TestConfigValidate: the alerts: section's errors name their key.
func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Config
		key  string
		want string
	}{
		{"empty", Config{}, "", ""},
		{"full", Config{Alertmanager: []string{"http://127.0.0.1:9093"}, Webhooks: []Webhook{{URL: "https://hooks.example.org/x",
			Timeout: time.Second, Headers: map[string]string{"X-Team": "noc"}, BearerTokenFile: "/etc/t"}},
			Levels: []string{"prefix", "vantage"}, MinDuration: time.Minute, Resend: 30 * time.Second, DashboardURL: "http://127.0.0.1:8080/"}, "", ""},
		{"alertmanager not a URL", Config{Alertmanager: []string{"127.0.0.1:9093"}}, "alertmanager[0]", "http"},
		{"alertmanager ftp", Config{Alertmanager: []string{"http://a:1", "ftp://x/"}}, "alertmanager[1]", "http"},
		{"webhook without URL", Config{Webhooks: []Webhook{{}}}, "webhooks[0].url", ""},
		{"webhook negative timeout", Config{Webhooks: []Webhook{{URL: "http://h/", Timeout: -1}}}, "webhooks[0].timeout", "negative"},
		{"webhook two authorizations", Config{Webhooks: []Webhook{{URL: "http://h/", BearerTokenFile: "/t",
			Headers: map[string]string{"authorization": "x"}}}}, "webhooks[0].headers.authorization", "bearer_token_file"},
		{"webhook content type", Config{Webhooks: []Webhook{{URL: "http://h/", Headers: map[string]string{"Content-Type": "x"}}}},
			"webhooks[0].headers.Content-Type", "darkwatch"},
		{"unknown level", Config{Levels: []string{"prefix", "city"}}, "levels[1]", "city"},
		{"negative min_duration", Config{MinDuration: -time.Second}, "min_duration", "negative"},
		{"resend too short", Config{Resend: time.Millisecond}, "resend", "1s"},
		{"bad dashboard_url", Config{DashboardURL: "dashboard"}, "dashboard_url", "http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.want) {
				t.Errorf("error %v, want key %s mentioning %q", err, tt.key, tt.want)
			}
		})
	}
}

// TestRedact: URLs lose what may be secret before they are logged.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example.org/path?token=x#f": "https://hooks.example.org/path",
		"http://127.0.0.1:9093":                            "http://127.0.0.1:9093",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
