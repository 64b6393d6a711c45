package main

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results/bgp"
	"darkwatch/results/bgp/live"
	"darkwatch/results/store"
)

func (a *app) bgpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bgp",
		Short: "The control plane: read MRT dumps, load them into the store, show a prefix's visibility",
		Long:  help("bgp"),
	}
	cmd.AddCommand(a.bgpDumpCommand(), a.bgpImportCommand(), a.bgpShowCommand(), a.bgpCollectCommand())
	return cmd
}

func (a *app) bgpDumpCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "dump FILE...",
		Short:   "Print MRT files as bgpdump -m does",
		Long:    help("bgp-dump"),
		Example: help("bgp-dump.example"),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := bgp.Files(args)
			if err != nil {
				return cli.Exit(cli.Usage, err)
			}
			return filesDone(bgp.DumpFiles(a.stdout, files))
		},
	}
}

func (a *app) bgpImportCommand() *cobra.Command {
	var watch time.Duration
	cmd := &cobra.Command{
		Use:     "import [FILE...] [--watch D]",
		Short:   "Load MRT files (announcements, withdrawals, RIB entries) into the store, idempotently",
		Long:    help("bgp-import"),
		Example: help("bgp-import.example"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = a.cfg.BGP.MRT
			}
			if len(args) == 0 {
				return cli.Usagef("bgp import: name MRT files or directories, or list them in bgp.mrt of the configuration")
			}
			if watch < 0 {
				return cli.Usagef("--watch %v: must be positive", watch)
			}
			if watch > 0 {
				return a.withStore(func(cmd *cobra.Command, args []string, st *store.Store) error {
					return cli.Failed(bgp.Watch(cmd.Context(), st, args, watch, a.log))
				})(cmd, args)
			}
			files, err := bgp.Files(args)
			if err != nil {
				return cli.Exit(cli.Usage, err)
			}
			return a.withStore(func(cmd *cobra.Command, _ []string, st *store.Store) error {
				return filesDone(bgp.ImportFiles(cmd.Context(), st, files, os.Stderr))
			})(cmd, args)
		},
	}
	cmd.Flags().DurationVar(&watch, "watch", 0, "keep importing new and changed files, looking every `D` (0: import once)")
	return cmd
}

func (a *app) bgpShowCommand() *cobra.Command {
	var since, until string
	var bin time.Duration
	cmd := &cobra.Command{
		Use:     "show PREFIX",
		Short:   "A prefix's visibility over time, from the routes in the store",
		Long:    help("bgp-show"),
		Example: help("bgp-show.example"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, err := netip.ParsePrefix(args[0])
			if err != nil {
				return cli.Usagef("%q is not a CIDR prefix", args[0])
			}
			prefix = prefix.Masked()
			if bin <= 0 {
				return cli.Usagef("--bin must be positive, not %v", bin)
			}
			now := time.Now().UTC()
			t0, t1, err := parseSpan(since, until, now)
			if err != nil {
				return err
			}
			return a.withStore(func(cmd *cobra.Command, _ []string, st *store.Store) error {
				return a.showTimeline(cmd, st, prefix, t0, t1, bin)
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first time bin (RFC 3339 or a duration back from now)")
	cmd.Flags().StringVar(&until, "until", "", "last time bin (RFC 3339 or a duration back from now)")
	cmd.Flags().DurationVar(&bin, "bin", 5*time.Minute, "time bin width")
	return cmd
}

// showTimeline prints prefix's visibility from t0 to t1 in bins.
func (a *app) showTimeline(cmd *cobra.Command, st *store.Store, prefix netip.Prefix, t0, t1 time.Time, bin time.Duration) error {
	q := store.RouteQuery{}
	if !t1.IsZero() {
		q.Until = t1.Add(time.Nanosecond) // the routes of the last bin too
	}
	routes, err := store.Routes(cmd.Context(), st, q)
	if err != nil {
		return cli.Exit(cli.Failure, err)
	}
	if len(routes) == 0 {
		return cli.Exit(cli.Some, fmt.Errorf("no routes in the store %s: load some with darkwatch bgp import", store.Redact(a.cfg.Store)))
	}
	vis := bgp.Timeline(routes, prefix, t0, t1, bin, a.cfg.BGP.Visibility())
	return bgp.WriteTimeline(a.stdout, vis, a.json)
}

func (a *app) bgpCollectCommand() *cobra.Command {
	var listen []string
	cmd := &cobra.Command{
		Use:     "collect [--listen ADDR:PORT]...",
		Short:   "Run a passive BGP route collector that stores its peers' routes",
		Long:    help("bgp-collect"),
		Example: help("bgp-collect.example"),
		Args:    cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, st *store.Store) error {
			cc, err := live.ConfigFor(a.cfg.BGP, listen)
			if err != nil {
				return cli.Usagef("%v", err)
			}
			cc.Logger = a.log
			err = live.Collect(cmd.Context(), st, cc, a.stdout, a.log)
			if cmd.Context().Err() != nil {
				return nil
			}
			return cli.Failed(err)
		}),
	}
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "accept sessions on `ADDR:PORT` (repeatable; default bgp.listen, else 0.0.0.0:179 and [::]:179)")
	return cmd
}
