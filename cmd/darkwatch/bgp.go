package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/results/bgp"
	"darkwatch/results/bgp/live"
	"darkwatch/results/store"
)

func (a *app) bgpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bgp",
		Short: "The control plane: read MRT dumps, load them into the store, show a prefix's visibility",
		Long: `The bgp commands work with what BGP says about prefixes: MRT files from route
collectors (RouteViews, RIPE RIS, a BIRD or GoBGP collector of your own) in the formats
of RFC 6396 (TABLE_DUMP, TABLE_DUMP_V2 with ADD-PATH, BGP4MP and BGP4MP_ET, 2- and
4-byte ASNs), plain, gzip'd or bzip2'd; a directory stands for every file in it.

  dump     prints the routes as bgpdump -m does, one line per (peer, prefix) event
  import   loads them into the store (--store), where verdicts find them
  show     prints one prefix's visibility over time from the store
  collect  runs a passive BGP route collector (bgp.local_asn, bgp.peers) that
           stores what its peers announce and withdraw`,
	}
	cmd.AddCommand(a.bgpDumpCommand(), a.bgpImportCommand(), a.bgpShowCommand(), a.bgpCollectCommand())
	return cmd
}

func (a *app) bgpDumpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "dump FILE...",
		Short: "Print MRT files as bgpdump -m does",
		Long: `Dump prints every route of the MRT files as one line, in the format of bgpdump -m,
so that scripts written for bgpdump keep working:

  BGP4MP|1470931200|A|37.49.236.123|198290|192.140.252.0/22|198290 6661 2914|IGP|37.49.236.123|0|0|0:200|NAG||
  BGP4MP|1470931200|W|2001:7f8:54::188|59689|2804:14d::/40
  TABLE_DUMP2|1452168107|B|203.0.113.9|64500|198.18.0.0/24|64500 64501|IGP|203.0.113.9|100|0||NAG||
  BGP4MP|1027377515|STATE|193.203.0.69|15737|3|2

FILE "-" is standard input; a directory stands for every file in it, in name order.
Fields: record type, time (Unix seconds; microseconds for BGP4MP_ET), A(nnounce),
W(ithdraw), B (table dump) or STATE, peer address, peer AS, prefix, then for
announcements the AS path, origin, next hop, local preference, MED, communities,
AG/NAG (atomic aggregate) and the aggregator. ADD-PATH records (TABLE_DUMP2_AP,
BGP4MP_AP) carry the path identifier after the prefix.

A file that is truncated or corrupt is printed up to the bad record; the error
names the file and the record's byte offset, and the other files are still printed.
Exit status: 0 every file was read whole, 1 some file was not.`,
		Example: `  darkwatch bgp dump updates.20160811.1600.gz
  darkwatch bgp dump /data/ris/rrc00/2014.12/ | grep '|175.45.17[67]'
  ssh collector cat /data/updates.20141222.1600.bz2 | darkwatch bgp dump -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := bgp.Files(args)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			bad, err := bgp.DumpFiles(a.stdout, files)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return someFilesBad(bad)
		},
	}
}

// someFilesBad is the exit status 1 of the files that were truncated or
// corrupt, with their errors, or nil when there are none.
func someFilesBad(bad []error) error {
	if len(bad) == 0 {
		return nil
	}
	return &exitError{code: exitSome, err: errors.Join(bad...)}
}

func (a *app) bgpImportCommand() *cobra.Command {
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "import [FILE...] [--watch D]",
		Short: "Load MRT files (announcements, withdrawals, RIB entries) into the store, idempotently",
		Long: `Import reads MRT files (or every file of a directory; without arguments, those of
bgp.mrt in the configuration) and adds their routes to the store (--store, default
the local SQLite file): announcements, withdrawals, RIB entries and session state
changes, with time, peer, prefix and AS path. A route already stored is not added
again, so importing a file twice changes nothing.

A truncated or corrupt file is imported up to the bad record; the error names the
file and the record's byte offset, and the other files are still imported.
Verdicts then set the data plane beside the control plane of the same prefixes.
Exit status: 0 every file was read whole, 1 some file was not.

With --watch D, import keeps watching: every D it looks again at the files and
directories named and imports each new or changed file, until SIGTERM or SIGINT
(exit status 0). A file that ends mid-record while it is still being written is
tried again at the next look.`,
		Example: `  darkwatch bgp import --store sqlite:///var/lib/darkwatch/darkwatch.db updates.20141222.*.bz2
  darkwatch bgp import /data/routeviews/2014.12/UPDATES/
  darkwatch bgp import --watch 1m /data/ris/rrc06/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = a.cfg.BGP.MRT
			}
			if len(args) == 0 {
				return usageErr("bgp import: name MRT files or directories, or list them in bgp.mrt of the configuration")
			}
			if watch < 0 {
				return usageErr("--watch %v: must be positive", watch)
			}
			if watch > 0 {
				st, err := a.openStore(cmd)
				if err != nil {
					return err
				}
				defer st.Close()
				if err := bgp.Watch(cmd.Context(), st, args, watch, a.log); err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				return nil
			}
			files, err := bgp.Files(args)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			bad, err := bgp.ImportFiles(cmd.Context(), st, files, os.Stderr)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return someFilesBad(bad)
		},
	}
	cmd.Flags().DurationVar(&watch, "watch", 0, "keep importing new and changed files, looking every `D` (0: import once)")
	return cmd
}

