package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// EnvPrefix begins every environment variable darkwatch reads.
const EnvPrefix = "DARKWATCH_"

// otherEnv are DARKWATCH_ variables that are not configuration keys: the
// configuration file, and those of the test suite and benchmarks.
var otherEnv = []string{"CONFIG", "TEST_POSTGRES", "ARTIFACTS", "UPDATE_GOLDEN", "BENCH_SECONDS", "ICMP_UNPRIV_CHILD",
	"STORE_HELPER_DB", "STORE_HELPER_START", "STORE_HELPER_VANTAGE"}

// envNames gives the DARKWATCH_ variable of every configuration key: the
// key path of Config's fields, upper case, joined by '_'.
func envNames() []string {
	var names []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if opts == "squash" {
				walk(f.Type, prefix)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			name := prefix + strings.ToUpper(tag)
			names = append(names, EnvPrefix+name)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, name+"_")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	for _, n := range otherEnv {
		names = append(names, EnvPrefix+n)
	}
	return names
}

// UnknownEnv returns a warning for every DARKWATCH_ variable of environ that
// darkwatch does not read, naming the closest one it does: a misspelt
// variable would otherwise be ignored without a word.
func UnknownEnv(environ []string) []string {
	known := envNames()
	var warns []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(known, name) {
			continue
		}
		best, dist := "", -1
		for _, k := range known {
			if d := editDistance(name, k); dist < 0 || d < dist {
				best, dist = k, d
			}
		}
		w := fmt.Sprintf("environment variable %s is not a darkwatch setting and is ignored", name)
		if dist <= max(3, len(name)/4) {
			w += fmt.Sprintf("; did you mean %s?", best)
		}
		warns = append(warns, w)
	}
	return warns
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
