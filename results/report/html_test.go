package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"darkwatch/internal/testenv"
	"darkwatch/results"
)

// voidElements have no end tag.
var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

// wellFormed checks that every element of an HTML document is closed, in
// order, and that the document has one html element.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(doc))
	var stack []string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenizer: %v", z.Err())
			}
			if len(stack) > 0 {
				t.Errorf("unclosed at the end: %v", stack)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				stack = append(stack, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(name) {
				t.Fatalf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// walk calls f on every element node of n.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func checkHTML(t *testing.T, out []byte) {
	if !bytes.HasPrefix(out, []byte("<!DOCTYPE html>")) {
		t.Error("no doctype")
	}
	wellFormed(t, out)
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(fixture())
	svgs := map[string]int{}
	var all int
	var scripts []*html.Node
	texts := map[string]bool{}
	walk(doc, func(n *html.Node) {
		// Nothing outside the file: no src, no href but to an anchor in it,
		// no url() in a style, no link, no iframe or object (scripts: checkScripts).
		for _, a := range n.Attr {
			switch k := strings.ToLower(a.Key); {
			case k == "src" || k == "srcset" || k == "xlink:href" || k == "action" || k == "poster" || k == "data" && n.DataAtom == atom.Object:
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			case k == "href" && !strings.HasPrefix(a.Val, "#"):
				t.Errorf("<%s href=%q> points outside the file", n.Data, a.Val)
			case k == "style" && strings.Contains(a.Val, "url("):
				t.Errorf("<%s style=%q> fetches", n.Data, a.Val)
			}
		}
		switch n.DataAtom {
		case atom.Script:
			scripts = append(scripts, n)
		case atom.Link, atom.Iframe, atom.Object, atom.Embed, atom.Img:
			t.Errorf("<%s> in a self-contained report", n.Data)
		case atom.Style:
			if css := n.FirstChild; css != nil && (strings.Contains(css.Data, "url(") || strings.Contains(css.Data, "@import")) {
				t.Error("the style sheet fetches something")
			}
		case atom.Svg:
			all++
			if class, _ := attr(n, "class"); class == "timeline" {
				level, _ := attr(n, "data-level")
				entity, _ := attr(n, "data-entity")
				svgs[level+" "+entity]++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				texts[strings.TrimSpace(c.Data)] = true
			}
		}
	})
	// One SVG per prefix (and block) timeline and per vantage timeline, and
	// no other.
	want := len(rep.Prefixes) + len(rep.Vantages)
	if all != want || len(svgs) != want {
		t.Errorf("%d <svg> (%d distinct timelines), want %d: %v", all, len(svgs), want, svgs)
	}
	for _, l := range rep.Prefixes {
		if svgs[l.Level+" "+l.Entity] != 1 {
			t.Errorf("no timeline for %s %s", l.Level, l.Entity)
		}
	}
	for _, v := range rep.Vantages {
		if svgs["vantage "+v.Vantage] != 1 {
			t.Errorf("no timeline for vantage %s", v.Vantage)
		}
	}
	for _, want := range []string{"darkwatch lab: border cut", borderHop, "data-plane-outage", "vp-sin1"} {
		if !texts[want] {
			t.Errorf("no element holds %q", want)
		}
	}
	checkTargetData(t, checkScripts(t, out, scripts), &rep)
	// Verdicts are coloured by class; the style sheet gives each a colour.
	for _, class := range []string{"ok", "partial", "down", "unknown", "unrouted"} {
		if !bytes.Contains(out, []byte(`<rect class="`+class+`"`)) {
			t.Errorf("no %s rectangle", class)
		}
		if !bytes.Contains(out, []byte("rect."+class+" { fill:")) {
			t.Errorf("no fill for rect.%s", class)
		}
	}
}

// TestHTMLRollups checks that AS and country verdicts get timelines of their
// own, ASes first, and that a report without them has no such section.
func TestHTMLRollups(t *testing.T) {
	in := fixture()
	for round := range rounds {
		tm := t0.Add(time.Duration(round) * roundLen)
		in.Verdicts = append(in.Verdicts,
			results.Verdict{Time: tm, Level: results.LevelCountry, Entity: "KP", Verdict: results.VerdictReachable},
			results.Verdict{Time: tm, Level: results.LevelASN, Entity: "AS131279", Verdict: results.VerdictPartial})
	}
	// Outside the report's range.
	in.Verdicts = append(in.Verdicts, results.Verdict{Time: t0.Add(-time.Hour), Level: results.LevelASN, Entity: "AS64500", Verdict: results.VerdictOutage})
	var b bytes.Buffer
	if err := Write(&b, "html", in); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	walk(doc, func(n *html.Node) {
		if level, _ := attr(n, "data-level"); level == results.LevelASN || level == results.LevelCountry {
			entity, _ := attr(n, "data-entity")
			got = append(got, level+" "+entity)
		}
	})
	if want := []string{"asn AS131279", "country KP"}; !slices.Equal(got, want) {
		t.Errorf("roll-up timelines %q, want %q", got, want)
	}
	b.Reset()
	if err := Write(&b, "html", fixture()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte(`id="rollups"`)) {
		t.Error("a report without AS or country verdicts has their section")
	}
}

// checkTargetData checks the target table's data against the fixture's report.
func checkTargetData(t *testing.T, d targetData, rep *Report) {
	t.Helper()
	if len(d.Targets) != len(rep.Targets) {
		t.Errorf("%d targets in the table's data, want %d", len(d.Targets), len(rep.Targets))
	}
	for i, row := range d.Targets[:min(len(d.Targets), len(rep.Targets))] {
		want := rep.Targets[i]
		all, _ := row[3].([]any)
		var rtt float64
		if want.RTT != nil {
			rtt = want.RTT.Avg
		}
		got := fmt.Sprintf("%v %v %v %v %v %v", row[0], d.Methods[int(row[1].(float64))], row[2], entry(all, 0), entry(all, 2), outcomeSum(all, 4))
		if w := fmt.Sprintf("%v %v %v %v %v %v", want.Target, want.Method, want.Port, want.Answered, rtt, want.Probes); got != w {
			t.Errorf("target %d in the table's data is %s, want %s", i, got, w)
		}
		per, _ := row[4].([]any)
		for j, v := range per[:min(len(per), len(want.Vantages))] {
			v, _ := v.([]any)
			wv := want.Vantages[j]
			got := fmt.Sprintf("%v %v %v", d.Vantages[int(entry(v, 0))], entry(v, 1), outcomeSum(v, 3))
			if w := fmt.Sprintf("%v %v %v", wv.Vantage, wv.Answered, wv.Probes); got != w {
				t.Errorf("target %d vantage %d in the table's data is %s, want %s", i, j, got, w)
			}
		}
		if outages, _ := row[len(row)-1].([]any); len(want.Outages) > 0 && len(outages) != len(want.Outages) || len(per) != len(want.Vantages) {
			t.Errorf("target %d in the table's data: %d vantages, outages %v, want %d and %d", i, len(per), row[len(row)-1], len(want.Vantages), len(want.Outages))
		}
	}
	if !slices.Contains(d.Vantages, "vp-sin1") || len(d.Outages) == 0 {
		t.Errorf("vantages %v, outages %v in the table's data", d.Vantages, d.Outages)
	}
}

// entry is a number of a row of the table's data, 0 when left out.
func entry(row []any, i int) float64 {
	if i < len(row) {
		v, _ := row[i].(float64)
		return v
	}
	return 0
}

// outcomeSum is the six outcome counts of a row from i on: its probes.
func outcomeSum(row []any, i int) float64 {
	var n float64
	for k := i; k < i+6; k++ {
		n += entry(row, k)
	}
	return n
}

// checkScripts checks that the page runs no script but report.js, which its
// Content-Security-Policy names by hash, and that the target data is JSON
// that cannot end its element; it returns the data.
func checkScripts(t *testing.T, page []byte, scripts []*html.Node) targetData {
	t.Helper()
	var d targetData
	if len(scripts) != 2 {
		t.Fatalf("%d <script> elements, want 2 (the target data and report.js)", len(scripts))
	}
	if typ, _ := attr(scripts[0], "type"); typ != "application/json" || len(scripts[0].Attr) != 2 {
		t.Errorf("first <script> has %v, want the target data (type application/json, an id)", scripts[0].Attr)
	}
	if len(scripts[1].Attr) != 0 || scripts[1].FirstChild == nil || scripts[1].FirstChild.Data != targetScript {
		t.Error("the second <script> is not report.js, inline and whole")
	}
	if scripts[0].FirstChild == nil {
		t.Fatal("no target data")
	}
	text := scripts[0].FirstChild.Data
	if strings.ContainsAny(text, "<>") {
		t.Error("the target data holds < or >, which could end its element")
	}
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("target data: %v", err)
	}
	if want := `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; script-src &#39;sha256-`; !bytes.Contains(page, []byte(want)) {
		t.Error("no Content-Security-Policy naming report.js by hash")
	}
	for _, fetch := range []string{"fetch(", "XMLHttpRequest", "import(", "http:", "https:", ".src", "innerHTML", "eval("} {
		if strings.Contains(targetScript, fetch) {
			t.Errorf("report.js holds %q", fetch)
		}
	}
	return d
}

// TestHTMLEscapes puts markup in every string the page shows.
func TestHTMLEscapes(t *testing.T) {
	in := fixture()
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	in.Title = evil
	in.Records[0].Target = evil
	in.Records[0].Vantage = `vp"><svg onload=alert(1)>`
	in.Verdicts[0].Entity = evil
	in.Events[0].LastHop = evil
	var b bytes.Buffer
	if err := Write(&b, "html", in); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, b.Bytes())
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var scripts []*html.Node
	walk(doc, func(n *html.Node) {
		switch n.DataAtom {
		case atom.Script:
			scripts = append(scripts, n)
		case atom.Img:
			t.Errorf("injected <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("injected %s= on <%s>", a.Key, n.Data)
			}
		}
	})
	if !strings.Contains(b.String(), "&lt;script&gt;") {
		t.Error("the title is not escaped as text")
	}
	d := checkScripts(t, b.Bytes(), scripts)
	found := false
	for _, row := range d.Targets {
		found = found || row[0] == evil
	}
	if !found {
		t.Error("the target's markup did not come back whole from the target data")
	}
}

