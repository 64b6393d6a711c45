package main

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/report"
	"darkwatch/results/store"
)

func (a *app) verdictCommand() *cobra.Command {
	var level, at, since, until string
	cmd := &cobra.Command{
		Use:     "verdict [--level L] [--at T | --since T --until T]",
		Short:   "What the records in the store say: reachable, partial, outage, ... per entity",
		Long:    help("verdict"),
		Example: help("verdict.example"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(results.Levels, level) {
				return cli.Usagef("--level %q: use one of %s", level, strings.Join(results.Levels, ", "))
			}
			now := time.Now().UTC()
			var t0, t1, tAt time.Time
			var err error
			if at != "" && (since != "" || until != "") {
				return cli.Usagef("--at goes alone, or --since with --until")
			}
			if tAt, err = results.ParseTime(at, now); err != nil {
				return cli.Usagef("--at: %v", err)
			}
			if t0, t1, err = parseSpan(since, until, now); err != nil {
				return err
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			vs, _, err := a.analyze(cmd.Context(), st, t0, cmp.Or(t1, tAt, now))
			if err != nil {
				return err
			}
			vs = results.SelectVerdicts(vs, level, t0, t1, tAt)
			if level == results.LevelVantage {
				// What failed in the rounds shown: of the span, or of the round in force.
				to := cmp.Or(t1, tAt, now)
				fs, err := st.Failures(cmd.Context(), cmp.Or(t0, to.Add(-2*a.cfg.Round)), to)
				if err != nil {
					return cli.Failed(err)
				}
				vs = results.AddFailures(vs, fs, a.cfg.Round, !t0.IsZero())
			}
			if err := report.WriteVerdicts(a.stdout, vs, a.json); err != nil {
				return err
			}
			if !results.AllReachable(vs) {
				return cli.Exit(cli.Some, nil)
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
		return t0, t1, cli.Usagef("--since: %v", err)
	}
	if t1, err = results.ParseTime(until, now); err != nil {
		return t0, t1, cli.Usagef("--until: %v", err)
	}
	return t0, t1, nil
}

// analyze runs results' one analysis (Analysis.Update) of the rounds from
// since to until over the store, as the configuration describes them: its
// named target sets as they were at until, when that is a round or more ago.
func (a *app) analyze(ctx context.Context, st *store.Store, since, until time.Time) ([]results.Verdict, []results.Event, error) {
	at := until
	if time.Since(until) < a.cfg.Round {
		at = time.Time{}
	}
	cfg, err := a.resolved(ctx, st, at)
	if err != nil {
		return nil, nil, err
	}
	vs, evs, err := cfg.Analysis().Update(ctx, store.AnalysisSource(st), a.cfg.BGP.Visibility(), since, until, a.log)
	if err != nil {
		return nil, nil, cli.Exit(cli.Failure, err)
	}
	return vs, evs, nil
}
