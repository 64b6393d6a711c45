package report

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"darkwatch/internal/testenv"
	"darkwatch/results"
)

// The scale fixture is made up, nothing probed: n targets spread evenly over
// 198.18.0.0/15, seen by three vantages in two rounds (one before a cut, one
// during it), with a verdict every five minutes for an hour for each /20
// prefix, each /24 block, four ASes, one country and the vantages. Two /20s
// (198.19.16.0/20 and 198.19.32.0/20) go dark from 22:30 to 22:50 and their
// targets time out in the second round; every seventh target loses one probe
// and every thirteenth never answers.
const (
	scaleBins   = 12
	scaleBin    = 5 * time.Minute
	scaleRounds = 2
)

var scaleCut = []string{"198.19.16.0/20", "198.19.32.0/20"}

// scaleInput is the scale fixture with n targets (at most 131,072).
func scaleInput(n int) Input {
	base := netip.MustParseAddr("198.18.0.0").As4()
	first := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	stride := uint32(max(1, (1<<17)/n))
	cutStart, cutEnd := t0.Add(6*scaleBin), t0.Add(10*scaleBin)
	cuts := make([]netip.Prefix, len(scaleCut))
	for i, s := range scaleCut {
		cuts[i] = netip.MustParsePrefix(s)
	}
	in := Input{Since: t0, Until: t0.Add(scaleBins * scaleBin), Title: fmt.Sprintf("darkwatch scale: %d targets", n)}
	in.Records = make([]results.Record, 0, n*len(vantages)*scaleRounds)
	for i := range n {
		u := first + uint32(i)*stride
		addr := netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
		target := addr.String()
		cut := false
		for _, p := range cuts {
			cut = cut || p.Contains(addr)
		}
		for round := range scaleRounds {
			tm := t0.Add(time.Duration(round)*30*time.Minute + time.Duration(i)*time.Millisecond)
			for vi, v := range vantages {
				r := results.Record{Time: tm.Add(time.Duration(vi) * time.Second), Vantage: v, Round: int64(200 + round),
					Method: results.MethodICMP, Target: target}
				switch {
				case i%13 == 0, cut && round == 1, i%7 == 0 && round == 1 && vi == 2:
					r.Outcome = results.OutcomeTimeout
				default:
					r.Outcome, r.RTTms, r.ReplyTTL = results.OutcomeReply, baseRTT[v]+float64(i%50)*0.125+float64(round)*0.25, 58
				}
				in.Records = append(in.Records, r)
			}
		}
	}
	in.Verdicts = scaleVerdicts(cuts, cutStart, cutEnd)
	for _, p := range cuts {
		in.Events = append(in.Events, results.Event{Level: results.LevelPrefix, Entity: p.String(),
			Kind: results.VerdictDataPlaneOutage, Start: cutStart, End: cutEnd, Minutes: 20, Severity: 20, LastHop: borderHop})
	}
	return in
}

// scaleVerdicts are the scale fixture's verdicts: the cut prefixes and their
// blocks are down in [cutStart, cutEnd), the AS holding them partial.
func scaleVerdicts(cuts []netip.Prefix, cutStart, cutEnd time.Time) []results.Verdict {
	var vs []results.Verdict
	for bin := range scaleBins {
		tm := t0.Add(time.Duration(bin) * scaleBin)
		down := !tm.Before(cutStart) && tm.Before(cutEnd)
		add := func(level, entity string, dark bool) {
			v := results.Verdict{Time: tm, Level: level, Entity: entity, Verdict: results.VerdictReachable,
				DataPlane: results.PlaneUp, ControlPlane: results.ControlAnnounced}
			if dark {
				v.Verdict, v.DataPlane = results.VerdictDataPlaneOutage, results.PlaneDown
			}
			vs = append(vs, v)
		}
		for _, v := range vantages {
			vs = append(vs, results.Verdict{Time: tm, Level: results.LevelVantage, Entity: v, Verdict: results.VerdictHealthy})
		}
		for p := range 32 {
			prefix := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, byte(18 + p/16), byte(p % 16 * 16), 0}), 20)
			dark := false
			for _, c := range cuts {
				dark = dark || c == prefix
			}
			add(results.LevelPrefix, prefix.String(), down && dark)
			for b := range 16 {
				a := prefix.Addr().As4()
				add(results.LevelBlock, netip.PrefixFrom(netip.AddrFrom4([4]byte{a[0], a[1], a[2] + byte(b), 0}), 24).String(), down && dark)
			}
		}
		for as := range 4 {
			v := results.Verdict{Time: tm, Level: results.LevelASN, Entity: fmt.Sprintf("AS%d", 64496+as),
				Verdict: results.VerdictReachable, DataPlane: results.PlaneUp}
			if as == 2 && down {
				v.Verdict, v.DataPlane = results.VerdictPartial, results.PlanePartial
			}
			vs = append(vs, v)
		}
		vs = append(vs, results.Verdict{Time: tm, Level: results.LevelCountry, Entity: "ZZ",
			Verdict: results.VerdictReachable, DataPlane: results.PlaneUp})
	}
	return vs
}

// BenchmarkHTMLReport65536 writes the HTML report of the 65,536-target scale
// fixture ("write": the Go side) and loads it in headless Chromium until the
// DOM is dumped ("chromium": browser start, parse, script, first table page).
// It reports the file's size and, from the page itself, the milliseconds from
// navigation to the first table page (page-ms).
func BenchmarkHTMLReport65536(b *testing.B) {
	in := scaleInput(65536)
	var out bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			out.Reset()
			if err := Write(&out, "html", in); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(out.Len())/1e6, "MB")
	})
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		b.Skipf("%s not found: no render time (apt-get install -y chromium)", chromium)
	}
	page := filepath.Join(b.TempDir(), "report.html")
	if err := os.WriteFile(page, out.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("chromium", func(b *testing.B) {
		var ms float64
		for b.Loop() {
			dom, _ := dumpDOM(b, chromium, "file://"+page)
			if m := renderMS.FindStringSubmatch(dom); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				ms += v
			}
		}
		b.ReportMetric(float64(out.Len())/1e6, "MB")
		b.ReportMetric(ms/float64(b.N), "page-ms")
	})
}

