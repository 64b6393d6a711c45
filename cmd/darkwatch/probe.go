package main

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"darkwatch/internal/cli"
	"darkwatch/probe"
	"darkwatch/results"
	"darkwatch/schedule"
)

// probeFlags are the flags of the `probe` methods: most set the probe.Config
// straight away, over which the configuration's defaults go.
type probeFlags struct {
	pc           probe.Config
	parallel     int
	source       string
	ports        []string
	qname, qtype string
}

func (a *app) probeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Probe targets once with one method and print what came back",
		Long:  help("probe"),
	}
	cmd.AddCommand(
		a.probeMethod(results.MethodICMP, "icmp [flags] TARGET...", "ICMP echo (ping)",
			help("probe-icmp.example")),
		a.probeMethod(results.MethodTCP, "tcp --port P[,P...] [flags] TARGET...", "TCP SYN (half-open, no connect): open, closed or timeout",
			help("probe-tcp.example")),
		a.probeMethod(results.MethodTrace, "trace [--proto icmp|udp|tcp] [flags] TARGET...", "Paris traceroute: the hops to each target and whether it was reached",
			help("probe-trace.example")),
		a.probeMethod(results.MethodDNS, "dns --qname NAME [--qtype TYPE] [flags] SERVER...", "DNS query (UDP, TCP on truncation): rcode, aa flag, the answers, the NSID",
			help("probe-dns.example")),
	)
	return cmd
}

func (a *app) probeMethod(method, use, short, example string) *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runProbe(cmd, method, &f, args)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.pc.Count, "count", "c", 0, "probes per target (default from config probe.count, 1)")
	fl.DurationVarP(&f.pc.Timeout, "timeout", "W", 0, "wait this long for each reply (default from config probe.timeout, 2s)")
	fl.DurationVarP(&f.pc.Interval, "interval", "i", 0, "wait between probes of one target (default 1s)")
	fl.IntVar(&f.pc.TTL, "ttl", 0, "IP TTL / hop limit of probes (default: the system's)")
	fl.StringVarP(&f.source, "source", "S", "", "source `address` of probes (default: the kernel's choice)")
	fl.IntVarP(&f.parallel, "parallel", "P", 0, "targets probed at once (default from config probe.parallel, 256)")
	switch method {
	case results.MethodICMP:
		fl.BoolVar(&f.pc.ICMP.Unprivileged, "unprivileged", false, "use the kernel's ping socket instead of a raw socket")
	case results.MethodTCP:
		fl.StringSliceVarP(&f.ports, "port", "p", nil, "comma-separated destination `ports` (required)")
		_ = cmd.MarkFlagRequired("port")
	case results.MethodTrace:
		fl.StringVar(&f.pc.Proto, "proto", "icmp", "probe protocol: icmp, udp or tcp")
		fl.StringSliceVarP(&f.ports, "port", "p", nil, "destination `port` for udp (default 33434) or tcp (default 80)")
		fl.IntVarP(&f.pc.Trace.FirstTTL, "first-ttl", "f", 1, "first TTL probed")
		fl.IntVarP(&f.pc.Trace.MaxTTL, "max-ttl", "m", probe.DefaultMaxTTL, "last TTL probed")
		fl.IntVar(&f.pc.Trace.GapLimit, "gap-limit", probe.DefaultGapLimit, "stop after this many silent hops in a row")
	case results.MethodDNS:
		fl.StringVarP(&f.qname, "qname", "q", "", "query `name` (required)")
		fl.StringVarP(&f.qtype, "qtype", "t", "A", "query `type`: A, AAAA, SOA, NS, TXT, ...")
		fl.StringSliceVarP(&f.ports, "port", "p", []string{"53"}, "server `port`")
		fl.BoolVar(&f.pc.DNS.NSID, "nsid", false, "ask the server for its name server identifier (RFC 5001; default from config probe.nsid)")
		_ = cmd.MarkFlagRequired("qname")
	}
	return cmd
}

// runProbe validates everything, refuses blocklisted targets before sending a
// single packet, then probes the targets concurrently and prints records in the
// order the targets were given.
func (a *app) runProbe(cmd *cobra.Command, method string, f *probeFlags, args []string) error {
	ctx := cmd.Context()
	pc, err := a.probeConfig(method, f)
	if err != nil {
		return err
	}
	ports, err := probe.ParsePorts(f.ports)
	if err != nil {
		return cli.Usagef("--port %v", err)
	}
	addrs, err := probe.ResolveTargets(ctx, args)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	bl := a.bl
	for _, ad := range addrs {
		if err := bl.Check(ad); err != nil {
			return cli.Exit(cli.Usage, fmt.Errorf("nothing sent: %w", err))
		}
	}
	pc.Permit = bl.Check
	targets := probe.ExpandTargets(method, addrs, ports, f.qname, f.qtype)

	p, err := probe.Methods[method](pc)
	if err != nil {
		return cli.Exit(cli.Failure, err)
	}
	defer p.Close()

	out := results.NewWriter(a.stdout, a.json)
	recs := probe.ProbeAll(ctx, p, targets, cmp.Or(f.parallel, a.cfg.Probe.Parallel), func(r []results.Record) { out.Write(r...) })
	if err := out.Flush(); err != nil {
		return cli.Exit(cli.Failure, fmt.Errorf("writing results: %w", err))
	}
	if ctx.Err() != nil {
		return cli.Exit(cli.Some, errors.New("interrupted: the records above are all that was taken"))
	}
	if !probe.EachAnswered(recs) {
		return cli.Exit(cli.Some, nil)
	}
	return nil
}

// probeConfig merges flags over the configuration into a probe.Config.
func (a *app) probeConfig(method string, f *probeFlags) (probe.Config, error) {
	c, pc := a.cfg, f.pc
	pc.Vantage, pc.Contact = c.Vantage, c.Contact
	pc.Count, pc.TTL = cmp.Or(pc.Count, c.Probe.Count), cmp.Or(pc.TTL, c.Probe.TTL)
	pc.DNS.NSID = pc.DNS.NSID || c.Probe.NSID
	pc.Timeout, pc.Interval = cmp.Or(pc.Timeout, c.Probe.Timeout), cmp.Or(pc.Interval, c.Probe.Interval)
	if err := pc.Check(method); err != nil {
		return pc, cli.Usagef("%v", err)
	}
	if f.parallel < 0 {
		return pc, cli.Usagef("--parallel must be at least 1, not %d", f.parallel)
	}
	if method == results.MethodTrace && len(f.ports) > 1 {
		return pc, cli.Usagef("--port takes one port for trace")
	}
	var err error
	if pc.Source, err = schedule.ParseSource(cmp.Or(f.source, c.Probe.Source)); err != nil {
		return pc, cli.Usagef("--source: %v", err)
	}
	if method == results.MethodDNS {
		if _, ok := dns.StringToType[strings.ToUpper(f.qtype)]; !ok {
			return pc, cli.Usagef("--qtype %q is not a DNS query type", f.qtype)
		}
	}
	return pc, nil
}
