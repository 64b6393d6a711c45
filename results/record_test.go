package results

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRecordJSON(t *testing.T) {
	at := time.Date(2026, 11, 21, 22, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"icmp", Record{Time: at, Vantage: "vp-fra1", Round: 123, Method: MethodICMP, Target: "198.18.3.4", Seq: 1,
			Outcome: OutcomeReply, RTTms: 0.213, ReplyTTL: 61},
			`{"time":"2026-11-21T22:00:00.123456Z","vantage":"vp-fra1","round":123,"method":"icmp","target":"198.18.3.4","seq":1,"outcome":"reply","rtt_ms":0.213,"reply_ttl":61}`},
		{"trace", Record{Time: at, Vantage: "vp1", Method: MethodTrace, Target: "198.18.7.7", Outcome: OutcomeTimeout, Proto: "icmp",
			Hops: []Hop{{TTL: 1, Addr: "198.51.100.9", RTTms: 0.2, ICMP: "time-exceeded"}, {TTL: 2}}, Reached: Bool(false)},
			`{"time":"2026-11-21T22:00:00.123456Z","vantage":"vp1","round":0,"method":"trace","target":"198.18.7.7","outcome":"timeout","proto":"icmp","hops":[{"ttl":1,"addr":"198.51.100.9","rtt_ms":0.2,"icmp":"time-exceeded"},{"ttl":2,"addr":""}],"reached":false}`},
		{"dns", Record{Time: at, Vantage: "vp1", Method: MethodDNS, Target: "175.45.176.15", Port: 53, Outcome: OutcomeReply,
			Qname: "kp.", Qtype: "SOA", Rcode: "NOERROR", AA: Bool(true), Answers: Int(1)},
			`{"time":"2026-11-21T22:00:00.123456Z","vantage":"vp1","round":0,"method":"dns","target":"175.45.176.15","port":53,"outcome":"reply","qname":"kp.","qtype":"SOA","rcode":"NOERROR","aa":true,"answers":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(&tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got  %s\nwant %s", b, tt.want)
			}
			var back Record
			if err := json.Unmarshal(b, &back); err != nil || back.ID() != tt.rec.ID() {
				t.Fatalf("round trip: %v, id %q vs %q", err, back.ID(), tt.rec.ID())
			}
		})
	}
}

func TestRecordIDAndAnswered(t *testing.T) {
	a := Record{Vantage: "vp1", Round: 7, Method: MethodTCP, Target: "198.18.1.1", Port: 80, Seq: 2}
	b := a
	b.Seq = 3
	if a.ID() == b.ID() || a.ID() != "vp1/7/tcp/198.18.1.1/80/2" {
		t.Fatalf("ids %q %q", a.ID(), b.ID())
	}
	for outcome, want := range map[string]bool{OutcomeOpen: true, OutcomeClosed: true, OutcomeReply: true,
		OutcomeTimeout: false, OutcomeUnreachable: false, OutcomeError: false} {
		a.Outcome = outcome
		if a.Answered() != want {
			t.Errorf("%s: Answered %v", outcome, !want)
		}
	}
	tr := Record{Method: MethodTrace, Outcome: OutcomeReply, Reached: Bool(false)}
	if tr.Answered() {
		t.Error("a trace that did not reach its target counts as answered")
	}
}

func TestWriterText(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, false)
	w.Write(Record{Method: MethodICMP, Target: "198.18.3.4", Seq: 1, Outcome: OutcomeReply, RTTms: 0.5, ReplyTTL: 62},
		Record{Method: MethodTrace, Target: "198.18.7.7", Proto: "udp", Outcome: OutcomeReply, Reached: Bool(true),
			Hops: []Hop{{TTL: 1, Addr: "192.0.2.9", RTTms: 1, ICMP: "time-exceeded"}, {TTL: 2}, {TTL: 3, Addr: "198.18.7.7", RTTms: 2, ICMP: "dest-unreachable/port"}}})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"198.18.3.4", "reply", "rtt=0.500 ms", "ttl=62", "reached in 3 hops", "  2  *", "dest-unreachable/port"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}
