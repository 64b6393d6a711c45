package lab

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SpaceBlock is one line of an address-space profile (`lab.sh space`): a /24 of
// the target space and how it answers.
type SpaceBlock struct {
	// Prefix is the block, a /24 of Target4.
	Prefix netip.Prefix
	// Responders is how many of its addresses answer (Addrs names them);
	// every other address drops everything.
	Responders int
	// A is the probability that a probe to a responder (ICMP echo request,
	// TCP SYN, UDP datagram) is answered.
	A float64
	// ICMPDrop: echo requests are dropped (TCP and UDP answer).
	ICMPDrop bool
	// Period, when not zero, makes the block diurnal: it answers in the first
	// half of every Period since the Unix epoch and is dark in the second.
	Period time.Duration
	// Line is the block's line in its profile.
	Line int
}

// Profile is an address-space profile of the lab's target.
type Profile struct {
	// Name is the file the profile was read from.
	Name   string
	Blocks []SpaceBlock
}

// SpaceLead is how long before each half of its period the lab's clock switches
// a diurnal block, so that a round that starts on the boundary finds the block
// in its new state.
const SpaceLead = 500 * time.Millisecond

// RealisticProfileName is what `lab.sh space` and Space take for the realistic
// profile shipped in configs/lab-space-realistic.txt.
const RealisticProfileName = "realistic"

// RealisticProfile returns the path of configs/lab-space-realistic.txt.
func RealisticProfile() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "configs", "lab-space-realistic.txt"), nil
}

// ReadProfile reads and validates a profile file; "realistic" names the shipped
// one. Its errors read as lab.sh's: "space: FILE:LINE: what is wrong".
func ReadProfile(path string) (*Profile, error) {
	if path == RealisticProfileName {
		p, err := RealisticProfile()
		if err != nil {
			return nil, err
		}
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("space: cannot read profile '%s'", path)
	}
	defer f.Close()
	return ParseProfile(f, path)
}

var (
	profileBlock  = regexp.MustCompile(`^198\.18\.(0|[1-9][0-9]{0,2})\.0/24$`)
	profileCount  = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)
	profileProb   = regexp.MustCompile(`^([01]?)(\.([0-9]{1,2}))?$`)
	profilePeriod = regexp.MustCompile(`^([1-9][0-9]{0,5})(s|m|h)$`)
)

// ParseProfile reads a profile (see scripts/lab.sh) from r; name is the file
// name its errors give. It accepts exactly what lab.sh accepts.
func ParseProfile(r io.Reader, name string) (*Profile, error) {
	p := &Profile{Name: name}
	first := map[netip.Prefix]int{}
	sc := bufio.NewScanner(r)
	ln := 0
	for sc.Scan() {
		ln++
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		b, err := parseProfileBlock(f, ln, first)
		if err != nil {
			return nil, fmt.Errorf("space: %s:%d: %s", name, ln, err)
		}
		p.Blocks = append(p.Blocks, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("space: %s: %w", name, err)
	}
	if len(p.Blocks) == 0 {
		return nil, fmt.Errorf("space: %s names no block", name)
	}
	return p, nil
}

// parseProfileBlock parses the fields f of a profile's line ln: a /24 of the
// target space, not given before (first holds the line of each block given
// so far, and gets this one's), and its settings, each given once,
// responders= and a= required.
func parseProfileBlock(f []string, ln int, first map[netip.Prefix]int) (SpaceBlock, error) {
	m := profileBlock.FindStringSubmatch(f[0])
	c := 256
	if m != nil {
		c, _ = strconv.Atoi(m[1])
	}
	if c > 255 {
		return SpaceBlock{}, fmt.Errorf("'%s' is not a /24 of the target space 198.18.0.0/16 (198.18.N.0/24, N = 0..255)", f[0])
	}
	b := SpaceBlock{Prefix: netip.MustParsePrefix(f[0]), Line: ln}
	if l, ok := first[b.Prefix]; ok {
		return SpaceBlock{}, fmt.Errorf("%s is given twice (first on line %d)", f[0], l)
	}
	first[b.Prefix] = ln
	seen := map[string]bool{}
	for _, kv := range f[1:] {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return SpaceBlock{}, fmt.Errorf("'%s' is not KEY=VALUE (responders=N a=P [icmp=drop] [period=D])", kv)
		}
		switch key {
		case "responders", "a", "icmp", "period":
			if seen[key] {
				return SpaceBlock{}, fmt.Errorf("%s given twice", key)
			}
			seen[key] = true
		default:
			return SpaceBlock{}, fmt.Errorf("unknown setting '%s' (responders=, a=, icmp=, period=)", key)
		}
		if err := setProfileKey(&b, key, val); err != nil {
			return SpaceBlock{}, err
		}
	}
	if b.Responders == 0 || b.A == 0 {
		return SpaceBlock{}, fmt.Errorf("%s: responders= and a= are required", f[0])
	}
	return b, nil
}