// consoleLine is how Chromium logs a page's console messages and uncaught
// errors with --enable-logging=stderr: `INFO:CONSOLE:1] "message", source:
// file:///... (1)` (Chromium 120 and later; `CONSOLE(1)]` before).
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d+|Uncaught`)

// TestHTMLChromium renders the report in headless Chromium and keeps the
// screenshot under $DARKWATCH_ARTIFACTS (or the test's temporary directory).
// It first renders a page with a deliberate console error, to show that the
// check can fail.
func TestHTMLChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		testenv.Missing(t, "%s not found: install the Debian package chromium (apt-get install -y chromium) to run this test", chromium)
	}
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	dir := os.Getenv("DARKWATCH_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("canary", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "canary.html")
		const canary = `<!DOCTYPE html><html><body><p>canary</p><script>console.error("darkwatch canary"); undefinedFunction();</script></body></html>`
		if err := os.WriteFile(page, []byte(canary), 0o644); err != nil {
			t.Fatal(err)
		}
		stderr := screenshot(t, chromium, page, filepath.Join(t.TempDir(), "canary.png"))
		if !consoleLine.MatchString(stderr) || !strings.Contains(stderr, "darkwatch canary") {
			t.Fatalf("the canary's console error is not in Chromium's log, so the report check could not fail:\n%s", stderr)
		}
	})

	var b bytes.Buffer
	if err := Write(&b, "html", fixture()); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	stderr := screenshot(t, chromium, page, shot)
	for _, line := range strings.Split(stderr, "\n") {
		if consoleLine.MatchString(line) {
			t.Errorf("console message from the page: %s", line)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr)
	}
	defer f.Close()
	fi, _ := f.Stat()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if bounds := img.Bounds(); bounds.Dx() != 1280 || bounds.Dy() != 2000 || fi.Size() < 20_000 {
		t.Errorf("screenshot %v, %d bytes: want 1280x2000 of non-trivial size", bounds, fi.Size())
	}
	t.Logf("screenshot: %s (%d bytes)", shot, fi.Size())
}

// chromiumFlags are the flags every headless run here uses: nothing fetched
// in the background, a fresh profile in userData, console messages on stderr.
func chromiumFlags(userData string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + userData, "--enable-logging=stderr", "--v=0"}
}

// screenshot renders page in headless Chromium into png and returns its stderr.
func screenshot(t *testing.T, chromium, page, png string) string {
	t.Helper()
	_, stderr := runChromium(t, chromium, append(chromiumFlags(t.TempDir()),
		"--screenshot="+png, "--window-size=1280,2000", "file://"+page))
	return stderr
}

// dumpDOM loads url in headless Chromium and returns the DOM once the page
// has loaded (--dump-dom), and Chromium's stderr.
func dumpDOM(tb testing.TB, chromium, url string) (dom, stderr string) {
	tb.Helper()
	return runChromium(tb, chromium, append(chromiumFlags(tb.TempDir()), "--dump-dom", url))
}

// runChromium runs chromium with args and returns its stdout and stderr,
// failing tb when it fails or takes more than 90 s.
func runChromium(tb testing.TB, chromium string, args []string) (stdout, stderr string) {
	tb.Helper()
	cmd := exec.Command(chromium, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("chromium: %v\n%s", err, errb.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		tb.Fatalf("chromium did not finish in 90 s\n%s", errb.String())
	}
	return out.String(), errb.String()
}
