package results

import (
	"slices"
	"time"
)

// binObs is an Observation as a Stream's bin holds it until the bin is
// merged: its entity (Stream.names), vantage point and method (Stream.strs)
// and state (planeStates) by number, its time the bin's start. It holds no
// pointer, so that the collector need not scan the bins.
type binObs struct {
	round                   int64
	belief                  float64
	entity, vantage, method int32
	state                   uint8
	carried                 bool
}

// planeStates are the states a round's judgement gives, numbered.
var planeStates = [...]string{PlaneUp, PlaneDown, PlaneUncertain, PlanePartial}

// stateID is the number of state among planeStates, which hold every state
// blockSeries.judge gives (that of PlaneUncertain for any other).
func stateID(state string) uint8 {
	if i := slices.Index(planeStates[:], state); i >= 0 {
		return uint8(i)
	}
	return 2
}

// intern numbers a vantage point's or a method's name.
func (s *Stream) intern(name string) int32 {
	if i, ok := s.strIndex[name]; ok {
		return i
	}
	i := int32(len(s.strs))
	s.strs = append(s.strs, name)
	s.strIndex[name] = i
	return i
}

// obsBin is the observations of a bin.
type obsBin struct {
	obs []binObs
}

// add files observation o.
func (b *obsBin) add(o binObs) { b.obs = append(b.obs, o) }

// bin returns the observations of the bin that starts at ns, a new bin
// when there is none: the spare bin's memory, or room for about what the
// last bin closed held. The bin asked for last is asked for again most
// often.
func (s *Stream) bin(ns int64) *obsBin {
	if s.lastBin != nil && s.lastBinStart == ns {
		return s.lastBin
	}
	if b := s.bins[ns]; b != nil {
		s.lastBin, s.lastBinStart = b, ns
		return b
	}
	n := 0
	if s.prev != nil {
		n = len(s.prev.obs) + len(s.prev.obs)/8
	}
	b := s.spare
	if b != nil {
		s.spare = nil
		b.obs = slices.Grow(b.obs[:0], n)
	} else {
		b = &obsBin{obs: make([]binObs, 0, n)}
	}
	s.bins[ns] = b
	s.lastBin, s.lastBinStart = b, ns
	return b
}

// observations returns the observations of b, the bin that starts at bin,
// as Merge takes them, and puts their entities' numbers in s.ids. Both are
// the Stream's, valid until the next bin is merged.
func (s *Stream) observations(b *obsBin, bin int64) []Observation {
	t := time.Unix(0, bin).UTC()
	obs, ids := slices.Grow(s.merging[:0], len(b.obs)), slices.Grow(s.ids[:0], len(b.obs))
	for i := range b.obs {
		o := &b.obs[i]
		name := &s.names[o.entity]
		obs = append(obs, Observation{Vantage: s.strs[o.vantage], Level: name.level, Entity: name.entity,
			Round: o.round, Time: t, State: planeStates[o.state], Method: s.strs[o.method],
			Belief: o.belief, Carried: o.carried})
		ids = append(ids, o.entity)
	}
	s.merging, s.ids = obs, ids
	return obs
}

// latestBins returns, per vantage point, the latest bin that holds one of
// its observations.
func (s *Stream) latestBins() map[string]int64 {
	latest := map[string]int64{}
	for b, bin := range s.bins {
		for i := range bin.obs {
			v := s.strs[bin.obs[i].vantage]
			if l, ok := latest[v]; !ok || b > l {
				latest[v] = b
			}
		}
	}
	return latest
}

// carryLate adds to the observations of bin, one of the last bins read,
// those of the bin before for every vantage point whose records have not
// come past bin (latest: per vantage point, its latest bin) and that said
// nothing of the entity in bin: a node's records reach the store a few
// seconds into the next round, and until they do, its last view of the
// entity stands, as a carried view that confirms nothing new. Without it,
// the newest round would be judged by the vantage points that delivered
// first alone, too few for a quorum.
func (s *Stream) carryLate(bin int64, latest map[string]int64) {
	b := s.bins[bin]
	if s.an.Round <= 0 || s.prev == nil || s.prevBin != bin-int64(s.an.Round) {
		return
	}
	type said struct{ vantage, entity, method int32 }
	have := make(map[said]bool, len(b.obs))
	for _, o := range b.obs {
		have[said{o.vantage, o.entity, o.method}] = true
	}
	t := time.Unix(0, bin).UTC()
	for _, o := range s.prev.obs {
		vantage := s.strs[o.vantage]
		if l, ok := latest[vantage]; ok && l > bin || have[said{o.vantage, o.entity, o.method}] {
			continue
		}
		// The view moves to the vantage point's next round, healthy as it
		// was in the round seen (its canaries are as late as its blocks).
		if st, ok := s.health[VantageRound{vantage, o.round}]; ok {
			next := VantageRound{vantage, o.round + 1}
			if _, ok := s.health[next]; !ok {
				st.Round, st.Time = next.Round, t
				s.health[next], s.reported[next] = st, true
			}
		}
		o.round, o.carried = o.round+1, o.carried || planeStates[o.state] == PlaneDown
		b.add(o)
	}
}
