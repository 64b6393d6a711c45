package main

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results"
	"darkwatch/results/recfile"
	"darkwatch/results/store"
)

func (a *app) exportCommand() *cobra.Command {
	var since, until, vantage, target, prefix, method, out string
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Write the store's records as JSON Lines, as sweep --out writes them",
		Long:    help("export"),
		Example: help("export.example"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t0, t1, err := parseSpan(since, until, time.Now())
			if err != nil {
				return err
			}
			q := store.Query{Since: t0, Until: t1, Vantage: vantage, Target: target, Method: method}
			if prefix != "" {
				if q.Prefix, err = netip.ParsePrefix(prefix); err != nil {
					return cli.Usagef("--prefix: %v", err)
				}
			}
			return a.withStore(func(cmd *cobra.Command, _ []string, st *store.Store) error {
				ctx := cmd.Context()
				n, err := recfile.Export(out, a.stdout, func(write func(results.Record)) error {
					return st.EachRecord(ctx, q, func(r results.Record) error {
						write(r)
						return ctx.Err()
					})
				})
				if err != nil {
					return cli.Failed(err)
				}
				fmt.Fprintf(os.Stderr, "%d records\n", n)
				return nil
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "records at or after `T` (RFC 3339, or a duration back from now)")
	f.StringVar(&until, "until", "", "records before `T`")
	f.StringVar(&vantage, "vantage", "", "only the records of vantage `NAME`")
	f.StringVar(&target, "target", "", "only the records of `TARGET`")
	f.StringVar(&prefix, "prefix", "", "only the records of targets in `CIDR`")
	f.StringVar(&method, "method", "", "only the records of `METHOD` (icmp, tcp, trace, dns)")
	f.StringVarP(&out, "out", "o", "", "write `FILE` instead of standard output")
	return cmd
}
