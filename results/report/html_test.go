package report

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"darkwatch/internal/testenv"
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
	texts := map[string]bool{}
	walk(doc, func(n *html.Node) {
		// Nothing outside the file: no src, no href but to an anchor in it,
		// no url() in a style, no script, no link, no iframe or object.
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
		case atom.Script, atom.Link, atom.Iframe, atom.Object, atom.Embed, atom.Img:
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
	for _, want := range []string{"darkwatch lab: border cut", borderHop, "data-plane-outage", hostA, "vp-sin1"} {
		if !texts[want] {
			t.Errorf("no element holds %q", want)
		}
	}
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
	walk(doc, func(n *html.Node) {
		switch n.DataAtom {
		case atom.Script, atom.Img:
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

// screenshot renders page in headless Chromium into png and returns its stderr.
func screenshot(t *testing.T, chromium, page, png string) string {
	t.Helper()
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--screenshot="+png, "--window-size=1280,2000", "file://"+page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("chromium did not finish in 90 s\n%s", stderr.String())
	}
	return stderr.String()
}
