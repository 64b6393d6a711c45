package results

import (
	"cmp"
	"net/netip"
	"slices"
)

// Census block sizes: an IPv4 address belongs to its /24, an IPv6 address to its
// /48.
const (
	CensusBits4 = 24
	CensusBits6 = 48
)

// Sparse-block thresholds: Trinocular probes only blocks with at least SparseMinE
// ever-responsive addresses and an availability of at least SparseMinA. darkwatch
// keeps the others too, marked Sparse.
const (
	SparseMinE = 15
	SparseMinA = 0.1
)

// DefaultCensusWindow is how many censuses MergeCensus averages A over when
// given no window.
const DefaultCensusWindow = 8

// BlockStat is what a census found about one block (or one known host) as seen
// from one vantage point: the addresses that ever answered and how often they
// answer.
type BlockStat struct {
	Vantage string
	// Block is the /24 (IPv4) or /48 (IPv6), or the host's /32 or /128 when Host
	// is set.
	Block netip.Prefix
	// Method is the method the census was taken with, as configured: "icmp"
	// or "tcp:80"; empty means "icmp". Each method is judged only against its
	// own census.
	Method string
	// E holds the ever-responsive addresses E(b), sorted. It is empty for a block
	// where nothing answered: such a block cannot be probed (it stays uncertain).
	E []netip.Addr
	// A is the availability A(E(b)): the mean response rate of E over the
	// passes of a census, averaged over the censuses in History.
	A float64
	// Sparse marks blocks Trinocular would skip: |E| < SparseMinE or A < SparseMinA.
	// A Host is always sparse by that rule.
	Sparse bool
	// Host marks a single known host treated as an entity of its own.
	Host bool
	// History holds A of each census merged so far, oldest first, at most the
	// merge window long; A is its mean.
	History []float64
}

// CensusBlock returns the census block of a: its /24 for IPv4 (IPv4-mapped
// addresses included), its /48 for IPv6, and the zero Prefix for the zero Addr.
func CensusBlock(a netip.Addr) netip.Prefix { return BlockOf(a, CensusBits6) }

// BlockOf returns the block of a when IPv6 blocks are /bits6 (CensusBits6
// when bits6 is 0): its /24 for IPv4 (IPv4-mapped addresses included), its
// /bits6 for IPv6, and the zero Prefix for the zero Addr. Census, Stream and
// the roll-up group addresses with it.
func BlockOf(a netip.Addr, bits6 int) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, CensusBits4).Masked()
	}
	if bits6 <= 0 || bits6 > 128 {
		bits6 = CensusBits6
	}
	return netip.PrefixFrom(a, bits6).Masked()
}

// hostPrefix is the single-address prefix of a.
func hostPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

type censusKey struct {
	vantage string
	block   netip.Prefix
	method  string
}

// addrCount counts one address's probes and answers.
type addrCount struct{ sent, answered int }

// Census turns the records of one census sweep (any number of passes) into a
// BlockStat per vantage point and block, and one per vantage point and known
// host in hosts (Host set, Block the host's /32 or /128, E the host once it has
// answered). A host's records count for its block too.
//
// Only icmp and tcp records count, each method (icmp, tcp:PORT) a census of
// its own: BlockStat.Method says which. Records with outcome "error" (the prober
// failed, nothing was learnt about the target) and records whose target does
// not parse are skipped. An address is in E when it answered at least once;
// A is the share of the probes sent to E's addresses that were answered, which
// with one probe an address a pass is the mean over the passes of the share of
// E that answered. The result is sorted by vantage, then block, then method.
func Census(recs []Record, hosts []netip.Addr) []BlockStat {
	return CensusIn(recs, hosts, CensusBits6)
}

