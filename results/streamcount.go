package results

import (
	"cmp"
	"slices"
)

// streamBlock is what a Stream keeps of a block for its roll-ups: its
// parents, by number, and how the count of the bin counted last took it.
type streamBlock struct {
	parents []int32 // indexes of Stream.entities
	seq     int64   // the count that took the block last
	up      bool    // counted as up in it
	known   bool    // parents found
}

// streamEntity is a roll-up entity a Stream counts, and its count in the
// bin counted last.
type streamEntity struct {
	EntityRef
	rank int // levelRank of its level
	seq  int64
	c    EntityCount
}

// rollupCounts is Hierarchy.Count of merged, whose entities' numbers are
// entities, for the Stream's rounds: it numbers the blocks' parents once,
// and counts into arrays rather than maps. Verdicts of more than one bin
// are counted by Count itself.
func (s *Stream) rollupCounts(merged []Verdict, entities []int32) []EntityCount {
	first := -1
	for i := range merged {
		if merged[i].Level != LevelBlock {
			continue
		}
		if first < 0 {
			first = i
		} else if !binStart(merged[i].Time, s.an.Round).Equal(binStart(merged[first].Time, s.an.Round)) {
			return s.h.Count(merged, s.an.Round)
		}
	}
	if first < 0 {
		return []EntityCount{}
	}
	t := binStart(merged[first].Time, s.an.Round)
	s.countSeq++
	seq := s.countSeq
	touched := s.touched[:0]
	for i := range merged {
		v := &merged[i]
		if v.Level != LevelBlock {
			continue
		}
		b := s.block(entities[i])
		up, down := v.DataPlane == PlaneUp || v.DataPlane == PlanePartial, v.DataPlane == PlaneDown
		dup := b.seq == seq
		wasUp := dup && b.up
		for _, e := range b.parents {
			se := &s.entities[e]
			if se.seq != seq {
				se.seq, se.c = seq, EntityCount{Time: t, Level: se.Level, Entity: se.Entity}
				touched = append(touched, e)
			}
			if !dup {
				se.c.Total++
				if down {
					se.c.Down++
				}
			}
			if up && !wasUp {
				se.c.Up++
			}
		}
		b.seq, b.up = seq, wasUp || up
	}
	slices.SortFunc(touched, func(a, b int32) int {
		ea, eb := &s.entities[a], &s.entities[b]
		return cmp.Or(cmp.Compare(ea.rank, eb.rank), cmp.Compare(ea.Entity, eb.Entity))
	})
	out := make([]EntityCount, len(touched))
	for i, e := range touched {
		out[i] = s.entities[e].c
	}
	s.touched = touched
	return out
}

// block is the block that entity number id names, with its parents
// numbered when first asked for.
func (s *Stream) block(id int32) *streamBlock {
	if n := int(id) + 1; n > len(s.blocks) {
		s.blocks = append(s.blocks, make([]streamBlock, n-len(s.blocks))...)
	}
	b := &s.blocks[id]
	if b.known {
		return b
	}
	b.known = true
	for _, e := range s.h.Parents(s.all[id].prefix) {
		i, ok := s.entityIndex[e]
		if !ok {
			i = int32(len(s.entities))
			s.entityIndex[e] = i
			s.entities = append(s.entities, streamEntity{EntityRef: e, rank: levelRank(e.Level)})
		}
		b.parents = append(b.parents, i)
	}
	return b
}
