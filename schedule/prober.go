package schedule

import (
	"context"
	"net/netip"
	"time"

	"darkwatch/probe"
	"darkwatch/results"
)

// Prober is all the scheduler needs from the probes it drives: one-shot
// probers of a method, and sweeps of an address space. NetProber
// implements it with package probe; tests implement it with fakes.
type Prober interface {
	// Open returns a prober of method (results.MethodICMP, ...) set up with
	// c. The scheduler probes many targets with it at once, then closes it.
	Open(method string, c probe.Config) (probe.Prober, error)
	// Sweep probes every address of job.Space once (1+job.Retries times)
	// with job.Method, in the order of job.Perm, under job's caps, and gives
	// every record to emit (from any goroutine). When ctx ends it stops
	// sending, reads replies for job.Cooldown and returns what it took.
	Sweep(ctx context.Context, job *SweepJob, emit func(results.Record)) (probe.SweepStats, error)
}

// SweepJob is one sweep of a space with one method, as `sweep`, `census` and
// each round of `run` do it.
type SweepJob struct {
	Method Method
	Space  *Space
	// Perm gives a fresh walk of the space (or of a shard of it).
	Perm     func() (*Permutation, error)
	Vantage  string
	Round    int64
	Retries  int
	Cooldown time.Duration
	// Timeout is how long a trace waits for a hop's reply.
	Timeout time.Duration
	TTL     int
	Contact string
	Source  netip.Addr
	// Permit is asked before any packet is sent (the blocklist).
	Permit   func(netip.Addr) error
	Rate     int  // packets per second, 0: no cap
	PerBlock int  // packets per second to one /24, 0: no cap
	All      bool // a timeout record for every target that did not answer
	Parallel int  // traces in flight
}

// DefaultTraceParallel is how many traces a sweep keeps in flight unless told:
// enough that the traces waiting for their /24's cap leave the other /24s busy.
const DefaultTraceParallel = 1024