func (a *app) bgpShowCommand() *cobra.Command {
	var since, until string
	var bin time.Duration
	cmd := &cobra.Command{
		Use:   "show PREFIX",
		Short: "A prefix's visibility over time, from the routes in the store",
		Long: `Show replays the routes in the store (from bgp import or bgp collect) and
prints, per time bin, how many full-feed peers see PREFIX, how many full-feed peers
there are, and what that makes of it: announced (seen by more than half of the
full-feed peers, as IODA counts it), withdrawn, or unknown (no BGP data then). A
covering less-specific prefix that is still announced is named: a /24 withdrawn while
its /16 is announced may still be reachable.

A full-feed peer sends more than bgp.full_feed.ipv4 IPv4 prefixes (default 400000)
or bgp.full_feed.ipv6 IPv6 prefixes (default 10000); set them low (0: every peer
that sends anything) for a small or lab feed.

Times are RFC 3339 or durations back from now (6h); without --since, from the first
route stored; without --until, to the last.`,
		Example: `  darkwatch bgp show 175.45.176.0/24
  darkwatch bgp show 198.18.0.0/24 --bin 10s --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, err := netip.ParsePrefix(args[0])
			if err != nil {
				return usageErr("%q is not a CIDR prefix", args[0])
			}
			prefix = prefix.Masked()
			if bin <= 0 {
				return usageErr("--bin must be positive, not %v", bin)
			}
			now := time.Now().UTC()
			t0, t1, err := parseSpan(since, until, now)
			if err != nil {
				return err
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			var routes []bgp.Route
			q := store.RouteQuery{}
			if !t1.IsZero() {
				q.Until = t1.Add(time.Nanosecond) // the routes of the last bin too
			}
			if err := st.EachRoute(cmd.Context(), q, func(r bgp.Route) error {
				routes = append(routes, r)
				return nil
			}); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if len(routes) == 0 {
				return &exitError{code: exitSome, err: fmt.Errorf("no routes in the store %s: load some with darkwatch bgp import", store.Redact(a.cfg.Store))}
			}
			vis := bgp.Timeline(routes, prefix, t0, t1, bin, a.cfg.BGP.Visibility())
			return bgp.WriteTimeline(a.stdout, vis, a.json)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first time bin (RFC 3339 or a duration back from now)")
	cmd.Flags().StringVar(&until, "until", "", "last time bin (RFC 3339 or a duration back from now)")
	cmd.Flags().DurationVar(&bin, "bin", 5*time.Minute, "time bin width")
	return cmd
}

func (a *app) bgpCollectCommand() *cobra.Command {
	var listen []string
	cmd := &cobra.Command{
		Use:   "collect [--listen ADDR:PORT]...",
		Short: "Run a passive BGP route collector that stores its peers' routes",
		Long: `Collect accepts BGP sessions from the peers of the configuration (bgp.peers, each
with addr and asn) as AS bgp.local_asn, announces nothing, and stores every
announcement, withdrawal and session state change it receives (time, peer, prefix,
AS path) in the store, within half a second, until interrupted (SIGINT, SIGTERM).
Each route is also printed as bgpdump -m prints it. The collector never connects
out: the peers connect to it, on TCP port 179 unless --listen (or bgp.listen) says
otherwise. A peer's session going down counts as the withdrawal of its routes.

Verdicts and bgp show then read the control plane from the store; for a small feed
(a lab, one upstream) set bgp.full_feed.ipv4 and ipv6 to 0.`,
		Example: `  # bgp: {local_asn: 64501, peers: [{addr: 198.51.100.9, asn: 64500}], full_feed: {ipv4: 0, ipv6: 0}}
  darkwatch --config lab.yaml --store sqlite:///var/lib/darkwatch/lab.db bgp collect
  darkwatch --config lab.yaml bgp collect --listen 198.51.100.10:1179`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := live.ConfigFor(a.cfg.BGP, listen)
			if err != nil {
				return usageErr("%v", err)
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			cc.Logger = a.log
			err = live.Collect(cmd.Context(), st, cc, a.stdout, a.log)
			if err != nil && cmd.Context().Err() == nil {
				return &exitError{code: exitFailure, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "accept sessions on `ADDR:PORT` (repeatable; default bgp.listen, else 0.0.0.0:179 and [::]:179)")
	return cmd
}
