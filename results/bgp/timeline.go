package bgp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"text/tabwriter"
	"time"
)

// Timeline is prefix's visibility in bins of width bin from since to until,
// replaying routes, which are in time order (as a store gives them) and not
// empty. A zero since or until is the time of the first or the last route.
func Timeline(routes []Route, prefix netip.Prefix, since, until time.Time, bin time.Duration, c Config) []Visibility {
	if since.IsZero() {
		since = routes[0].Time
	}
	if until.IsZero() {
		until = routes[len(routes)-1].Time
	}
	return ControlPlane(routes, Bins(since, until, bin), []netip.Prefix{prefix}, c)[prefix]
}

// visibilityLine is one line of WriteTimeline's JSON.
type visibilityLine struct {
	Time          time.Time `json:"time"`
	Prefix        string    `json:"prefix"`
	ControlPlane  string    `json:"control_plane"`
	Peers         int       `json:"peers"`
	FullFeedPeers int       `json:"full_feed_peers"`
	Covering      string    `json:"covering,omitempty"`
	CoveringPeers int       `json:"covering_peers,omitempty"`
}

// WriteTimeline prints vis on w: a table with a header, or with asJSON one
// JSON object a line (time, prefix, control_plane, peers, full_feed_peers,
// and the covering prefix still announced, if any, with its peers).
func WriteTimeline(w io.Writer, vis []Visibility, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, v := range vis {
			j := visibilityLine{Time: v.Time, Prefix: v.Prefix.String(), ControlPlane: string(v.State),
				Peers: v.Peers, FullFeedPeers: v.FullFeed}
			if v.Covering.IsValid() {
				j.Covering, j.CoveringPeers = v.Covering.String(), v.CoveringPeers
			}
			if err := enc.Encode(j); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tPREFIX\tCONTROL PLANE\tPEERS\tFULL-FEED\tCOVERING")
	for _, v := range vis {
		cov := ""
		if v.Covering.IsValid() {
			cov = fmt.Sprintf("%v (%d peers)", v.Covering, v.CoveringPeers)
		}
		fmt.Fprintf(tw, "%s\t%v\t%s\t%d\t%d\t%s\n", v.Time.Format(time.RFC3339), v.Prefix, v.State, v.Peers, v.FullFeed, cov)
	}
	return tw.Flush()
}
