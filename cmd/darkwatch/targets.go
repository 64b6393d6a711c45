package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/results/store"
	"darkwatch/schedule"
)

func (a *app) targetsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "targets",
		Short:   "What the configuration's target sets resolve to now: each prefix and where it came from",
		Long:    help("targets"),
		Example: help("targets.example"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(a.cfg.Targets) == 0 {
				return cli.Usagef("no target sets: give --config FILE with targets:")
			}
			r, err := a.resolve(cmd)
			if err != nil {
				return err
			}
			for _, w := range r.CanariesInside(&a.cfg.Config) {
				fmt.Fprintf(os.Stderr, "darkwatch: warning: canary %s lies inside %s of target set %s: canaries must be far from the targets\n",
					w.Canary, w.Prefix, w.Set)
			}
			if err := r.Write(a.stdout, a.json); err != nil {
				return cli.Exit(cli.Failure, err)
			}
			switch empty := r.Empty(); len(empty) {
			case 0:
			case 1:
				return cli.Exit(cli.Some, fmt.Errorf("target set %s resolves to no prefix (see above)", empty[0].Name))
			default:
				return cli.Exit(cli.Some, fmt.Errorf("%d named target sets resolve to no prefix (see above)", len(empty)))
			}
			return nil
		},
	}
}

// resolve resolves the configuration's target sets now, from the store
// when a set is named.
func (a *app) resolve(cmd *cobra.Command) (*schedule.Resolution, error) {
	var src schedule.EntitySource
	if a.cfg.Named() {
		st, err := a.openStore(cmd)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		src = st
	}
	r, err := schedule.Resolve(cmd.Context(), src, &a.cfg.Config, time.Time{})
	return r, cli.Failed(err)
}

// resolved is the configuration with its named target sets resolved from
// st as of at, or now when at is zero (the configuration itself when none is
// named).
func (a *app) resolved(ctx context.Context, st *store.Store, at time.Time) (*schedule.Config, error) {
	cfg := &a.cfg.Config
	if !cfg.Named() {
		return cfg, nil
	}
	var r *schedule.Resolution
	var err error
	if at.IsZero() {
		r, err = a.resolver.Resolve(ctx, st, cfg)
	} else {
		r, err = schedule.Resolve(ctx, st, cfg, at)
	}
	if err != nil {
		return nil, cli.Exit(cli.Failure, err)
	}
	for _, s := range r.Empty() {
		a.log.Warn("a named target set resolves to no prefix", "set", s.Name, "by", s.By)
	}
	return r.Apply(cfg), nil
}
