package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRefuseBareDuration(t *testing.T) {
	dur := reflect.TypeFor[time.Duration]()
	for _, c := range []struct {
		name     string
		from, to reflect.Type
		data     any
		bad      bool
	}{
		{"int", reflect.TypeFor[int](), dur, 5, true},
		{"float", reflect.TypeFor[float64](), dur, 0.5, true},
		{"string", reflect.TypeFor[string](), dur, "5s", false},
		{"duration", dur, dur, 5 * time.Second, false},
		{"an int where an int goes", reflect.TypeFor[int](), reflect.TypeFor[int](), 5, false},
	} {
		got, err := refuseBareDuration(c.from, c.to, c.data)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "bare number") {
				t.Errorf("%s: %v, %v; want a refusal", c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.data {
			t.Errorf("%s: %v, %v; want %v passed through", c.name, got, err, c.data)
		}
	}
}

// TestDefaultsAreKeys: every default is of a key of Config.
func TestDefaultsAreKeys(t *testing.T) {
	known := map[string]bool{}
	for _, n := range envNames() {
		known[n] = true
	}
	for key := range Defaults() {
		env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !known[env] {
			t.Errorf("default of %s, which is no key", key)
		}
	}
}
