package accuracy

import (
	"bytes"
	"fmt"
	"testing"
)

func TestReplay2014(t *testing.T) {
	for _, tc := range []struct {
		name   string
		census bool
	}{{"census, adaptive probing", true}, {"no census, every address swept", false}} {
		t.Run(tc.name, func(t *testing.T) {
			res := Replay2014(tc.census)
			var out bytes.Buffer
			Print(&out, fmt.Sprintf("KP December 2014, %s: %d records, dark from %s to %s", tc.name, res.Records,
				res.DarkFrom.Format("2006-01-02 15:04"), res.DarkUntil.Format("2006-01-02 15:04")), res.Rows)
			t.Logf("\n%s", out.String())
			for _, e := range res.Truth.Entities {
				// Round numbers from the first dark round: the dark is
				// rounds 0 to KPDarkRounds-1.
				down := DownRounds(res.Verdicts, e.Level, e.Entity, res.DarkFrom, KPRound)
				if msg := checkDark(down); msg != "" {
					t.Errorf("%s %s: %s; down in rounds %s", e.Level, e.Entity, msg, runs(down))
				}
			}
		})
	}
}

// checkDark says what is wrong with the rounds read down, counted from the
// first dark round: they must be one run of KPDarkRounds ± 1 rounds that
// starts within a round of the dark.
func checkDark(down []int) string {
	switch {
	case len(down) == 0:
		return "never read down"
	case down[len(down)-1]-down[0]+1 != len(down):
		return "read down in more than one run"
	case down[0] < -1 || down[0] > 1:
		return fmt.Sprintf("read down from round %+d of the dark, want within ±1", down[0])
	case len(down) < KPDarkRounds-1 || len(down) > KPDarkRounds+1:
		return fmt.Sprintf("read down for %d rounds, want %d ± 1", len(down), KPDarkRounds)
	}
	return ""
}

// runs writes rounds as runs: "-3, 0..51".
func runs(rounds []int) string {
	var b bytes.Buffer
	for i := 0; i < len(rounds); {
		j := i
		for j+1 < len(rounds) && rounds[j+1] == rounds[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if j > i {
			fmt.Fprintf(&b, "%d..%d", rounds[i], rounds[j])
		} else {
			fmt.Fprintf(&b, "%d", rounds[i])
		}
		i = j + 1
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
