package results

import (
	"fmt"
	"testing"
	"time"
)

// TestMergeEvents: an analysis answers for its own rounds only. What it
// finds in its warm-up continues or closes stored events; it never deletes
// one that an earlier analysis, trusted there, found.
func TestMergeEvents(t *testing.T) {
	const round = time.Minute
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	at := func(r int) time.Time { return t0.Add(time.Duration(r) * round) }
	// ev is an outage of the prefix from round start to round end (0: open,
	// its minutes running to the last bad round, last).
	ev := func(kind string, start, end int) Event {
		e := Event{Level: LevelPrefix, Entity: "198.18.4.0/22", Kind: kind, Start: at(start)}
		if end > 0 {
			e.End = at(end)
			e.Minutes = float64(end - start)
			e.Severity = e.Minutes / 2
		}
		return e
	}
	open := func(kind string, start, last int) Event {
		e := ev(kind, start, 0)
		e.Minutes = float64(last + 1 - start)
		e.Severity = e.Minutes / 2
		return e
	}
	judged := map[entityKey]bool{{LevelPrefix, "198.18.4.0/22"}: true}
	for _, c := range []struct {
		name          string
		stored, found []Event
		trusted       int
		judged        map[entityKey]bool
		drop, put     []Event
	}{
		{name: "a warm-up that misses a stored event keeps it",
			stored: []Event{ev(VerdictOutage, 3, 8)}, trusted: 12, judged: judged},
		{name: "a stored open event the analysis no longer sees ends at trusted",
			stored: []Event{open(VerdictOutage, 3, 9)}, trusted: 12, judged: judged,
			put: []Event{ev(VerdictOutage, 3, 12)}},
		{name: "an open event of an entity not judged stays open",
			stored: []Event{open(VerdictOutage, 3, 9)}, trusted: 12},
		{name: "found in the warm-up, later: continues the stored, from its start",
			stored: []Event{open(VerdictOutage, 3, 9)}, found: []Event{open(VerdictOutage, 6, 12)}, trusted: 12,
			put: []Event{open(VerdictOutage, 3, 12)}},
		{name: "found ending: the stored event ends there",
			stored: []Event{open(VerdictOutage, 3, 9)}, found: []Event{ev(VerdictOutage, 6, 14)}, trusted: 12,
			put: []Event{ev(VerdictOutage, 3, 14)}},
		{name: "found ending in the warm-up before a later stored end: the stored end stays",
			stored: []Event{ev(VerdictOutage, 3, 11)}, found: []Event{ev(VerdictOutage, 5, 8)}, trusted: 12, judged: judged},
		{name: "a worse kind found: the event takes it under a new key",
			stored: []Event{open(VerdictPartial, 3, 9)}, found: []Event{open(VerdictOutage, 5, 12)}, trusted: 12,
			drop: []Event{open(VerdictPartial, 3, 9)}, put: []Event{open(VerdictOutage, 3, 12)}},
		{name: "found earlier than stored: the start moves back",
			stored: []Event{open(VerdictOutage, 5, 9)}, found: []Event{open(VerdictOutage, 3, 12)}, trusted: 12,
			drop: []Event{open(VerdictOutage, 5, 9)}, put: []Event{open(VerdictOutage, 3, 12)}},
		{name: "stored in the rounds answered for is replaced, even by nothing",
			stored: []Event{ev(VerdictOutage, 13, 15), ev(VerdictPartial, 16, 18)}, found: []Event{ev(VerdictOutage, 14, 15)}, trusted: 12,
			drop: []Event{ev(VerdictOutage, 13, 15), ev(VerdictPartial, 16, 18)}, put: []Event{ev(VerdictOutage, 14, 15)}},
		{name: "found within a round of a stored end: one event",
			stored: []Event{ev(VerdictOutage, 3, 11)}, found: []Event{ev(VerdictOutage, 12, 15)}, trusted: 12,
			put: []Event{ev(VerdictOutage, 3, 15)}},
		{name: "found two rounds after a stored end: two events",
			stored: []Event{ev(VerdictOutage, 3, 10)}, found: []Event{ev(VerdictOutage, 12, 15)}, trusted: 12,
			put: []Event{ev(VerdictOutage, 12, 15)}},
		{name: "new in the warm-up, going on at trusted: stored, dated back",
			found: []Event{open(VerdictOutage, 10, 12)}, trusted: 12, put: []Event{open(VerdictOutage, 10, 12)}},
		{name: "new in the warm-up and over before trusted: not this analysis' to say",
			found: []Event{ev(VerdictOutage, 4, 7)}, trusted: 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			drop, put := mergeEvents(c.stored, c.found, c.judged, at(c.trusted), time.Time{}, round)
			if got, want := show(drop), show(c.drop); got != want {
				t.Errorf("drop\n got %s\nwant %s", got, want)
			}
			if got, want := show(put), show(c.put); got != want {
				t.Errorf("put\n got %s\nwant %s", got, want)
			}
		})
	}
}

func show(es []Event) string {
	s := "["
	for _, e := range es {
		end := "open"
		if !e.End.IsZero() {
			end = e.End.Format("15:04")
		}
		s += fmt.Sprintf(" %s %s–%s %gmin sev %g;", e.Kind, e.Start.Format("15:04"), end, e.Minutes, e.Severity)
	}
	return s + " ]"
}
