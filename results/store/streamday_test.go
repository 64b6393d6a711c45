package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"darkwatch/results"
)

// The streaming benchmark: one day of a large deployment, 100,000 /24 blocks
// watched from three vantage points in 11-minute rounds, stored as `run`
// stores it, then analysed by results.Analysis.StreamWindow from the store.
// The blocks lie in 240.0.0.0/7 (reserved, never routed): the records are
// made up, and no address of them is ever probed.
const (
	dayRound    = 11 * time.Minute
	dayRounds   = 24 * 60 / 11 // 130 rounds and a bit: a day
	dayVantages = 3
	dayE        = 16  // |E(b)| of every block
	dayA        = 0.8 // its availability
	daySpread   = time.Minute
)

// dayBlocks is how many blocks the benchmark watches:
// DARKWATCH_BENCH_BLOCKS, 100,000 by default.
func dayBlocks() int {
	if n, err := strconv.Atoi(os.Getenv("DARKWATCH_BENCH_BLOCKS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var dayStart = time.Unix(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).Unix()/660*660, 0).UTC()

// dayBlock is the i-th block of the day.
func dayBlock(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{240 + byte(i>>16), byte(i >> 8), byte(i), 0}), 24)
}

// dayE is block i's E(b): dayE addresses spread over the /24.
func dayEOf(i int) []netip.Addr {
	a4 := dayBlock(i).Addr().As4()
	e := make([]netip.Addr, dayE)
	for j := range e {
		a4[3] = byte(1 + j*15)
		e[j] = netip.AddrFrom4(a4)
	}
	return e
}

// daySets puts the blocks in /16 prefixes of 32 ASes in 4 countries.
func daySets(blocks int) []results.TargetSet {
	var sets []results.TargetSet
	for p := 0; p*256 < blocks; p++ {
		sets = append(sets, results.TargetSet{
			Name:     fmt.Sprintf("p%d", p),
			Prefixes: []netip.Prefix{netip.PrefixFrom(dayBlock(p*256).Addr(), 16)},
			ASN:      uint32(64500 + p%32), Country: []string{"AA", "BB", "CC", "DD"}[p%4],
		})
	}
	return sets
}

// dayDark says whether block i is in an outage in round k: one block in a
// hundred goes dark for 12 rounds at a time its index picks.
func dayDark(i, k int) bool {
	if i%100 != 7 {
		return false
	}
	start := (i / 100) % (dayRounds - 12)
	return k >= start && k < start+12
}

// buildDay writes the day into a new SQLite store at path: the census, then
// round after round each vantage point's Trinocular rounds of every block,
// ingested a vantage-round at a time.
func buildDay(ctx context.Context, path string, blocks int) error {
	tmp := path + ".part"
	os.Remove(tmp)
	s, err := Open(ctx, "sqlite://"+tmp)
	if err != nil {
		return err
	}
	defer s.Close()
	var census []Block
	for v := range dayVantages {
		for i := range blocks {
			census = append(census, Block{Prefix: dayBlock(i), Vantage: fmt.Sprintf("vp%d", v+1), Method: results.MethodICMP,
				E: dayEOf(i), A: dayA, Censuses: 1, Updated: dayStart})
		}
	}
	if err := s.PutBlocks(ctx, census); err != nil {
		return err
	}
	census = nil
	rng := rand.New(rand.NewPCG(1, 2))
	beliefs := make([]results.Belief, dayVantages*blocks)
	for k := range dayRounds {
		for v := range dayVantages {
			vantage := fmt.Sprintf("vp%d", v+1)
			at := dayStart.Add(time.Duration(k) * dayRound)
			var recs []results.Record
			for i := range blocks {
				dark := dayDark(i, k)
				when := at.Add(time.Duration(i) * daySpread / time.Duration(blocks))
				res := results.BlockRound{A: dayA, E: dayEOf(i), Prior: beliefs[v*blocks+i], Rand: rng}.Run(func(a netip.Addr) bool {
					ok := !dark && rng.Float64() < dayA
					r := results.Record{Time: when, Vantage: vantage, Round: int64(k) + dayStart.Unix()/660,
						Method: results.MethodICMP, Target: a.String(), Outcome: results.OutcomeTimeout, Seq: len(recs)}
					if ok {
						r.Outcome, r.RTTms = results.OutcomeReply, 180+rng.Float64()*20
					}
					recs = append(recs, r)
					when = when.Add(time.Millisecond)
					return ok
				})
				beliefs[v*blocks+i] = res.Belief
			}
			if _, err := s.Ingest(ctx, recs); err != nil {
				return err
			}
		}
	}
	if err := s.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// dayFigures is what one analysis of the day measured, as the child process
// reports it.
type dayFigures struct {
	Records, Verdicts int
	Events            int
	Seconds           float64
}

// streamDay analyses the day in the store at path, as `verdict --since`
// would read it, and prints its figures as JSON. It runs in a process of its
// own, so that its peak RSS is the analysis's alone.
func streamDay(path string, blocks int) error {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		return err
	}
	defer s.Close()
	src := AnalysisSource(s)
	if p := os.Getenv("DARKWATCH_STREAM_PROFILE"); p != "" { // a CPU profile of the analysis
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	census, err := src.Census(ctx)
	if err != nil {
		return err
	}
	an := results.Analysis{Sets: daySets(blocks), Census: census, Quorum: 2, Round: dayRound}
	census = nil
	var f dayFigures
	w := results.Window{Since: dayStart, Until: dayStart.Add(dayRounds * dayRound)}
	counter := countingSource{Source: src, n: &f.Records}
	if p := os.Getenv("DARKWATCH_STREAM_MEMPROFILE"); p != "" { // what the analysis holds at noon
		counter.noon, counter.profile = dayStart.Add(12*time.Hour), p
	}
	evs, err := an.StreamWindow(ctx, counter, w, func(results.Verdict) error {
		f.Verdicts++
		return nil
	})
	if err != nil {
		return err
	}
	f.Events, f.Seconds = len(evs), time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(f)
}

// writeHeapProfile writes a heap profile to the file path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// countingSource counts the records a Source gives, read as its
// ProbeSource reads them, and writes a heap profile to the file profile
// at the first record at or after noon, when one is asked for: midway
// through the day, the analysis holds what it holds at any time of it.
type countingSource struct {
	results.Source
	n       *int
	noon    time.Time
	profile string
}

func (c countingSource) EachProbe(ctx context.Context, since, until time.Time, fn func(*results.Record, netip.Addr) error) error {
	profiled := c.profile == ""
	return c.Source.(results.ProbeSource).EachProbe(ctx, since, until, func(r *results.Record, a netip.Addr) error {
		*c.n++
		if !profiled && !r.Time.Before(c.noon) {
			profiled = true
			if err := writeHeapProfile(c.profile); err != nil {
				return err
			}
		}
		return fn(r, a)
	})
}

func (c countingSource) EachRecord(ctx context.Context, since, until time.Time, fn func(results.Record) error) error {
	return c.Source.EachRecord(ctx, since, until, func(r results.Record) error {
		*c.n++
		return fn(r)
	})
}

// BenchmarkStreamDay analyses one day of DARKWATCH_BENCH_BLOCKS blocks
// (100,000 by default) × 3 vantage points at 11-minute rounds from a SQLite
// store, and reports the time and the peak RSS of the process that does it
// (DARKWATCH_STREAM_PROFILE=FILE writes that process's CPU profile,
// DARKWATCH_STREAM_MEMPROFILE=FILE its heap profile at noon). The CPU
// time of that process (process-cpu-s, the store's opening and the census
// read included) is the figure to compare on a machine shared with other
// work, where the wall-clock seconds mostly measure the others.
// The store is built once (several minutes) and kept in the temporary
// directory for the next run. The goal: at most 60 s and 1 GiB for 100,000
// blocks.
func BenchmarkStreamDay(b *testing.B) {
	blocks := dayBlocks()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("darkwatch-streamday-%d.db", blocks))
	if _, err := os.Stat(path); err != nil {
		b.Logf("building %s: %d blocks × %d vantage points × %d rounds", path, blocks, dayVantages, dayRounds)
		t := time.Now()
		if err := buildDay(context.Background(), path, blocks); err != nil {
			b.Fatal(err)
		}
		b.Logf("built in %v", time.Since(t).Round(time.Second))
	}
	b.ResetTimer()
	var f dayFigures
	peak := int64(0)
	var cpu time.Duration
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "DARKWATCH_STREAM_DAY="+path, "DARKWATCH_BENCH_BLOCKS="+strconv.Itoa(blocks))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("analysis: %v", err)
		}
		if err := json.Unmarshal(out, &f); err != nil {
			b.Fatalf("analysis printed %q: %v", out, err)
		}
		peak = max(peak, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.StopTimer()
	if want := blocks * dayVantages * dayRounds; f.Records < want {
		b.Fatalf("read %d records, want at least %d", f.Records, want)
	}
	if f.Events == 0 {
		b.Fatal("no outage events found in a day with outages")
	}
	b.ReportMetric(f.Seconds, "analysis-s")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(f.Records)/f.Seconds, "records/s")
	b.ReportMetric(cpu.Seconds(), "process-cpu-s")
	b.Logf("%d records, %d verdicts, %d events in %.1f s (the process's CPU: %.1f s), peak RSS %d MiB",
		f.Records, f.Verdicts, f.Events, f.Seconds, cpu.Seconds(), peak/1024)
}