// CensusIn is Census with IPv6 blocks of bits6 bits (see BlockOf).
func CensusIn(recs []Record, hosts []netip.Addr, bits6 int) []BlockStat {
	known := make(map[netip.Addr]bool, len(hosts))
	for _, h := range hosts {
		known[h.Unmap()] = true
	}
	counts := make(map[censusKey]map[netip.Addr]*addrCount)
	add := func(k censusKey, a netip.Addr, answered bool) {
		m := counts[k]
		if m == nil {
			m = make(map[netip.Addr]*addrCount)
			counts[k] = m
		}
		c := m[a]
		if c == nil {
			c = &addrCount{}
			m[a] = c
		}
		c.sent++
		if answered {
			c.answered++
		}
	}
	for i := range recs {
		r := &recs[i]
		if (r.Method != MethodICMP && r.Method != MethodTCP) || r.Outcome == OutcomeError {
			continue
		}
		a, err := netip.ParseAddr(r.Target)
		if err != nil {
			continue
		}
		a = a.Unmap()
		ok := r.Answered()
		m := RecordMethod(r)
		add(censusKey{r.Vantage, BlockOf(a, bits6), m}, a, ok)
		if known[a] {
			add(censusKey{r.Vantage, hostPrefix(a), m}, a, ok)
		}
	}

	stats := make([]BlockStat, 0, len(counts))
	for k, m := range counts {
		s := BlockStat{Vantage: k.vantage, Method: k.method, Block: k.block, Host: known[k.block.Addr()] && k.block.IsSingleIP()}
		sent, answered := 0, 0
		for a, c := range m {
			if c.answered == 0 {
				continue
			}
			s.E = append(s.E, a)
			sent += c.sent
			answered += c.answered
		}
		slices.SortFunc(s.E, netip.Addr.Compare)
		if sent > 0 {
			s.A = float64(answered) / float64(sent)
		}
		s.History = []float64{s.A}
		s.Sparse = sparse(len(s.E), s.A)
		stats = append(stats, s)
	}
	sortStats(stats)
	return stats
}

// MergeCensus merges the census cur into the stats prev kept from earlier
// censuses and returns the new stats, sorted by vantage, then block, then
// method; a method is merged only with earlier censuses of itself. window is
// how many censuses A is averaged over (DefaultCensusWindow when not positive).
//
// E becomes the union of both: addresses stay ever-responsive. Addresses of the
// old E that the new census did not find answered none of its probes (a census
// probes every address of the configured prefixes), so the new census's rate
// over the merged E is cur.A·|cur.E|/|E|; that rate is appended to History,
// which keeps the last window entries, and A is their mean. A stale address thus
// lowers A and keeps belief honest about what a probe of E can expect. Blocks
// only in prev are kept as they are; blocks only in cur are taken as they are.
func MergeCensus(prev, cur []BlockStat, window int) []BlockStat {
	if window <= 0 {
		window = DefaultCensusWindow
	}
	byKey := make(map[censusKey]int, len(prev))
	out := make([]BlockStat, 0, len(prev)+len(cur))
	for _, p := range prev {
		byKey[censusKey{p.Vantage, p.Block, CensusMethod(p.Method)}] = len(out)
		p.E = slices.Clone(p.E)
		p.History = slices.Clone(p.History)
		out = append(out, p)
	}
	for _, c := range cur {
		k := censusKey{c.Vantage, c.Block, CensusMethod(c.Method)}
		i, ok := byKey[k]
		if !ok {
			c.E = slices.Clone(c.E)
			c.History = []float64{c.A}
			byKey[k] = len(out)
			out = append(out, c)
			continue
		}
		p := &out[i]
		e := append(p.E, c.E...)
		slices.SortFunc(e, netip.Addr.Compare)
		p.E = slices.Compact(e)
		rate := 0.0
		if len(p.E) > 0 {
			rate = c.A * float64(len(c.E)) / float64(len(p.E))
		}
		p.History = append(p.History, rate)
		if n := len(p.History); n > window {
			p.History = slices.Delete(p.History, 0, n-window)
		}
		p.A = mean(p.History)
		p.Host = p.Host || c.Host
		p.Sparse = sparse(len(p.E), p.A)
	}
	sortStats(out)
	return out
}

func sparse(e int, a float64) bool { return e < SparseMinE || a < SparseMinA }

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func sortStats(stats []BlockStat) {
	slices.SortFunc(stats, func(a, b BlockStat) int {
		if c := cmp.Compare(a.Vantage, b.Vantage); c != 0 {
			return c
		}
		if c := comparePrefix(a.Block, b.Block); c != 0 {
			return c
		}
		return cmp.Compare(CensusMethod(a.Method), CensusMethod(b.Method))
	})
}
