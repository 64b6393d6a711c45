package results

import "net/netip"

// The entities a Stream follows are numbered in the order they are first
// seen: Stream.all holds their series by number, Stream.names their level
// and name, from which Merge's order of them is ranked once rather than
// sorted at every bin. An IPv4 /24 block, the common entity, is found by
// its address in a table of /16 pages (blockPage); any other entity in a
// map.

// blockPage numbers the /24 blocks of one IPv4 /16 by their third byte:
// the entity's number + 1, 0 for a block not seen yet.
type blockPage [256]int32

// blockSlot returns the slot of blockPage that numbers p, or nil when p is
// not a masked IPv4 /24.
func (s *Stream) blockSlot(p netip.Prefix) *int32 {
	if p.Bits() != CensusBits4 || !p.Addr().Is4() || p != p.Masked() {
		return nil
	}
	a := p.Addr().As4()
	key := uint32(a[0])<<8 | uint32(a[1])
	if s.page == nil || s.pageKey != key {
		pg := s.pages[key]
		if pg == nil {
			pg = new(blockPage)
			s.pages[key] = pg
		}
		s.page, s.pageKey = pg, key
	}
	return &s.page[a[2]]
}

// views returns the series of entity e, which it adds when new.
func (s *Stream) views(e followed) *entityViews {
	if s.last != nil && s.last.followed == e {
		return s.last
	}
	var slot *int32
	if !e.host {
		slot = s.blockSlot(e.prefix)
	}
	var ev *entityViews
	switch {
	case slot != nil && *slot > 0:
		ev = s.all[*slot-1]
	case slot == nil:
		ev = s.series[e]
	}
	if ev == nil {
		ev = s.newViews(e)
		if slot != nil {
			*slot = ev.id + 1
		} else {
			s.series[e] = ev
		}
	}
	s.last = ev
	return ev
}

// newViews numbers a new entity e and returns its empty series.
func (s *Stream) newViews(e followed) *entityViews {
	ev := &entityViews{followed: e, id: int32(len(s.all)), level: LevelBlock, entity: e.prefix.String()}
	if e.host {
		ev.level, ev.entity = LevelHost, e.prefix.Addr().String()
	}
	s.all = append(s.all, ev)
	s.names = append(s.names, entityKey{ev.level, ev.entity})
	return ev
}

// ranks returns the rank of each entity followed in (level, entity) order,
// ranked again only when entities have been added since.
func (s *Stream) ranks() []int32 {
	if len(s.rank) != len(s.names) {
		s.rank = rankEntities(s.names)
	}
	return s.rank
}
