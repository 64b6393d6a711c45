package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"darkwatch/results/bgp"
)

// Defaults are the values of the keys a configuration leaves out, by key
// path ("rate.pps"). The vantage point is named for the host.
func Defaults() map[string]any {
	host, _ := os.Hostname()
	return map[string]any{
		"vantage":             host,
		"store":               "",
		"store_password_file": "",
		"retention":           time.Duration(0),
		"contact":             "darkwatch measurement probe",
		"rate.pps":            10000,
		"rate.per_block_pps":  10,
		"round":               11 * time.Minute,
		"quorum":              2,
		"probe.timeout":       2 * time.Second,
		"probe.interval":      time.Second,
		"probe.count":         1,
		"probe.parallel":      256,
		"probe.nsid":          false,
		"log_level":           "info",
		"metrics":             "127.0.0.1:9108",
		"bgp.full_feed.ipv4":  bgp.FullFeedIPv4,
		"bgp.full_feed.ipv6":  bgp.FullFeedIPv6,
	}
}

// Decoding sets how values decode into a Config: strictly (an unknown key is
// an error), durations from strings with a unit, lists from comma-separated
// strings.
func Decoding(dc *mapstructure.DecoderConfig) {
	dc.ErrorUnused = true
	dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
		refuseBareDuration,
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)
}

// durationType is the type of every duration key.
var durationType = reflect.TypeFor[time.Duration]()

// refuseBareDuration refuses a number where a duration goes: YAML's
// `timeout: 5` would otherwise be 5 nanoseconds, and every probe would time out.
func refuseBareDuration(from, to reflect.Type, data any) (any, error) {
	if to != durationType || from == durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return nil, fmt.Errorf("%v is a bare number, not a duration: write it with a unit, as %vs (seconds) or %vms", data, data, data)
	}
	return data, nil
}

// DecodeMessage turns the decoder's error list into one readable sentence.
func DecodeMessage(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	s = strings.ReplaceAll(s, "\n", "; ")
	s = strings.ReplaceAll(s, "has invalid keys", "has unknown keys")
	return s
}
