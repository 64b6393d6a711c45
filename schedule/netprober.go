package schedule

import (
	"context"
	"fmt"
	"os"

	"darkwatch/probe"
	"darkwatch/results"
)

// NetProber is the Prober that sends real packets, through package probe: the
// one-shot probers of probe.Methods and the sweeps of Sweep.
type NetProber struct {
	// Bar, when set, is where each sweep draws its ProgressBar (only when
	// Bar is a terminal).
	Bar *os.File
}

// Open returns a prober of method configured with c.
func (NetProber) Open(method string, c probe.Config) (probe.Prober, error) {
	newProber, ok := probe.Methods[method]
	if !ok {
		return nil, fmt.Errorf("probe: no method %q", method)
	}
	return newProber(c)
}

// Sweep runs job with the stateless engine (icmp, tcp) or parallel traces.
func (n NetProber) Sweep(ctx context.Context, job *SweepJob, emit func(results.Record)) (probe.SweepStats, error) {
	var prog Progress
	if n.Bar != nil {
		prog = NewProgressBar(n.Bar, job.Space.Size()*uint64(1+job.Retries))
		defer prog.Done()
	}
	return Sweep(ctx, job, emit, prog)
}
