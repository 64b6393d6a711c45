package results

import (
	"encoding/json"
	"time"
)

// Levels of the entities a verdict speaks of.
const (
	LevelHost    = "host"
	LevelBlock   = "block"
	LevelPrefix  = "prefix"
	LevelASN     = "asn"
	LevelCountry = "country"
	LevelVantage = "vantage"
)

// Levels are the entity levels, from the smallest entity to the largest, and
// then the vantage points.
var Levels = []string{LevelHost, LevelBlock, LevelPrefix, LevelASN, LevelCountry, LevelVantage}

// Verdicts, as DESIGN.md's table combines the data plane and the control plane.
const (
	VerdictReachable          = "reachable"
	VerdictPartial            = "partial"
	VerdictDataPlaneOutage    = "data-plane-outage"
	VerdictControlPlaneOutage = "control-plane-outage"
	VerdictOutage             = "outage"
	VerdictReachableUnrouted  = "reachable-unrouted"
	VerdictWithdrawn          = "withdrawn"
	VerdictUncertain          = "uncertain"
	// Vantage-level verdicts.
	VerdictHealthy     = "healthy"
	VerdictVantageDown = "vantage-down"
	// VerdictVantageUnknown is a vantage point's round without canary
	// records: its evidence is a gap.
	VerdictVantageUnknown = "unknown"
)

// Data-plane and control-plane states.
const (
	PlaneUp        = "up"
	PlanePartial   = "partial"
	PlaneDown      = "down"
	PlaneUncertain = "uncertain"

	ControlAnnounced = "announced"
	ControlWithdrawn = "withdrawn"
	ControlUnknown   = "unknown"
)

// Verdict is what darkwatch concludes about one entity in one time bin.
type Verdict struct {
	Time         time.Time     `json:"time"`
	Level        string        `json:"level"`
	Entity       string        `json:"entity"`
	Verdict      string        `json:"verdict"`
	DataPlane    string        `json:"data_plane,omitempty"`
	ControlPlane string        `json:"control_plane,omitempty"`
	Belief       *float64      `json:"belief,omitempty"`
	Vantages     *VantageCount `json:"vantages,omitempty"`
	// Methods gives the data plane per method where methods disagree (ICMP
	// filtered while TCP answers): a difference reported, not hidden.
	Methods map[string]string `json:"methods,omitempty"`
	// Up and Total count up blocks of a roll-up (prefix, AS, country).
	Up    *int `json:"up,omitempty"`
	Total *int `json:"total,omitempty"`
	// Failures lists, in a vantage verdict, what failed in the vantage
	// point's daemon that round ("census: ..."; see Failure).
	Failures []string `json:"failures,omitempty"`
}

// AllReachable reports whether every verdict of vs says its entity is
// reachable, or its vantage point healthy with nothing failed.
func AllReachable(vs []Verdict) bool {
	for _, v := range vs {
		if v.Verdict != VerdictReachable && v.Verdict != VerdictHealthy || len(v.Failures) > 0 {
			return false
		}
	}
	return true
}

// VantageCount says how many vantage points saw an entity up or down, and how
// many were vantage-down (a gap in the evidence).
type VantageCount struct {
	Up   int `json:"up"`
	Down int `json:"down"`
	Gap  int `json:"gap"`
}

// Event is an outage event: contiguous non-reachable bins of one entity.
type Event struct {
	Level    string    `json:"level"`
	Entity   string    `json:"entity"`
	Kind     string    `json:"kind"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"-"`
	Minutes  float64   `json:"minutes"`
	Severity float64   `json:"severity"`
	LastHop  string    `json:"last_hop,omitempty"`
}

// MarshalJSON writes End as "" while the event is ongoing.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	end := ""
	if !e.End.IsZero() {
		end = e.End.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(struct {
		plain
		End string `json:"end"`
	}{plain(e), end})
}
