package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results/recfile"
	"darkwatch/results/report"
	"darkwatch/results/store"
)

func (a *app) reportCommand() *cobra.Command {
	var format, out, since, until, title string
	cmd := &cobra.Command{
		Use:     "report [--format text|csv|json|html|atlas] [--out FILE]",
		Short:   "Per-target availability, RTTs, outcomes, outage intervals and per-prefix timelines",
		Long:    help("report"),
		Example: help("report.example"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(report.Formats, format) {
				return cli.Usagef("--format %q: use one of %s", format, strings.Join(report.Formats, ", "))
			}
			now := time.Now().UTC()
			t0, t1, err := parseSpan(since, until, now)
			if err != nil {
				return err
			}
			t0, t1 = report.Window(t0, t1, now)
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			vs, evs, err := a.analyze(cmd.Context(), st, t0, t1)
			if err != nil {
				return err
			}
			recs, err := st.Records(cmd.Context(), store.Query{Since: t0, Until: t1})
			if err != nil {
				return cli.Exit(cli.Failure, err)
			}
			in := report.Input{Records: recs, Verdicts: vs, Events: evs, Since: t0, Until: t1, Title: cmp.Or(title, report.Title(t0, t1)),
				Atlas: report.AtlasOptions{Timeout: a.cfg.Probe.Timeout, Addrs: a.vantageAddrs()}}
			err = recfile.WriteOut(out, a.stdout, func(w io.Writer) error { return report.Write(w, format, in) })
			if err != nil {
				return cli.Exit(cli.Failure, fmt.Errorf("--out: %w", err))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "f", "text", "text, csv, json, html or atlas")
	fl.StringVarP(&out, "out", "o", "", "write to `FILE` (default stdout)")
	fl.StringVar(&since, "since", "", "from `time` (default 24h before --until)")
	fl.StringVar(&until, "until", "", "to `time` (default now)")
	fl.StringVar(&title, "title", "", "report title")
	return cmd
}

// vantageAddrs maps this vantage to its configured probe source address
// (none when probe.source is unset), for the Atlas results of records that
// do not carry their own.
func (a *app) vantageAddrs() map[string]string {
	if a.cfg.Probe.Source == "" {
		return nil
	}
	return map[string]string{a.cfg.Vantage: a.cfg.Probe.Source}
}
