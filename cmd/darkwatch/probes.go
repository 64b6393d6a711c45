package main

import (
	"context"
	"fmt"
	"os"

	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/schedule"
)

// probes is schedule.Prober over package probe: the one-shot probers of
// probe.Methods and the sweeps of sweepSpace. With bar set, every sweep draws
// a progress bar on stderr when it is a terminal.
type probes struct{ bar bool }

// Open returns a prober of method configured with c.
func (probes) Open(method string, c probe.Config) (probe.Prober, error) {
	newProber, ok := probe.Methods[method]
	if !ok {
		return nil, fmt.Errorf("probe: no method %q", method)
	}
	return newProber(c)
}

// Sweep runs job with the stateless engine (icmp, tcp) or parallel traces.
func (p probes) Sweep(ctx context.Context, job *schedule.SweepJob, emit func(results.Record)) (probe.SweepStats, error) {
	prog := &progress{}
	if p.bar {
		prog = newProgress(os.Stderr, job.Space.Size()*uint64(1+job.Retries))
		defer prog.done()
	}
	return sweepSpace(ctx, job, emit, prog)
}
