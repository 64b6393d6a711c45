package results

import "testing"

func TestAllReachable(t *testing.T) {
	for _, c := range []struct {
		name     string
		verdicts []string
		want     bool
	}{
		{"none", nil, true},
		{"reachable and healthy", []string{VerdictReachable, VerdictHealthy}, true},
		{"one outage", []string{VerdictReachable, VerdictOutage}, false},
		{"a vantage down", []string{VerdictVantageDown}, false},
		{"uncertain", []string{VerdictUncertain}, false},
	} {
		var vs []Verdict
		for _, v := range c.verdicts {
			vs = append(vs, Verdict{Verdict: v})
		}
		if got := AllReachable(vs); got != c.want {
			t.Errorf("%s: AllReachable = %v, want %v", c.name, got, c.want)
		}
	}
}
