package probe

import (
	"context"
	"sync"

	"darkwatch/results"
)

// ProbeAll probes the targets with p, parallel of them at once, and gives
// each target's records to out in the order of targets, as soon as the
// targets before it are done (out is called by one goroutine at a time). When
// ctx ends no further target is started. It returns the records of each
// target, nil for a target not probed.
func ProbeAll(ctx context.Context, p Prober, targets []Target, parallel int, out func([]results.Record)) [][]results.Record {
	recs := make([][]results.Record, len(targets))
	done := make([]bool, len(targets))
	var mu sync.Mutex
	next := 0
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, t := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := p.Probe(ctx, t)
			mu.Lock()
			defer mu.Unlock()
			recs[i], done[i] = r, true
			for next < len(targets) && done[next] {
				out(recs[next])
				next++
			}
		}()
	}
	wg.Wait()
	return recs
}

// EachAnswered reports whether every target answered at least one of its
// probes, given each target's records as ProbeAll returns them.
func EachAnswered(recs [][]results.Record) bool {
	for _, rs := range recs {
		if !anyAnswered(rs) {
			return false
		}
	}
	return true
}

// anyAnswered reports whether at least one of a target's probes was answered.
func anyAnswered(recs []results.Record) bool {
	for i := range recs {
		if recs[i].Answered() {
			return true
		}
	}
	return false
}