// renderMS finds the milliseconds the page took to show its first table page,
// which its script writes into the table's data-render-ms.
var renderMS = regexp.MustCompile(`data-render-ms="([0-9.]+)"`)

// scaleTargets is the size of the scale test: a /16's worth of targets.
const scaleTargets = 65536

// maxReportBytes is what the HTML report of scaleTargets targets must stay under.
const maxReportBytes = 10 << 20

// TestHTMLScale writes the HTML report of 65,536 targets, checks that it stays
// under 10 MB, and loads it in headless Chromium twice: as it opens (the
// summary, every timeline, the first page of the table, worst first) and with
// a filter in the URL fragment (one cut /20's partly answering targets).
func TestHTMLScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 65,536 targets")
	}
	in := scaleInput(scaleTargets)
	var b bytes.Buffer
	if err := Write(&b, "html", in); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d targets: %d bytes", scaleTargets, b.Len())
	if b.Len() >= maxReportBytes {
		t.Errorf("the report of %d targets is %d bytes, want under %d", scaleTargets, b.Len(), maxReportBytes)
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		testenv.Missing(t, "%s not found: install the Debian package chromium (apt-get install -y chromium) to run this test", chromium)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Build(in)
	t.Run("opens", func(t *testing.T) {
		p := renderedPage(t, chromium, "file://"+page)
		if p.cards["targets"] != strconv.Itoa(scaleTargets) || p.cards["vantages"] != "3" {
			t.Errorf("summary cards %v", p.cards)
		}
		if want := len(rep.Prefixes) + len(rep.Vantages) + 4 + 1; p.timelines != want { // 4 ASes, 1 country
			t.Errorf("%d timelines, want %d", p.timelines, want)
		}
		if len(p.targets) != 50 {
			t.Fatalf("%d targets on the first page, want 50", len(p.targets))
		}
		// Worst first: the targets that never answered (every thirteenth).
		for i, row := range p.targets {
			if want := rep.Targets[13*i].Target; row != want+" down" {
				t.Errorf("row %d is %q, want %q down", i, row, want)
			}
		}
		if want := "1\u201350 of 65,536 matching (65,536 targets)"; p.count != want {
			t.Errorf("count %q, want %q", p.count, want)
		}
	})
	t.Run("filtered", func(t *testing.T) {
		cut := netip.MustParsePrefix(scaleCut[0])
		var want []string
		for _, tg := range rep.Targets {
			if a := netip.MustParseAddr(tg.Target); cut.Contains(a) && tg.Answered > 0 && tg.Answered < tg.Probes {
				want = append(want, tg.Target+" partial")
			}
		}
		p := renderedPage(t, chromium, "file://"+page+"#q="+url.QueryEscape(cut.String())+"&state=partial&sort=target&page=2")
		if len(want) < 100 {
			t.Fatalf("the fixture has %d partly answering targets in %s, want two pages", len(want), cut)
		}
		if !slices.Equal(p.targets, want[50:100]) {
			t.Errorf("page 2 of %s partly answering:\n got %q\nwant %q", cut, p.targets, want[50:100])
		}
		if c := fmt.Sprintf("51\u2013100 of %s matching (65,536 targets)", thousands(len(want))); p.count != c {
			t.Errorf("count %q, want %q", p.count, c)
		}
	})
}

// shownPage is what a rendered report shows: the summary cards, how many
// timelines, the targets of the table's page ("address state") and the
// table's count line.
type shownPage struct {
	cards     map[string]string
	timelines int
	targets   []string
	count     string
}

// renderedPage loads url in headless Chromium, fails t on any console
// message, and reads the rendered DOM.
func renderedPage(t *testing.T, chromium, url string) shownPage {
	t.Helper()
	dom, stderr := dumpDOM(t, chromium, url)
	for _, line := range strings.Split(stderr, "\n") {
		if consoleLine.MatchString(line) {
			t.Errorf("console message from the page: %s", line)
		}
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	p := shownPage{cards: map[string]string{}}
	walk(doc, func(n *html.Node) {
		class, _ := attr(n, "class")
		id, _ := attr(n, "id")
		switch {
		case class == "timeline":
			p.timelines++
		case strings.HasPrefix(class, "card"):
			p.cards[textOf(n.FirstChild)] = textOf(n.LastChild)
		case id == "target-count":
			p.count = textOf(n)
		case n.DataAtom == atom.Tr && class == "all":
			state := ""
			walk(n, func(d *html.Node) {
				if c, _ := attr(d, "class"); strings.HasPrefix(c, "dot ") {
					state = strings.TrimPrefix(c, "dot ")
				}
			})
			p.targets = append(p.targets, textOf(n.FirstChild)+" "+state)
		}
	})
	if p.count == "" {
		t.Errorf("the table was not drawn: no count line in the DOM of %s", url)
	}
	return p
}

// textOf is the text of n and its descendants, trimmed.
func textOf(n *html.Node) string {
	var b strings.Builder
	var add func(*html.Node)
	add = func(n *html.Node) {
		if n == nil {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			add(c)
		}
	}
	add(n)
	return strings.TrimSpace(b.String())
}

// thousands writes n with commas, as toLocaleString("en") does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
