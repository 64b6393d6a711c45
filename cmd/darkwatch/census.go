package main

import (
	"fmt"
	"net/netip"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"darkwatch/results"
	"darkwatch/results/store"
	"darkwatch/schedule"
)

func (a *app) censusCommand() *cobra.Command {
	var passes int
	var cooldown time.Duration
	var method string
	cmd := &cobra.Command{
		Use:   "census [--passes N]",
		Short: "Sweep the configured prefixes and store, per /24, the ever-responsive addresses and their availability",
		Long: `Census sweeps every configured IPv4 prefix --passes times and finds, per /24 block,
the ever-responsive addresses E(b) and their availability A(E(b)) (the share of
probes to them that were answered), merged with the earlier censuses of the same
--method in the store: each method has a census of its own.
Blocks with fewer than 15 responsive addresses or A below 0.1 are kept and marked
sparse (Trinocular would skip them; a country like North Korea has few hosts). Known
hosts of the target sets are entities of their own. run's belief uses A per block.`,
		Example: `  darkwatch --config configs/kp-2014.yaml census --passes 3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if passes < 1 || passes > 20 {
				return usageErr("--passes %d: use 1 to 20", passes)
			}
			meth, err := ParseMethod(method)
			if err != nil || (meth.Name != results.MethodICMP && meth.Name != results.MethodTCP) {
				return usageErr("--method %q: a census takes icmp or tcp:PORT", method)
			}
			// Each method has a census of its own, named as configured.
			method = meth.Name
			if meth.Name == results.MethodTCP {
				method = fmt.Sprintf("%s:%d", meth.Name, meth.Port)
			}
			st, err := a.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			var v4 []netip.Prefix
			var hosts []netip.Addr
			for _, ts := range a.cfg.Targets {
				for _, p := range ts.Prefixes {
					if pp := netip.MustParsePrefix(p).Masked(); pp.Addr().Is4() {
						v4 = append(v4, pp)
					}
				}
				for _, h := range ts.Hosts {
					if ad := netip.MustParseAddr(h.Addr); ad.Is4() {
						hosts = append(hosts, ad)
						v4 = append(v4, netip.PrefixFrom(ad, 32))
					}
				}
			}
			space, err := schedule.NewSpace(a.cfg.assigned(v4), a.cfg.BlocklistSet())
			if err != nil {
				return usageErr("%v", err)
			}
			if space.Size() == 0 {
				return usageErr("nothing to census: no IPv4 target prefix in the configuration (or all blocklisted)")
			}
			sink := &lockedWriter{keep: true}
			round := time.Now().Unix() / int64(a.cfg.Round/time.Second)
			for pass := range passes {
				job := &sweepJob{method: meth, space: space, round: round, cooldown: cooldown, all: true,
					rate: a.cfg.Rate.PPS, perBlock: a.cfg.Rate.PerBlockPPS,
					perm: func() (*schedule.Permutation, error) {
						return schedule.NewPermutation(space.Size(), uint64(time.Now().UnixNano())), nil
					}}
				prog := newProgress(os.Stderr, space.Size())
				s, err := a.sweepSpace(cmd.Context(), job, sink, prog)
				prog.done()
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				fmt.Fprintf(os.Stderr, "census pass %d/%d: %d of %d addresses answered\n", pass+1, passes, s.Hits, space.Size())
				if cmd.Context().Err() != nil {
					return &exitError{code: exitSome, err: fmt.Errorf("interrupted: census not stored")}
				}
			}
			cur := results.Census(sink.take(), hosts)
			for i := range cur {
				cur[i].Method = method
			}
			old, err := st.Blocks(cmd.Context())
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			// Merged only with the earlier censuses of this method.
			var prev []results.BlockStat
			count := map[[2]string]int{}
			for _, b := range old {
				if b.Method != method {
					continue
				}
				prev = append(prev, results.BlockStat{Vantage: b.Vantage, Method: b.Method, Block: b.Prefix, E: b.E, A: b.A, Sparse: b.Sparse, Host: b.Prefix.IsSingleIP()})
				count[[2]string{b.Vantage, b.Prefix.String()}] = b.Censuses
			}
			merged := results.MergeCensus(prev, cur, results.DefaultCensusWindow)
			now := time.Now().UTC()
			var out []store.Block
			for _, b := range merged {
				if b.Vantage != a.cfg.Vantage {
					continue
				}
				out = append(out, store.Block{Prefix: b.Block, Vantage: b.Vantage, Method: method, E: b.E, A: b.A, Sparse: b.Sparse,
					Censuses: count[[2]string{b.Vantage, b.Block.String()}] + 1, Updated: now})
			}
			if err := st.PutBlocks(cmd.Context(), out); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BLOCK\tVANTAGE\tMETHOD\t|E|\tA\tSPARSE\tCENSUSES")
			for _, b := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%v\t%d\n", b.Prefix, b.Vantage, b.Method, len(b.E), b.A, b.Sparse, b.Censuses)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&passes, "passes", 2, "sweeps of the prefixes (A is measured over them)")
	cmd.Flags().DurationVar(&cooldown, "cooldown", 2*time.Second, "how long to read replies after each pass")
	cmd.Flags().StringVar(&method, "method", "icmp", "icmp or tcp:PORT")
	return cmd
}
