package config

import (
	"darkwatch/results/alert"
	"darkwatch/results/bgp/live"
	"darkwatch/results/dashboard"
	"darkwatch/results/serve"
	"darkwatch/results/store"
	"errors"
)

// ServeOptions are the options of the collector (results/serve) as the
// configuration sets them, listening on listen and natsListen ("" for the
// serve: section's addresses) and running the passive BGP route collector
// when bgp.peers are set, sending alerts when the alerts: section names
// receivers. The caller adds the store, the analysis and the log.
func (c *Config) ServeOptions(listen, natsListen string) (serve.Options, error) {
	sc := c.Serve
	o := serve.Options{Config: sc, HTTPListen: sc.HTTPAddr(listen), NATSListen: sc.NATS.ListenAddr(natsListen),
		Round: c.Round, StoreName: store.Redact(c.Store), Targets: c.DashboardTargets(), Vantages: c.Vantages}
	if len(c.BGP.Peers) > 0 {
		cc, err := live.ConfigFor(c.BGP, nil)
		if err != nil {
			return o, err
		}
		o.BGP = &cc
	}
	if c.Alerts.Enabled() {
		o.Alerts = &alert.Options{Config: c.Alerts, Sets: c.Analysis().Sets, Round: c.Round,
			Lookback: sc.AnalysisWindow()}
	}
	return o, nil
}

// DashboardTargets are the configured target sets as the dashboard shows
// them.
func (c *Config) DashboardTargets() []dashboard.Target {
	var targets []dashboard.Target
	for _, ts := range c.Targets {
		t := dashboard.Target{Name: ts.Name, Prefixes: ts.Prefixes, ASN: ts.ASN, Country: ts.Country, Methods: ts.Methods}
		for _, h := range ts.Hosts {
			t.Hosts = append(t.Hosts, h.Addr)
		}
		targets = append(targets, t)
	}
	return targets
}

// ServeError is the error of serve.Run as a configuration error in the
// section it is about (serve: or alerts:) when it is one; other errors are
// returned as they are, and nil is nil.
func ServeError(err error) error {
	var se *serve.ConfigError
	var ae *alert.ConfigError
	switch {
	case errors.As(err, &se):
		return InSection("serve", err)
	case errors.As(err, &ae):
		return InSection("alerts", err)
	}
	return err
}
