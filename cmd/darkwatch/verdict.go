package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/results"
	"darkwatch/results/store"
)

// levels are the entity levels `verdict --level` takes.
var levels = []string{results.LevelHost, results.LevelBlock, results.LevelPrefix, results.LevelASN, results.LevelCountry, results.LevelVantage}

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
			if !slices.Contains(levels, level) {
				return usageErr("--level %q: use one of %s", level, strings.Join(levels, ", "))
			}
			now := time.Now().UTC()
			var t0, t1, tAt time.Time
			var err error
			if at != "" && (since != "" || until != "") {
				return usageErr("--at goes alone, or --since with --until")
			}
			if tAt, err = parseWhen(at, now); err != nil {
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
			vs = selectVerdicts(vs, level, t0, t1, tAt)
			if a.json {
				w := results.NewWriter(a.stdout, true)
				for i := range vs {
					if err := w.Encode(vs[i]); err != nil {
						return err
					}
				}
				if err := w.Flush(); err != nil {
					return err
				}
			} else {
				printVerdicts(a.stdout, vs)
			}
			for _, v := range vs {
				if v.Verdict != results.VerdictReachable && v.Verdict != results.VerdictHealthy {
					return &exitError{code: exitSome}
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&level, "level", "l", results.LevelPrefix, "entity level: "+strings.Join(levels, ", "))
	fl.StringVar(&at, "at", "", "the verdicts in force at `time`")
	fl.StringVar(&since, "since", "", "every round's verdict from `time` on")
	fl.StringVar(&until, "until", "", "up to `time` (default now)")
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration back from now; "" is zero.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-21T22:00:00Z) nor a duration (6h)", s)
	}
	return t.UTC(), nil
}

