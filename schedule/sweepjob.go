package schedule

import (
	"errors"
	"fmt"
	"time"

	"darkwatch/results"
)

// Shard is the part of a sweep's random order that one machine takes: shard
// Index of Count, the order drawn from Seed (the same on every machine).
type Shard struct {
	Count, Index, Seed uint64
}

// MaxSweepRetries is the most extra passes a sweep makes over its targets.
const MaxSweepRetries = 10

// Prepare makes j a sweep of sh's shard of space, as c configures it: what
// j leaves unset (Round, Rate and PerBlock below 0) comes from c, and so do
// its vantage, contact, probe timeout and TTL. It refuses a method that
// cannot sweep, a shard out of range and too many retries; a zero Seed is
// drawn from the clock.
func (j *SweepJob) Prepare(c *Config, space *Space, sh Shard) error {
	if j.Method.Name == results.MethodDNS {
		return errors.New("method dns: sweeps take icmp, tcp:PORT or trace; probe name servers with darkwatch probe dns")
	}
	if sh.Count == 0 || sh.Index >= sh.Count {
		return fmt.Errorf("shard %d of %d shards: the shard must be 0 .. shards-1", sh.Index, sh.Count)
	}
	if j.Retries < 0 || j.Retries > MaxSweepRetries {
		return fmt.Errorf("retries %d: use 0 to %d", j.Retries, MaxSweepRetries)
	}
	if sh.Seed == 0 {
		sh.Seed = uint64(time.Now().UnixNano())
	}
	if j.Round < 0 {
		j.Round = time.Now().Unix() / int64(c.Round/time.Second)
	}
	if j.Rate < 0 {
		j.Rate = c.Rate.PPS
	}
	if j.PerBlock < 0 {
		j.PerBlock = c.Rate.PerBlockPPS
	}
	j.Space, j.Vantage, j.Contact = space, c.Vantage, c.Contact
	j.Timeout, j.TTL = c.Probe.Timeout, c.Probe.TTL
	j.Perm = func() (*Permutation, error) { return NewShard(space.Size(), sh.Seed, sh.Index, sh.Count) }
	_, err := j.Perm()
	return err
}
