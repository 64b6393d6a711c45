package results

import (
	"cmp"
	"slices"
	"time"
)

// DefaultQuorum is how many healthy vantage points must see an entity down, and
// none up, for it to be down.
const DefaultQuorum = 2

// VantageRound names one vantage point's round.
type VantageRound struct {
	Vantage string
	Round   int64
}

// VantageStatus is how one vantage point's canaries fared in one round.
type VantageStatus struct {
	Vantage string
	Round   int64
	// Time is the time of the round's first canary record.
	Time time.Time
	// Probes counts the canary records, Answered those whose target answered.
	Probes   int
	Answered int
}

// Healthy reports whether at least one canary answered: a vantage point whose
// canaries all fail is vantage-down for the round.
func (s VantageStatus) Healthy() bool { return s.Answered > 0 }

// Verdict returns the vantage-level verdict: VerdictHealthy or
// VerdictVantageDown.
func (s VantageStatus) Verdict() Verdict {
	v := Verdict{Time: s.Time, Level: LevelVantage, Entity: s.Vantage, Verdict: VerdictHealthy}
	if !s.Healthy() {
		v.Verdict = VerdictVantageDown
	}
	return v
}

// Health says, per vantage point and round, how its canaries fared.
type Health map[VantageRound]VantageStatus

// VantageHealth reads the canary records of any number of vantage points and
// rounds (the caller passes only records whose target is a canary). Every
// record is one canary probe; an outcome "error" counts as a failed probe, since
// a vantage point that cannot send cannot measure.
func VantageHealth(canaries []Record) Health {
	h := make(Health)
	for i := range canaries {
		r := &canaries[i]
		k := VantageRound{r.Vantage, r.Round}
		s, ok := h[k]
		if !ok || r.Time.Before(s.Time) {
			s.Time = r.Time
		}
		s.Vantage, s.Round = r.Vantage, r.Round
		s.Probes++
		if r.Answered() {
			s.Answered++
		}
		h[k] = s
	}
	return h
}

// Healthy reports whether vantage was healthy in round. A vantage point with no
// canary records for the round is unknown, and is taken as healthy: its
// evidence counts. (A node configured without canaries must not silence
// itself; the price is that its own failures read as target outages unless the
// quorum of other vantage points outvotes it.) A nil Health knows nothing, so
// every vantage point is healthy.
func (h Health) Healthy(vantage string, round int64) bool {
	s, ok := h[VantageRound{vantage, round}]
	return !ok || s.Healthy()
}

// Verdicts returns the vantage-level verdicts, sorted by vantage, then round.
func (h Health) Verdicts() []Verdict {
	ss := make([]VantageStatus, 0, len(h))
	for _, s := range h {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b VantageStatus) int {
		if c := cmp.Compare(a.Vantage, b.Vantage); c != 0 {
			return c
		}
		return cmp.Compare(a.Round, b.Round)
	})
	vs := make([]Verdict, len(ss))
	for i, s := range ss {
		vs[i] = s.Verdict()
	}
	return vs
}

// Observation is one vantage point's view of one entity in one round by one
// method: typically a BlockRound's state for a block, or a known host's.
type Observation struct {
	Vantage string
	Level   string
	Entity  string
	Round   int64
	Time    time.Time
	// State is PlaneUp, PlaneDown or PlaneUncertain. PlanePartial counts as up
	// (something answered); anything else as uncertain.
	State  string
	Method string
	// Belief is B(U) behind State, 0 when there is none.
	Belief float64
}

type entityRound struct {
	level, entity string
	round         int64
}

// Merge combines observations from several vantage points into one verdict per
// entity and round, sorted by level, entity, then time. quorum is the
// DefaultQuorum when not positive.
//
// Evidence from a vantage point that health says is vantage-down that round
// is left out and counted in Vantages.Gap. Each healthy vantage point's view
// is up when any of its methods saw up, down when none saw up and one saw down,
// and uncertain (no evidence either way) otherwise. Then: any healthy vantage
// point up → up, or partial when another saw down; otherwise at least quorum
// down → down; otherwise uncertain. One vantage point's loss alone is never a
// target outage (unless quorum is 1).
//
// Methods that disagree (one saw up where another saw down, on one vantage
// point or across them) make the data plane partial and are reported in
// Verdict.Methods, each method's state merged over the healthy vantage points
// as above, e.g. {"icmp":"down","tcp":"up"}.
//
// The verdict's time is the earliest observation's; Belief is the highest B(U)
// among the healthy observations that carry one; the control plane is unknown,
// and Verdict is Combine(data plane, ControlUnknown): the caller that knows the
// control plane calls Combine again.
func Merge(obs []Observation, health Health, quorum int) []Verdict {
	if quorum <= 0 {
		quorum = DefaultQuorum
	}
	groups := make(map[entityRound][]Observation)
	for _, o := range obs {
		k := entityRound{o.Level, o.Entity, o.Round}
		groups[k] = append(groups[k], o)
	}
	out := make([]Verdict, 0, len(groups))
	for k, g := range groups {
		out = append(out, mergeOne(k, g, health, quorum))
	}
	slices.SortFunc(out, func(a, b Verdict) int {
		if c := cmp.Compare(a.Level, b.Level); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Entity, b.Entity); c != 0 {
			return c
		}
		return a.Time.Compare(b.Time)
	})
	return out
}

