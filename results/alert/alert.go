// Package alert sends darkwatch's outage events to on-call people: to
// Prometheus Alertmanagers (API v2, POST /api/v2/alerts), re-sent while they
// last and re-posted with their end when they are over, and to generic
// webhooks as one JSON message when an alert fires and one when it
// resolves. Notifications that fail are retried with backoff until they go
// through; /metrics counts them. It owns the alerts: section of the
// configuration (Config).
//
// It reads events from the store (or is handed them) and knows nothing of
// how they are found, of flags, or of the collector around it.
package alert

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"darkwatch/results"
)

// AlertName is the alertname label of every alert darkwatch sends.
const AlertName = "DarkwatchOutage"

// Label names of an alert, which routes and silences match on.
const (
	LabelAlertName = "alertname"
	LabelSeverity  = "severity"
	LabelLevel     = "level"
	LabelEntity    = "entity"
	LabelKind      = "kind"
	LabelASN       = "asn"
	LabelCountry   = "country"
	LabelVantages  = "vantages"
)

// Severities of an alert: critical for an outage (roll-up: below 50 % of
// its usual up blocks), warning for a partial or withdrawn entity.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// Alert is one outage event as it is notified: Alertmanager's alert, with
// EndsAt zero while it fires.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
}

// Key identifies an alert among those of the notifier: its level, entity
// and kind (the labels that make it one alert in Alertmanager too).
func (a Alert) Key() string {
	return a.Labels[LabelLevel] + "|" + a.Labels[LabelEntity] + "|" + a.Labels[LabelKind]
}

// eventKey is the Key of the alert of an event.
func eventKey(e results.Event) string { return e.Level + "|" + e.Entity + "|" + e.Kind }

// Severity is the severity label of an event of kind.
func Severity(kind string) string {
	switch kind {
	case results.VerdictOutage, results.VerdictDataPlaneOutage, results.VerdictControlPlaneOutage:
		return SeverityCritical
	}
	return SeverityWarning
}

// Where is what an alert says of an event's place besides the event: the
// AS and country of its entity, and the vantage points that watched it.
type Where struct {
	ASN      string
	Country  string
	Vantages []string
}

// FromEvent is the alert of event e, placed by w, linking back to
// dashboard ("" for no link). Labels with no value are left out; EndsAt is
// e.End.
func FromEvent(e results.Event, w Where, dashboard string) Alert {
	labels := map[string]string{
		LabelAlertName: AlertName, LabelSeverity: Severity(e.Kind),
		LabelLevel: e.Level, LabelEntity: e.Entity, LabelKind: e.Kind,
		LabelASN: w.ASN, LabelCountry: w.Country, LabelVantages: strings.Join(w.Vantages, ","),
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	return Alert{Labels: labels, Annotations: annotations(e, w), StartsAt: e.Start.UTC(), EndsAt: e.End.UTC(),
		GeneratorURL: dashboard}
}

// annotations are what an alert tells a person: a summary, a description,
// and the event's numbers.
func annotations(e results.Event, w Where) map[string]string {
	name := e.Level + " " + e.Entity
	var place []string
	if w.ASN != "" && e.Level != results.LevelASN {
		place = append(place, w.ASN)
	}
	if w.Country != "" && e.Level != results.LevelCountry {
		place = append(place, w.Country)
	}
	if len(place) > 0 {
		name += " (" + strings.Join(place, ", ") + ")"
	}
	a := map[string]string{
		"summary": fmt.Sprintf("%s: %s since %s", name, e.Kind, e.Start.UTC().Format(time.RFC3339)),
		"minutes": strconv.FormatFloat(e.Minutes, 'f', 1, 64),
		// The event's severity is IODA's relative drop × minutes.
		"event_severity": strconv.FormatFloat(e.Severity, 'f', 1, 64),
	}
	desc := fmt.Sprintf("darkwatch finds %s in %s from %s", name, e.Kind, e.Start.UTC().Format(time.RFC3339))
	if !e.End.IsZero() {
		desc += " to " + e.End.UTC().Format(time.RFC3339)
	}
	desc += fmt.Sprintf(" (%.1f min)", e.Minutes)
	if len(w.Vantages) > 0 {
		desc += ", seen from " + strings.Join(w.Vantages, ", ")
	}
	if e.LastHop != "" {
		a["last_hop"] = e.LastHop
		desc += "; traces stop after " + e.LastHop
	}
	a["description"] = desc + "."
	return a
}

// Places gives the AS and country of an entity from the configured target
// sets.
type Places struct {
	sets []results.TargetSet
}

// NewPlaces returns the places of sets.
func NewPlaces(sets []results.TargetSet) Places { return Places{sets: sets} }

// Of returns the AS ("AS64500") and country of the entity: those of the
// target sets it lies in (a host, block or prefix), the countries of an AS's
// sets, the ASes of a country's; several are joined by commas, none is "".
func (p Places) Of(level, entity string) (asn, country string) {
	var ases, countries []string
	add := func(list *[]string, v string) {
		if v != "" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, s := range p.sets {
		setASN := ""
		if s.ASN != 0 {
			setASN = results.ASEntity(s.ASN)
		}
		setCountry := strings.ToUpper(s.Country)
		in := false
		switch level {
		case results.LevelASN:
			in = setASN == entity
		case results.LevelCountry:
			in = setCountry != "" && setCountry == strings.ToUpper(entity)
		case results.LevelHost, results.LevelBlock, results.LevelPrefix:
			in = overlapsAny(level, entity, s.Prefixes)
		}
		if in {
			add(&ases, setASN)
			add(&countries, setCountry)
		}
	}
	slices.Sort(ases)
	slices.Sort(countries)
	switch level {
	case results.LevelASN:
		ases = []string{entity}
	case results.LevelCountry:
		countries = []string{strings.ToUpper(entity)}
	case results.LevelVantage:
		return "", ""
	}
	return strings.Join(ases, ","), strings.Join(countries, ",")
}

// overlapsAny reports whether a host, block or prefix entity overlaps one of
// prefixes.
func overlapsAny(level, entity string, prefixes []netip.Prefix) bool {
	var e netip.Prefix
	if level == results.LevelHost {
		a, err := netip.ParseAddr(entity)
		if err != nil {
			return false
		}
		e = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	} else {
		var err error
		if e, err = netip.ParsePrefix(entity); err != nil {
			return false
		}
	}
	for _, p := range prefixes {
		if p.Overlaps(e) {
			return true
		}
	}
	return false
}
