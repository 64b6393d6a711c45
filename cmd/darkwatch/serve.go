package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/config"
	"darkwatch/results/serve"
)

func (a *app) serveCommand() *cobra.Command {
	var listen, natsListen string
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--nats-listen ADDR]",
		Short: "The collector: receives the nodes' records, keeps verdicts current, serves dashboard, API and metrics",
		Long: `Serve is the collector of a deployment of several vantage points.

It runs a NATS server with JetStream inside itself (serve.nats: listen address,
store_dir for records on their way, TLS with cert_file/key_file, and one user per
node under nodes, who may publish only on darkwatch.results.<its vantage> and its
heartbeat subject), or, with serve.nats.url, uses an external NATS/JetStream cluster.
Every record the nodes publish goes into the store (--store: SQLite or PostgreSQL)
and is acknowledged only once the store has committed it, so nothing is lost when
the collector stops, and nothing is stored twice when a node sends again.

With bgp.peers and bgp.local_asn set, serve is also a passive BGP route collector
(on bgp.listen, default port 179): the peers' announcements and withdrawals go into
the store, and verdicts combine the data plane with that control plane.

At start the verdicts and outage events of the last serve.window (default 6h) are
computed and stored; then every serve.refresh (default: the round) those of the
last rounds are, reaching back to the oldest record that came in meanwhile.

HTTP on --listen (serve.listen, default 127.0.0.1:8080):
  /             the dashboard (open it as /#token=TOKEN, or type the token in)
  /api/...      JSON: verdicts, events, targets, vantages, prefix, target
  /metrics      Prometheus metrics (no secrets, no per-token labels)
  /healthz      200 while the store and NATS are usable
The page and /api/ need a bearer token of serve.tokens (read-only); /metrics and
/healthz do not. SIGTERM or SIGINT stores what was taken and exits 0.`,
		Example: `  darkwatch serve --config /etc/darkwatch/collector.yaml
  darkwatch serve --config configs/lab.yaml --store sqlite:///tmp/collector.db --listen 127.0.0.1:8080
  curl -H "Authorization: Bearer $(cat /etc/darkwatch/api.token)" http://127.0.0.1:8080/api/events?since=24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, listen, natsListen) },
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
		return usageErr("%v", err)
	}
	o.Log = a.log
	st, err := a.openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	o.Store = st
	o.Analyze = func(ctx context.Context, since time.Time) error {
		_, _, err := a.analyze(ctx, st, since.UTC(), time.Now().UTC())
		return err
	}
	err = serve.Run(cmd.Context(), o)
	var ce *serve.ConfigError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return config.InSection("serve", err)
	}
	return &exitError{code: exitFailure, err: err}
}
