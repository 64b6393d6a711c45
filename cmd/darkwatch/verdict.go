package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/results"
	"darkwatch/results/report"
	"darkwatch/results/store"
)

func (a *app) verdictCommand() *cobra.Command {
	var level, at, since, until string
	cmd := &cobra.Command{
		Use:   "verdict [--level L] [--at T | --since T --until T]",
		Short: "What the records in the store say: reachable, partial, outage, ... per entity",
		Long: `Verdict reads the store's records from every vantage point and says, per entity and
round, whether it is reachable in the data plane: host, block (/24), prefix, asn,
country, or vantage (healthy, vantage-down or unknown, from its canaries).

Per vantage and block, the round's probes update a Trinocular belief; a vantage whose
canaries fail is a gap, never an outage; healthy vantages are merged with the quorum
of the config; blocks roll up to prefixes, ASes and countries against a sliding
median. With BGP routes in the store (bgp import, or serve's live collector) each
host, block and prefix verdict combines both planes: data-plane-outage (routed but
unreachable), control-plane-outage (withdrawn and unreachable), reachable-unrouted
(answers though withdrawn); without them the control plane is "unknown".

Without --at or --since, the latest verdict per entity. Times are RFC 3339
(2026-11-21T22:00:00Z) or durations back from now (30m, 6h).
Exit status: 0 nothing is down, 1 some entity is not reachable, 2 usage error.`,
		Example: `  darkwatch verdict --level prefix
  darkwatch verdict --level block --since 6h --json
  darkwatch verdict --level vantage --at 2026-11-21T22:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(results.Levels, level) {
				return usageErr("--level %q: use one of %s", level, strings.Join(results.Levels, ", "))
			}
			now := time.Now().UTC()
			var t0, t1, tAt time.Time
			var err error
			if at != "" && (since != "" || until != "") {
				return usageErr("--at goes alone, or --since with --until")
			}
			if tAt, err = results.ParseTime(at, now); err != nil {
				return usageErr("--at: %v", err)
			}
			if t0, t1, err = parseSpan(since, until, now); err != nil {
				return err
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			vs, _, err := a.analyze(cmd.Context(), st, t0, firstNonZero(t1, tAt, now))
			if err != nil {
				return err
			}
			vs = results.SelectVerdicts(vs, level, t0, t1, tAt)
			if err := report.WriteVerdicts(a.stdout, vs, a.json); err != nil {
				return err
			}
			if !results.AllReachable(vs) {
				return &exitError{code: exitSome}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&level, "level", "l", results.LevelPrefix, "entity level: "+strings.Join(results.Levels, ", "))
	fl.StringVar(&at, "at", "", "the verdicts in force at `time`")
	fl.StringVar(&since, "since", "", "every round's verdict from `time` on")
	fl.StringVar(&until, "until", "", "up to `time` (default now)")
	return cmd
}

// parseSpan reads --since and --until with results.ParseTime; a bad one is a usage
// error naming its flag.
func parseSpan(since, until string, now time.Time) (t0, t1 time.Time, err error) {
	if t0, err = results.ParseTime(since, now); err != nil {
		return t0, t1, usageErr("--since: %v", err)
	}
	if t1, err = results.ParseTime(until, now); err != nil {
		return t0, t1, usageErr("--until: %v", err)
	}
	return t0, t1, nil
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// analyze runs results' one analysis (Analysis.Update) of the rounds from
// since to until over the store, as the configuration describes them.
func (a *app) analyze(ctx context.Context, st store.Store, since, until time.Time) ([]results.Verdict, []results.Event, error) {
	vs, evs, err := a.cfg.Analysis().Update(ctx, store.AnalysisSource(st), a.cfg.BGP.Visibility(), since, until, a.log)
	if err != nil {
		return nil, nil, &exitError{code: exitFailure, err: err}
	}
	return vs, evs, nil
}
