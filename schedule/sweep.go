package schedule

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"darkwatch/probe"
	"darkwatch/results"
)

// Progress is told how a sweep goes: Show as probes go out, Done at its end.
type Progress interface {
	// Show gives the probes sent so far and the targets that answered.
	Show(sent, hits uint64)
	// Done says the sweep is over.
	Done()
}

// noProgress is the Progress of a sweep nobody watches.
type noProgress struct{}

func (noProgress) Show(uint64, uint64) {}
func (noProgress) Done()               {}

// Sweep runs job over package probe and gives its records to emit (from any
// goroutine): icmp and tcp:PORT with the stateless engine, trace with Paris
// traces of every target, many at once. With job.All, a sweep that ran whole
// also emits a timeout record for every target that did not answer. prog,
// when not nil, is shown how the sweep goes; Sweep does not call its Done.
func Sweep(ctx context.Context, job *SweepJob, emit func(results.Record), prog Progress) (probe.SweepStats, error) {
	if prog == nil {
		prog = noProgress{}
	}
	var st probe.SweepStats
	var answered func(netip.Addr) bool
	var err error
	if job.Method.Name == results.MethodTrace {
		st, answered, err = traceSweep(ctx, job, emit, prog)
	} else {
		st, answered, err = engineSweep(ctx, job, emit, prog)
	}
	// Timeouts are known only for a whole sweep: one stopped early never sent
	// to some targets, and which is not known statelessly.
	if err != nil || !job.All || ctx.Err() != nil {
		return st, err
	}
	p, _ := job.Perm()
	for {
		i, ok := p.Next()
		if !ok {
			return st, nil
		}
		ad := job.Space.Index(i)
		if !answered(ad) {
			emit(results.Record{Time: time.Now().UTC(), Vantage: job.Vantage, Round: job.Round,
				Method: job.Method.Name, Target: ad.String(), Port: int(job.Method.Port), Outcome: results.OutcomeTimeout})
		}
	}
}

// engineSweep runs the stateless engine over the space in permutation order.
func engineSweep(ctx context.Context, job *SweepJob, emit func(results.Record), prog Progress) (probe.SweepStats, func(netip.Addr) bool, error) {
	cfg := probe.SweepConfig{
		Vantage: job.Vantage, Round: job.Round, Method: job.Method.Name, Port: job.Method.Port, Source: job.Source,
		TTL: job.TTL, Contact: job.Contact, Retries: job.Retries, Cooldown: job.Cooldown,
		Permit: job.Permit,
	}
	if job.Rate > 0 {
		cfg.Wait = NewLimiter(job.Rate).Wait
	}
	if job.PerBlock > 0 {
		cfg.BlockAllow = NewBlockCap(job.PerBlock).Allow
	}
	s, err := probe.NewSweep(cfg)
	if err != nil {
		return probe.SweepStats{}, nil, err
	}
	defer s.Close()
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			close(stop)
		case <-stop:
		}
	}()
	done := make(chan struct{})
	go showStats(s, prog, done)
	pass := func() probe.AddrIter {
		p, _ := job.Perm()
		return func() (netip.Addr, bool) {
			i, ok := p.Next()
			if !ok {
				return netip.Addr{}, false
			}
			return job.Space.Index(i), true
		}
	}
	st, err := s.Run(stop, pass, emit)
	close(done)
	select {
	case <-stop:
	default:
		close(stop)
	}
	return st, s.Answered, err
}

// showStats shows the engine's figures to prog five times a second until
// done is closed.
func showStats(s *probe.Sweep, prog Progress, done <-chan struct{}) {
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			st := s.Stats()
			prog.Show(st.Sent, st.Hits)
		case <-done:
			return
		}
	}
}

// traceSweep runs Paris traces of every target, many at once, each probe paced
// by the caps.
func traceSweep(ctx context.Context, job *SweepJob, emit func(results.Record), prog Progress) (probe.SweepStats, func(netip.Addr) bool, error) {
	// Traces send from many goroutines: one waiting for its /24's cap holds up
	// no trace of another /24.
	// A collection now, while the heap holds little but what starting the
	// process left (and no trace's goroutine has a stack to scan), is cheap
	// and moves the next one past the start of the traces: otherwise it comes
	// while a thousand goroutines allocate, each made to help it mark. A
	// daemon with a large heap skips it: there it would cost, not save.
	if heapSize() < smallHeap {
		runtime.GC()
	}
	// Without either cap nothing is paced: a probe goes when its trace sends it.
	var opts probe.TraceOptions
	if job.Rate > 0 || job.PerBlock > 0 {
		opts.Pace = NewSharedPacer(job.Rate, job.PerBlock).Pace
	}
	tr, err := probe.NewTrace(probe.Config{
		Vantage: job.Vantage, Round: job.Round, Timeout: job.Timeout, Source: job.Source,
		Contact: job.Contact, Proto: job.Method.Proto, Count: 1, Permit: job.Permit,
		Trace: opts,
	})
	if err != nil {
		return probe.SweepStats{}, nil, err
	}
	defer tr.Close()
	var st probe.SweepStats
	st.Start = time.Now()
	var mu sync.Mutex
	reached := map[netip.Addr]bool{}
	sem := make(chan struct{}, max(job.Parallel, 1))
	var wg sync.WaitGroup
	p, _ := job.Perm()
	for ctx.Err() == nil {
		i, ok := p.Next()
		if !ok {
			break
		}
		ad := job.Space.Index(i)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// A trace already started is finished even on SIGTERM: its hops are data.
			recs := tr.Probe(context.WithoutCancel(ctx), probe.Target{Addr: ad})
			mu.Lock()
			defer mu.Unlock()
			st.Sent++
			for _, r := range recs {
				st.Replies += uint64(len(r.Hops))
				if r.Answered() {
					st.Hits++
					reached[ad] = true
				}
				emit(r)
			}
			prog.Show(st.Sent, st.Hits)
		}()
	}
	wg.Wait()
	st.SendEnd, st.End = time.Now(), time.Now()
	return st, func(ad netip.Addr) bool { mu.Lock(); defer mu.Unlock(); return reached[ad] }, nil
}

// smallHeap is the heap under which a trace sweep collects before its
// traces start.
const smallHeap = 64 << 20

// heapSize is the bytes of heap objects allocated and not yet freed.
func heapSize() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
