package schedule

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeMetrics: the daemon's metrics and the process's are served on
// /metrics, with their help, until the context ends.
func TestServeMetrics(t *testing.T) {
	m := NewMetrics()
	m.Sent.WithLabelValues("icmp").Add(3)
	m.Errors.WithLabelValues(StageSweep).Inc()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := ServeMetrics(ctx, m.Registry(), "127.0.0.1:0")
	if err != nil {
		t.Skipf("no listening socket: %v", err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`darkwatch_probes_sent_total{method="icmp"} 3`,
		"# HELP darkwatch_probes_sent_total Probes sent, by method.",
		`darkwatch_round_errors_total{stage="sweep"} 1`,
		"darkwatch_round_duration_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if addr, err := ServeMetrics(ctx, m.Registry(), ""); addr != nil || err != nil {
		t.Errorf("empty address: %v, %v", addr, err)
	}
}
