package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/schedule"
)

func (a *app) censusCommand() *cobra.Command {
	var passes int
	var cooldown time.Duration
	var method string
	cmd := &cobra.Command{
		Use:     "census [--passes N]",
		Short:   "Sweep the configured prefixes and hitlists and store, per block, the ever-responsive addresses and their availability",
		Long:    help("census"),
		Example: help("census.example"),
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.runCensus(cmd, passes, cooldown, method) },
	}
	cmd.Flags().IntVar(&passes, "passes", 2, "sweeps of the prefixes (A is measured over them)")
	cmd.Flags().DurationVar(&cooldown, "cooldown", 2*time.Second, "how long to read replies after each pass")
	cmd.Flags().StringVar(&method, "method", "icmp", "icmp or tcp:PORT")
	return cmd
}

// runCensus checks census's flags, takes the census with schedule.Census and
// prints the blocks it stored.
func (a *app) runCensus(cmd *cobra.Command, passes int, cooldown time.Duration, method string) error {
	if passes < 1 || passes > 20 {
		return cli.Usagef("--passes %d: use 1 to 20", passes)
	}
	meth, err := schedule.ParseMethod(method)
	if err != nil || (meth.Name != results.MethodICMP && meth.Name != results.MethodTCP) {
		return cli.Usagef("--method %q: a census takes icmp or tcp:PORT", method)
	}
	st, err := a.openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	c := &schedule.Census{Prober: schedule.NetProber{Bar: os.Stderr}, Store: st, Method: meth, Passes: passes, Cooldown: cooldown,
		OnPass: func(pass int, s probe.SweepStats, size uint64) {
			fmt.Fprintf(os.Stderr, "census pass %d/%d: %d of %d addresses answered\n", pass+1, passes, s.Hits, size)
		}}
	out, err := c.Run(cmd.Context(), &a.cfg.Config)
	if err != nil {
		return err
	}
	return schedule.WriteCensus(a.stdout, out)
}
