// Package schedule is darkwatch's scheduler: it decides what to probe, when and
// how fast, and drives the probes.
//
//   - what: target spaces (targets.go), the blocklist, rendezvous assignment of
//     /24 blocks to vantage points (shard.go), the census blocks left to
//     adaptive probing (blocks.go);
//   - how fast: random permutations and shards (permute.go), the global and
//     per-/24 rate caps (rate.go);
//   - when: round boundaries aligned to the epoch (round.go) and the Daemon
//     that plays rounds until SIGTERM, reloading its configuration on SIGHUP
//     (daemon.go, engine.go), with Trinocular's adaptive probing of census
//     blocks (adaptive.go) and the census that feeds it (census.go).
//
// It owns its section of the configuration (Config, with Validate) and counts
// what it does in Prometheus Metrics that the caller registers.
//
// It reaches the network only through the Prober interface (prober.go), which
// NetProber implements with package probe (netprober.go; sweep.go runs the
// stateless engine and parallel traces) and tests implement with fakes. A Lock
// (lock.go) keeps two sweeps started by cron from overlapping. It keeps census
// blocks and beliefs through results/store. It must not know about viper,
// flags, environment variables or cobra (the command line turns those into a
// Config), about the collector transport, or about how records are written:
// records go to the caller's Emit and are made durable by its Commit. It never
// imports cmd.
package schedule