// setProfileKey sets block b's setting key, one of responders, a, icmp and
// period, to val, or says why val is not a value of it.
func setProfileKey(b *SpaceBlock, key, val string) error {
	switch key {
	case "responders":
		n, _ := strconv.Atoi(val)
		if !profileCount.MatchString(val) || n > 250 {
			return fmt.Errorf("responders=%s: want a number of addresses from 1 to 250", val)
		}
		b.Responders = n
	case "a":
		pct := profilePercent(val)
		if pct < 1 || pct > 100 {
			return fmt.Errorf("a=%s: want a probability from 0.01 to 1, two decimals at most (a=0.8)", val)
		}
		b.A = float64(pct) / 100
	case "icmp":
		switch val {
		case "drop":
			b.ICMPDrop = true
		case "answer":
		default:
			return fmt.Errorf("icmp=%s: want icmp=drop or icmp=answer", val)
		}
	case "period":
		secs := profileSeconds(val)
		if secs < 4 || secs > 86400 || secs%2 != 0 {
			return fmt.Errorf("period=%s: want an even number of seconds from 4s to 24h (40s, 10m, 24h)", val)
		}
		b.Period = time.Duration(secs) * time.Second
	}
	return nil
}

// profilePercent is the probability val in hundredths, as lab.sh reads it:
// 0 when val is not a decimal of at most two decimals.
func profilePercent(val string) int {
	m := profileProb.FindStringSubmatch(val)
	if m == nil || val == "" || val == "." {
		return 0
	}
	whole, _ := strconv.Atoi("0" + m[1])
	frac := m[3]
	for len(frac) < 2 {
		frac += "0"
	}
	hundredths, _ := strconv.Atoi(frac)
	return whole*100 + hundredths
}

// profileSeconds is the duration val (a number of seconds, minutes or
// hours: 40s, 10m, 24h) in seconds, 0 when val is none.
func profileSeconds(val string) int {
	m := profilePeriod.FindStringSubmatch(val)
	if m == nil {
		return 0
	}
	secs, _ := strconv.Atoi(m[1])
	return secs * map[string]int{"s": 1, "m": 60, "h": 3600}[m[2]]
}

// Block returns the profile's line for the /24 prefix.
func (p *Profile) Block(prefix netip.Prefix) (SpaceBlock, bool) {
	for _, b := range p.Blocks {
		if b.Prefix == prefix.Masked() {
			return b, true
		}
	}
	return SpaceBlock{}, false
}

// Addrs returns the block's responsive addresses as lab.sh chooses them: host
// numbers 1 + (37·c + 97·k) mod 254 for k = 0..Responders-1, c being the
// block's third octet. They are spread over the block.
func (b SpaceBlock) Addrs() []netip.Addr {
	a := b.Prefix.Addr().As4()
	c := int(a[2])
	out := make([]netip.Addr, 0, b.Responders)
	for k := range b.Responders {
		a[3] = byte(1 + (37*c+97*k)%254)
		out = append(out, netip.AddrFrom4(a))
	}
	return out
}

// Dark reports whether a diurnal block is in the dark half of its period at t
// (the lab switches SpaceLead earlier). A block without a period is never dark.
func (b SpaceBlock) Dark(t time.Time) bool {
	if b.Period <= 0 {
		return false
	}
	ph := t.UnixNano() % int64(b.Period)
	if ph < 0 {
		ph += int64(b.Period)
	}
	return ph >= int64(b.Period/2)
}

// SpaceSwitch is one switch of a diurnal block by the lab's clock.
type SpaceSwitch struct {
	// Time is when the switch was in place (logged after nft returned).
	Time  time.Time
	Block netip.Prefix
	Dark  bool
}

// SpaceSwitches reads the switches the lab's clock has made so far from its
// log (space-clock.log in the lab's state directory), oldest first.
func (l *Lab) SpaceSwitches() ([]SpaceSwitch, error) {
	f, err := os.Open(filepath.Join(l.StateDir(), "space-clock.log"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []SpaceSwitch
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || (fs[2] != "up" && fs[2] != "dark") {
			continue // the clock's complaints
		}
		tm, err1 := time.Parse(time.RFC3339Nano, fs[0])
		p, err2 := netip.ParsePrefix(fs[1])
		if err1 != nil || err2 != nil {
			return out, fmt.Errorf("lab: space-clock.log: bad line %q", sc.Text())
		}
		out = append(out, SpaceSwitch{Time: tm, Block: p, Dark: fs[2] == "dark"})
	}
	return out, sc.Err()
}

// Space applies an address-space profile to the lab's target (`lab.sh space
// PROFILE`: a file, or RealisticProfileName) and returns it, failing the test
// on error. It replaces the profile before; faults and Restore leave it alone.
func (l *Lab) Space(t testing.TB, profile string) *Profile {
	t.Helper()
	p, err := ReadProfile(profile)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if out, err := l.script(t.Context(), scriptPath(t), "space", profile); err != nil {
		t.Fatalf("lab: space %s: %v\n%s", profile, err, out)
	}
	return p
}

// SpaceOff removes the address-space profile: every address answers again.
func (l *Lab) SpaceOff(t testing.TB) {
	t.Helper()
	if out, err := l.script(t.Context(), scriptPath(t), "space", "off"); err != nil {
		t.Fatalf("lab: space off: %v\n%s", err, out)
	}
}