// parseSpan reads --since and --until with parseWhen; a bad one is a usage
// error naming its flag.
func parseSpan(since, until string, now time.Time) (t0, t1 time.Time, err error) {
	if t0, err = parseWhen(since, now); err != nil {
		return t0, t1, usageErr("--since: %v", err)
	}
	if t1, err = parseWhen(until, now); err != nil {
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

// analyze runs the analysis the configuration describes over the window
// from since to until (results.Window: since zero is the live verdict) with
// the store's census and routes. What it concludes is saved to the store as
// well (see saveAnalysis); a store that refuses it (a read-only role, a full
// disk) is logged and does not stop the caller.
func (a *app) analyze(ctx context.Context, st store.Store, since, until time.Time) ([]results.Verdict, []results.Event, error) {
	an := a.analysis()
	if blocks, err := st.Blocks(ctx); err == nil {
		for _, b := range blocks {
			an.Census = append(an.Census, results.BlockStat{Vantage: b.Vantage, Method: b.Method, Block: b.Prefix, E: b.E, A: b.A, Sparse: b.Sparse})
		}
	} else {
		a.log.Warn("census unknown: reading the store's blocks failed", "err", err)
	}
	w := results.Window{Since: since, Until: until.Add(time.Nanosecond)}
	var err error
	if an.ControlPlane, err = a.controlPlane(ctx, st, &an, w.Read(an.Round), until); err != nil {
		a.log.Warn("control plane unknown: reading the store's routes failed", "err", err)
	}
	vs, evs, err := an.AnalyzeWindow(ctx, store.AnalysisSource(st), w)
	if err != nil {
		return nil, nil, &exitError{code: exitFailure, err: err}
	}
	if err := saveAnalysis(ctx, st, vs, evs, w.Read(an.Round), w.Trusted(an.Round), an.Round); err != nil {
		a.log.Warn("verdicts not saved to the store", "err", err)
	}
	return vs, evs, nil
}

// saveAnalysis stores an analysis of the records from `from` on: the verdicts
// at or after trusted (earlier ones only warm the beliefs and baselines up),
// and the events, which replace those stored that start after the first
// round read. An event that starts in the analysis' first round may have
// begun earlier, before the records read: when the store holds such an event
// of the same entity and kind, still open or ended within a round of from, it
// is that event going on, and is stored under its first start, with its
// minutes and severity grown to match.
func saveAnalysis(ctx context.Context, st store.Store, vs []results.Verdict, evs []results.Event, from, trusted time.Time, round time.Duration) error {
	keep := make([]results.Verdict, 0, len(vs))
	for _, v := range vs {
		if !v.Time.Before(trusted) {
			keep = append(keep, v)
		}
	}
	if err := st.PutVerdicts(ctx, keep); err != nil {
		return err
	}
	var earlier []results.Event
	for i := range evs {
		e := &evs[i]
		if from.IsZero() || e.Start.After(from.Add(round)) {
			continue
		}
		if earlier == nil {
			var err error
			if earlier, err = st.Events(ctx, from.Add(-round), from.Add(round)); err != nil {
				return err
			}
		}
		for _, old := range earlier {
			if old.Level != e.Level || old.Entity != e.Entity || old.Kind != e.Kind || !old.Start.Before(e.Start) ||
				!old.End.IsZero() && old.End.Before(from.Add(-round)) {
				continue
			}
			grown := e.Minutes + e.Start.Sub(old.Start).Minutes()
			if e.Minutes > 0 {
				e.Severity *= grown / e.Minutes
			}
			e.Start, e.Minutes = old.Start, grown
			break
		}
	}
	// Every event that starts after the first round read is this
	// analysis' to say: one an earlier analysis stored there and this one
	// does not find (its start moved as later records came in) goes.
	after := from.Add(round)
	if from.IsZero() {
		after = time.Time{}
	}
	return st.ReplaceEvents(ctx, after, evs)
}

// analysis describes the configuration's entities to the analysis.
func (a *app) analysis() results.Analysis {
	c := a.cfg
	an := results.Analysis{Quorum: c.Quorum, Round: c.Round}
	for _, ts := range c.Targets {
		set := results.TargetSet{Name: ts.Name, ASN: ts.ASN, Country: ts.Country}
		for _, p := range ts.Prefixes {
			set.Prefixes = append(set.Prefixes, netip.MustParsePrefix(p).Masked())
		}
		an.Sets = append(an.Sets, set)
		for _, h := range ts.Hosts {
			an.Hosts = append(an.Hosts, netip.MustParseAddr(h.Addr))
		}
	}
	for _, h := range c.Canaries {
		an.Canaries = append(an.Canaries, netip.MustParseAddr(h.Addr))
	}
	return an
}

// selectVerdicts keeps level's verdicts: the latest per entity at tAt (or
// now), or all of [t0, t1).
func selectVerdicts(vs []results.Verdict, level string, t0, t1, tAt time.Time) []results.Verdict {
	var out []results.Verdict
	latest := map[string]int{}
	for _, v := range vs {
		if v.Level != level {
			continue
		}
		if !t0.IsZero() {
			if !v.Time.Before(t0) && (t1.IsZero() || v.Time.Before(t1)) {
				out = append(out, v)
			}
			continue
		}
		if !tAt.IsZero() && v.Time.After(tAt) {
			continue
		}
		if i, ok := latest[v.Entity]; !ok || out[i].Time.Before(v.Time) {
			if ok {
				out[i] = v
			} else {
				latest[v.Entity] = len(out)
				out = append(out, v)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Entity != out[j].Entity {
			return out[i].Entity < out[j].Entity
		}
		return out[i].Time.Before(out[j].Time)
	})
	return out
}

func printVerdicts(f *os.File, vs []results.Verdict) {
	tw := tabwriter.NewWriter(f, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tLEVEL\tENTITY\tVERDICT\tDATA\tCONTROL\tVANTAGES up/down/gap\tDETAIL")
	for _, v := range vs {
		van := ""
		if v.Vantages != nil {
			van = fmt.Sprintf("%d/%d/%d", v.Vantages.Up, v.Vantages.Down, v.Vantages.Gap)
		}
		var detail []string
		if v.Up != nil && v.Total != nil {
			detail = append(detail, fmt.Sprintf("%d/%d blocks up", *v.Up, *v.Total))
		}
		for m, s := range v.Methods {
			detail = append(detail, m+"="+s)
		}
		sort.Strings(detail)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Time.Format(time.RFC3339), v.Level, v.Entity, v.Verdict,
			v.DataPlane, v.ControlPlane, van, strings.Join(detail, " "))
	}
	tw.Flush()
	if len(vs) == 0 {
		fmt.Fprintln(f, "(no verdicts: the store holds no records for that time)")
	}
}
