package results

import (
	"cmp"
	"math"
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

// Healthy reports whether most of the round's canaries answered (at least
// half of them, and one): a vantage point whose canaries fail is vantage-down
// for the round, and one with no canary record at all is unknown, not
// healthy.
func (s VantageStatus) Healthy() bool { return s.Answered > 0 && 2*s.Answered >= s.Probes }

// Verdict returns the vantage-level verdict: VerdictHealthy,
// VerdictVantageDown, or VerdictVantageUnknown for a round without canary
// records.
func (s VantageStatus) Verdict() Verdict {
	v := Verdict{Time: s.Time, Level: LevelVantage, Entity: s.Vantage, Verdict: VerdictHealthy}
	switch {
	case s.Probes == 0:
		v.Verdict = VerdictVantageUnknown
	case !s.Healthy():
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

// Healthy reports whether vantage was healthy in round. A vantage point
// absent from h is taken as healthy: Analyze adds an unknown status (a gap)
// for every round without canary records when canaries are configured, so
// only a deployment without canaries (a single vantage point, which
// configuration allows) trusts a vantage unchecked. A nil Health knows
// nothing, so every vantage point is healthy.
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
	// Carried marks a down State that rests on earlier rounds, not
	// confirmed by this round's evidence (a down block's single periodic
	// probe unanswered). It keeps an outage down, but does not make a
	// block that another vantage point or method sees up partial: that
	// vantage point has not looked again yet.
	Carried bool
}

// groupKey is one entity's round, by the entity's number in Merge.
type groupKey struct {
	entity int32
	round  int64
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
	// Number the entities (asking the map only when the entity changes: one
	// entity's observations often come together) and find the span of
	// rounds; then group by entity number and round, in a dense table when
	// the span is short enough, else in a map. A counting sort of indices
	// then lists each group's observations: no per-group slices, no moving
	// of the observations themselves.
	names, ids := numberEntities(obs)
	out, _ := mergeNumbered(nil, obs, ids, rankEntities(names), health, quorum)
	return out
}

// mergeNumbered is Merge of obs whose entities are numbered: ids gives each
// observation's entity, rank each entity's place in (level, entity) order.
// It returns the verdicts, in out's memory when it has room, and the
// number of each one's entity, and overwrites ids.
func mergeNumbered(out []Verdict, obs []Observation, ids, rank []int32, health Health, quorum int) ([]Verdict, []int32) {
	if quorum <= 0 {
		quorum = DefaultQuorum
	}
	minRound, maxRound := roundSpan(obs)
	n := len(rank) // about as many groups as entities: one round of each
	g := obsGroups{sizes: make([]int32, 0, n), entity: make([]int32, 0, n), earliest: make([]int64, 0, n)}
	g.assign(obs, ids, n, minRound, maxRound)
	starts, order := g.order(ids)
	idx := groupOrder(rank, g.entity, g.earliest)
	out = slices.Grow(out[:0], len(g.sizes))[:len(g.sizes)]
	counts := make([]VantageCount, len(g.sizes)) // one allocation for all the verdicts' counts
	beliefs := make([]float64, len(g.sizes))
	entities := make([]int32, len(g.sizes))
	for k, id := range idx {
		out[k] = mergeOne(obs, order[starts[id]:starts[id+1]], health, quorum, &counts[k], &beliefs[k])
		entities[k] = g.entity[id]
	}
	return out, entities
}

// numberEntities numbers the entities of obs in order of first appearance:
// it returns their names and each observation's entity number.
func numberEntities(obs []Observation) (names []entityKey, ids []int32) {
	entities := make(map[entityKey]int32, len(obs)/2)
	ids = make([]int32, len(obs))
	var last entityKey
	eid := int32(-1)
	for i := range obs {
		o := &obs[i]
		if eid < 0 || o.Entity != last.entity || o.Level != last.level {
			last = entityKey{o.Level, o.Entity}
			var ok bool
			if eid, ok = entities[last]; !ok {
				eid = int32(len(names))
				entities[last] = eid
				names = append(names, last)
			}
		}
		ids[i] = eid
	}
	return names, ids
}

// roundSpan returns the lowest and highest round of obs.
func roundSpan(obs []Observation) (minRound, maxRound int64) {
	minRound, maxRound = int64(math.MaxInt64), int64(math.MinInt64)
	for i := range obs {
		minRound, maxRound = min(minRound, obs[i].Round), max(maxRound, obs[i].Round)
	}
	return minRound, maxRound
}

// rankEntities gives each entity of names its place in (level, entity)
// order.
func rankEntities(names []entityKey) []int32 {
	byName := make([]int32, len(names))
	for i := range byName {
		byName[i] = int32(i)
	}
	slices.SortFunc(byName, func(i, j int32) int {
		if c := cmp.Compare(names[i].level, names[j].level); c != 0 {
			return c
		}
		return cmp.Compare(names[i].entity, names[j].entity)
	})
	rank := make([]int32, len(names))
	for r, e := range byName {
		rank[e] = int32(r)
	}
	return rank
}

// obsGroups are Merge's groups of observations, one per entity and round,
// numbered in order of first appearance: each group's size, entity number,
// and earliest observation's Unix nanoseconds.
type obsGroups struct {
	sizes, entity []int32
	earliest      []int64
}

// add adds an empty group of entity e and returns its number + 1.
func (g *obsGroups) add(e int32) int32 {
	g.sizes = append(g.sizes, 0)
	g.entity = append(g.entity, e)
	g.earliest = append(g.earliest, math.MaxInt64)
	return int32(len(g.sizes)) // the group's number + 1
}

// assign groups obs by entity and round, ids giving the entity of each
// observation and n the number of entities, and replaces each id by the
// observation's group. It finds groups in a dense table of (entity, round)
// when the rounds' span is short enough, else in a map.
func (g *obsGroups) assign(obs []Observation, ids []int32, n int, minRound, maxRound int64) {
	var dense []int32 // (entity, round - minRound) → group + 1
	var sparse map[groupKey]int32
	if span := maxRound - minRound + 1; len(obs) > 0 && span > 0 && span <= (4*int64(len(obs))+1024)/int64(n) {
		dense = make([]int32, int64(n)*span)
	} else {
		sparse = make(map[groupKey]int32)
	}
	span := maxRound - minRound + 1
	id, prevEntity, prevRound := int32(-1), int32(-1), int64(0)
	for i := range obs {
		o := &obs[i]
		e := ids[i]
		if e != prevEntity || o.Round != prevRound {
			var gid int32
			if dense != nil {
				slot := &dense[int64(e)*span+o.Round-minRound]
				if *slot == 0 {
					*slot = g.add(e)
				}
				gid = *slot
			} else {
				k := groupKey{e, o.Round}
				if gid = sparse[k]; gid == 0 {
					gid = g.add(e)
					sparse[k] = gid
				}
			}
			id, prevEntity, prevRound = gid-1, e, o.Round
		}
		ids[i] = id
		g.sizes[id]++
		g.earliest[id] = min(g.earliest[id], o.Time.UnixNano())
	}
}

// order lists the observations group by group, by a counting sort of their
// groups ids: group id's observations are order[starts[id]:starts[id+1]].
func (g *obsGroups) order(ids []int32) (starts, order []int32) {
	starts = make([]int32, len(g.sizes)+1)
	for id, n := range g.sizes {
		starts[id+1] = starts[id] + n
	}
	order = make([]int32, len(ids))
	fill := slices.Clone(starts[:len(g.sizes)])
	for i, id := range ids {
		order[fill[id]] = int32(i)
		fill[id]++
	}
	return starts, order
}

// groupOrder lists groups by level, entity, then earliest time (then first
// seen): rank gives each entity's place in (level, entity) order, and the
// groups, placed by their entity's rank, need sorting only within an
// entity, where they usually come in time order already.
func groupOrder(rank []int32, groupEntity []int32, earliest []int64) []int32 {
	// Counting sort of the groups by their entity's rank, stable.
	start := make([]int32, len(rank)+1)
	for _, e := range groupEntity {
		start[rank[e]+1]++
	}
	for r := range rank {
		start[r+1] += start[r]
	}
	idx := make([]int32, len(groupEntity))
	for g, e := range groupEntity {
		r := rank[e]
		idx[start[r]] = int32(g)
		start[r]++
	}
	// Within each entity (now start[r] is where rank r ends), by time.
	from := int32(0)
	for r := range rank {
		span := idx[from:start[r]]
		later := func(a, b int32) int { return cmp.Compare(earliest[a], earliest[b]) }
		if !slices.IsSortedFunc(span, later) {
			slices.SortStableFunc(span, later)
		}
		from = start[r]
	}
	return idx
}

// planeVote gathers states into one: up when any is up, down when none is up
// and one is down, uncertain otherwise. fresh records a down confirmed in
// the round (not Observation.Carried).
type planeVote struct{ up, down, fresh bool }

func (p *planeVote) add(o *Observation) {
	switch o.State {
	case PlaneUp, PlanePartial:
		p.up = true
	case PlaneDown:
		p.down = true
		p.fresh = p.fresh || !o.Carried
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

// vote is one vantage's or one method's planeVote in a group.
type vote struct {
	name string
	planeVote
}

// votes holds a group's votes: a few vantages and methods, where an array
// beats a map (and stays on the stack); more than fit spill into a slice.
type votes struct {
	fixed [8]vote
	n     int
	more  []vote
}

// get finds name's vote, adding it when absent.
func (vs *votes) get(name string) *planeVote {
	for i := range vs.n {
		if vs.fixed[i].name == name {
			return &vs.fixed[i].planeVote
		}
	}
	for i := range vs.more {
		if vs.more[i].name == name {
			return &vs.more[i].planeVote
		}
	}
	if vs.n < len(vs.fixed) {
		vs.fixed[vs.n] = vote{name: name}
		vs.n++
		return &vs.fixed[vs.n-1].planeVote
	}
	vs.more = append(vs.more, vote{name: name})
	return &vs.more[len(vs.more)-1].planeVote
}

// all lists the votes.
func (vs *votes) all() []vote { return append(vs.fixed[:vs.n:vs.n], vs.more...) }

func (vs *votes) len() int { return vs.n + len(vs.more) }

// mergeOne merges the observations obs[i] for i in group: one entity's round.
func mergeOne(obs []Observation, group []int32, health Health, quorum int, count *VantageCount, belief *float64) Verdict {
	first := &obs[group[0]]
	v := Verdict{Level: first.Level, Entity: first.Entity, Time: first.Time}
	var vantages, gaps, methods votes
	for _, i := range group {
		o := &obs[i]
		if o.Time.Before(v.Time) {
			v.Time = o.Time
		}
		if !health.Healthy(o.Vantage, o.Round) {
			gaps.get(o.Vantage)
			continue
		}
		vantages.get(o.Vantage).add(o)
		methods.get(o.Method).add(o)
		*belief = max(*belief, o.Belief)
	}
	*count = VantageCount{Gap: gaps.len()}
	freshDown := false
	for _, pv := range vantages.all() {
		switch pv.state() {
		case PlaneUp:
			count.Up++
		case PlaneDown:
			count.Down++
			freshDown = freshDown || pv.fresh
		}
	}
	var mUp, mDown bool
	for _, mv := range methods.all() {
		s := mv.state()
		mUp = mUp || s == PlaneUp
		mDown = mDown || s == PlaneDown && mv.fresh
	}
	switch {
	case count.Up > 0 && (freshDown || mUp && mDown):
		v.DataPlane = PlanePartial
	case count.Up > 0:
		v.DataPlane = PlaneUp
	case count.Down >= quorum:
		v.DataPlane = PlaneDown
	default:
		v.DataPlane = PlaneUncertain
	}
	if mUp && mDown {
		v.Methods = make(map[string]string, methods.len())
		for _, mv := range methods.all() {
			v.Methods[mv.name] = mv.state()
		}
	}
	v.ControlPlane = ControlUnknown
	v.Verdict = Combine(v.DataPlane, v.ControlPlane)
	v.Vantages = count
	if *belief > 0 {
		v.Belief = belief
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