// planeVote gathers states into one: up when any is up, down when none is up
// and one is down, uncertain otherwise.
type planeVote struct{ up, down bool }

func (p *planeVote) add(state string) {
	switch state {
	case PlaneUp, PlanePartial:
		p.up = true
	case PlaneDown:
		p.down = true
	}
}

func (p planeVote) state() string {
	switch {
	case p.up:
		return PlaneUp
	case p.down:
		return PlaneDown
	}
	return PlaneUncertain
}

func mergeOne(k entityRound, g []Observation, health Health, quorum int) Verdict {
	v := Verdict{Level: k.level, Entity: k.entity, Time: g[0].Time}
	vantages := make(map[string]*planeVote)
	gaps := make(map[string]bool)
	methods := make(map[string]*planeVote)
	belief := 0.0
	for _, o := range g {
		if o.Time.Before(v.Time) {
			v.Time = o.Time
		}
		if !health.Healthy(o.Vantage, o.Round) {
			gaps[o.Vantage] = true
			continue
		}
		pv := vantages[o.Vantage]
		if pv == nil {
			pv = &planeVote{}
			vantages[o.Vantage] = pv
		}
		pv.add(o.State)
		mv := methods[o.Method]
		if mv == nil {
			mv = &planeVote{}
			methods[o.Method] = mv
		}
		mv.add(o.State)
		belief = max(belief, o.Belief)
	}
	count := VantageCount{Gap: len(gaps)}
	for _, pv := range vantages {
		switch pv.state() {
		case PlaneUp:
			count.Up++
		case PlaneDown:
			count.Down++
		}
	}
	mstates := make(map[string]string, len(methods))
	var mUp, mDown bool
	for m, mv := range methods {
		s := mv.state()
		mstates[m] = s
		mUp = mUp || s == PlaneUp
		mDown = mDown || s == PlaneDown
	}
	switch {
	case count.Up > 0 && (count.Down > 0 || mUp && mDown):
		v.DataPlane = PlanePartial
	case count.Up > 0:
		v.DataPlane = PlaneUp
	case count.Down >= quorum:
		v.DataPlane = PlaneDown
	default:
		v.DataPlane = PlaneUncertain
	}
	if mUp && mDown {
		v.Methods = mstates
	}
	v.ControlPlane = ControlUnknown
	v.Verdict = Combine(v.DataPlane, v.ControlPlane)
	v.Vantages = &count
	if belief > 0 {
		v.Belief = &belief
	}
	return v
}

// Combine returns the verdict for a data-plane state (PlaneUp, PlanePartial,
// PlaneDown, PlaneUncertain) and a control-plane state (ControlAnnounced,
// ControlWithdrawn, ControlUnknown), as DESIGN.md's table says:
//
//	data \ control  announced          withdrawn             unknown
//	up              reachable          reachable-unrouted    reachable
//	partial         partial            partial               partial
//	down            data-plane-outage  control-plane-outage  outage
//	uncertain       uncertain          withdrawn             uncertain
//
// An unrecognised control plane (the empty string too) is unknown; an
// unrecognised data plane is uncertain.
func Combine(dataPlane, controlPlane string) string {
	switch controlPlane {
	case ControlAnnounced, ControlWithdrawn:
	default:
		controlPlane = ControlUnknown
	}
	withdrawn := controlPlane == ControlWithdrawn
	switch dataPlane {
	case PlaneUp:
		if withdrawn {
			return VerdictReachableUnrouted
		}
		return VerdictReachable
	case PlanePartial:
		return VerdictPartial
	case PlaneDown:
		switch controlPlane {
		case ControlAnnounced:
			return VerdictDataPlaneOutage
		case ControlWithdrawn:
			return VerdictControlPlaneOutage
		}
		return VerdictOutage
	}
	if withdrawn {
		return VerdictWithdrawn
	}
	return VerdictUncertain
}
