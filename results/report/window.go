package report

import (
	"fmt"
	"time"
)

// DefaultWindow is how far back from its end a report reaches when its
// start is not given.
const DefaultWindow = 24 * time.Hour

// Window fills in the time range of a report: a zero until is now, a zero
// since DefaultWindow before until.
func Window(since, until, now time.Time) (time.Time, time.Time) {
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		since = until.Add(-DefaultWindow)
	}
	return since, until
}

// Title is the title of a report from since to until when none is given.
func Title(since, until time.Time) string {
	return fmt.Sprintf("darkwatch report, %s to %s", since.Format(time.RFC3339), until.Format(time.RFC3339))
}
