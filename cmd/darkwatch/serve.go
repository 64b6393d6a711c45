package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/config"
	"darkwatch/internal/cli"
	"darkwatch/results/serve"
)

func (a *app) serveCommand() *cobra.Command {
	var listen, natsListen string
	cmd := &cobra.Command{
		Use:     "serve [--listen ADDR] [--nats-listen ADDR]",
		Short:   "The collector: receives the nodes' records, keeps verdicts current, serves dashboard, API and metrics",
		Long:    help("serve"),
		Example: help("serve.example"),
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, listen, natsListen) },
	}
	cmd.Flags().StringVar(&listen, "listen", "", "HTTP `addr` of dashboard, API and metrics (default serve.listen, 127.0.0.1:8080)")
	cmd.Flags().StringVar(&natsListen, "nats-listen", "", "client `addr` of the embedded NATS server (default serve.nats.listen; 0.0.0.0:4222 with TLS, else 127.0.0.1:4222)")
	return cmd
}

// serve runs the collector (results/serve) as the configuration and the
// flags say.
func (a *app) serve(cmd *cobra.Command, listen, natsListen string) error {
	o, err := a.cfg.ServeOptions(listen, natsListen)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	o.Log = a.log
	st, err := a.openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	defer a.expire(cmd.Context(), st)()
	o.Store = st
	if a.cfg.Named() {
		// The dashboard lists what named target sets resolve to at start;
		// the verdicts resolve them again at every refresh.
		resolved, err := a.resolved(cmd.Context(), st, time.Time{})
		if err != nil {
			return err
		}
		c := *a.cfg
		c.Config = *resolved
		o.Targets = c.DashboardTargets()
	}
	o.Analyze = func(ctx context.Context, since time.Time) error {
		_, _, err := a.analyze(ctx, st, since.UTC(), time.Now().UTC())
		return err
	}
	err = config.ServeError(serve.Run(cmd.Context(), o))
	var ce *config.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	return cli.Exit(cli.Failure, err)
}
