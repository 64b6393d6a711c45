// Package transport carries probe records from measurement nodes to a
// collector over NATS JetStream, losing none and storing none twice.
//
// A node (Node) publishes the records of its store's outbox on
// darkwatch.results.<vantage>, packed, many to a message, with an id made
// of the vantage and the outbox batches' as Nats-Msg-Id so that JetStream
// drops a message sent twice, and takes a batch out of the outbox only when JetStream has
// acknowledged it; whatever is not acknowledged is sent again, with
// backoff, after a collector outage or a node restart. The store, idempotent
// by record, drops any other copy. A node
// also sends heartbeats on darkwatch.heartbeat.<vantage> and learns its clock
// offset from the replies.
//
// The collector (Collector) reads the stream through a durable consumer,
// writes the records to its store and acknowledges them only after the store
// has committed them. Server runs the NATS server with JetStream inside the
// collector's process, with one user per node that may publish only on its
// own subjects; a collector may instead use an external NATS cluster.
//
// Forwarder is a node's side as a whole (store and queue, send, flush on
// close), and ConnectCollector the collector's NATS connection, embedded
// server or external. The package owns the node's collector: section (Link)
// and the collector's nats: section (ServeNATS) with their validation, and
// reads the secret and CA files they name (ReadSecret, CAPool).
//
// The package knows records and the few store methods it calls (OutboxStore,
// RecordStore); it knows nothing of probing, schedules, verdicts, flags or
// how configuration files are read: callers pass typed sections.
package transport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"darkwatch/results"
	"darkwatch/results/store"
)

// Subjects, stream and consumer names. Every vantage has its own subjects,
// so that a node's permissions can name them.
const (
	// ResultsPrefix begins the subject a node publishes its records on.
	ResultsPrefix = "darkwatch.results."
	// HeartbeatPrefix begins the subject a node sends heartbeats on.
	HeartbeatPrefix = "darkwatch.heartbeat."
	// InboxRoot begins every node's reply subjects (_INBOX_darkwatch.<vantage>.>).
	InboxRoot = "_INBOX_darkwatch."
	// Stream is the JetStream stream that holds records on their way.
	Stream = "DARKWATCH_RESULTS"
	// Consumer is the collector's durable consumer of Stream.
	Consumer = "darkwatch-store"
	// DuplicateWindow is how long JetStream remembers a message id to drop
	// a second copy. A copy sent later is dropped by the store, whose
	// Ingest is idempotent by record.
	DuplicateWindow = 30 * time.Minute
	// MaxPayload is the largest message the embedded server and the stream
	// take: NATS's default, four times what a node fills a message to.
	MaxPayload = 1 << 20
)

// ResultSubject is the subject vantage publishes its records on.
func ResultSubject(vantage string) string { return ResultsPrefix + vantage }

// HeartbeatSubject is the subject vantage sends heartbeats on.
func HeartbeatSubject(vantage string) string { return HeartbeatPrefix + vantage }

// InboxPrefix is the prefix of vantage's reply subjects; a node may
// subscribe only below it.
func InboxPrefix(vantage string) string { return InboxRoot + vantage }

// CheckVantage reports whether vantage can name subjects: not empty, and
// without the characters NATS gives a meaning (space, '.', '*', '>').
func CheckVantage(vantage string) error {
	if vantage == "" {
		return errors.New("a vantage name must not be empty")
	}
	if strings.ContainsAny(vantage, " \t\r\n.*>") {
		return fmt.Errorf("vantage %q may not contain spaces, '.', '*' or '>'", vantage)
	}
	return nil
}

// Heartbeat is what a node tells the collector every so often, and what the
// collector keeps of it.
type Heartbeat struct {
	Vantage string `json:"vantage"`
	// Sent is the node's clock when it sent the heartbeat.
	Sent time.Time `json:"sent"`
	// Received is the collector's clock when it got it (set by the collector).
	Received time.Time `json:"received,omitzero"`
	// Offsetms is the collector's clock minus the node's, as the node
	// measured it on the previous heartbeat's round trip; RTTms is that round
	// trip. Both are zero on a node's first heartbeat.
	Offsetms float64 `json:"offset_ms"`
	RTTms    float64 `json:"rtt_ms"`
	// Outbox is how many records the node still has to deliver.
	Outbox int64 `json:"outbox"`
	// Round is the node's latest round.
	Round int64 `json:"round,omitempty"`
	// Version is the node's darkwatch version.
	Version string `json:"version,omitempty"`
}

// heartbeatReply is the collector's answer to a heartbeat: its clock.
type heartbeatReply struct {
	Time time.Time `json:"time"`
}

// FormatHeader names how a message's body is encoded. A node sends
// FormatPacked: one or more outbox batches, each a length (uvarint) and the
// batch's records in the packed encoding (results.PackRecords), which does
// not repeat the vantage: the subject names it. A message without the
// header is one record's JSON, as nodes sent before. Packed records carry
// every field of a record, a DNS reply's answer section, SOA serial and
// NSID and the source address too; a collector older than those fields
// refuses the records that have them, so collectors are upgraded before
// their nodes.
const (
	FormatHeader = "Darkwatch-Format"
	FormatPacked = "packed/1"
)

// messageBytes is the size a node fills its messages to; one batch larger
// than it goes alone.
const messageBytes = 256 << 10

// message is one publication of a node: its body, its Nats-Msg-Id (see
// messageID) and the outbox batches it carries.
type message struct {
	body    []byte
	id      string
	batches []string
	records int
}

// packMessages puts batches, packed as the store keeps them, into messages
// of about messageBytes. A message's id (messageID) stands for its first
// batch and how many it holds, so that the same message sent again is
// dropped by JetStream; a message regrouped differently is dropped by the
// store, record by record.
func packMessages(vantage string, key []byte, batches []store.Batch) []message {
	var msgs []message
	var cur message
	for _, b := range batches {
		if len(cur.batches) > 0 && len(cur.body)+len(b.Packed)+binary.MaxVarintLen64 > messageBytes {
			msgs = append(msgs, cur)
			cur = message{}
		}
		cur.body = binary.AppendUvarint(cur.body, uint64(len(b.Packed)))
		cur.body = append(cur.body, b.Packed...)
		cur.batches = append(cur.batches, b.ID)
		cur.records += b.Len
	}
	if len(cur.batches) > 0 {
		msgs = append(msgs, cur)
	}
	for i := range msgs {
		msgs[i].id = messageID(vantage, key, msgs[i].batches[0]+"+"+strconv.Itoa(len(msgs[i].batches)))
	}
	return msgs
}

// messageID is the Nats-Msg-Id of a message of vantage that plain names:
// the vantage, ':', and plain, or, when the node has a key, plain's
// HMAC-SHA256 under it. JetStream's duplicate window is shared by every
// vantage of the stream, so an id that another node could send first would
// make JetStream drop this node's message as a copy, and the node take it
// out of its outbox as delivered: the vantage prefix keeps one node's ids
// apart from another's (the collector refuses a message whose id names
// another vantage than its subject), and the key, which only the node
// knows, keeps another node from sending them first.
func messageID(vantage string, key []byte, plain string) string {
	if len(key) == 0 {
		return vantage + ":" + plain
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(plain))
	return vantage + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// idKey is the key of a node's message ids, made from its secret (password
// or nkey seed): the same at every start, so that a message sent again
// after a restart keeps its id, and unknown to the other nodes.
func idKey(secret []byte) []byte {
	if len(secret) == 0 {
		return nil
	}
	h := hmac.New(sha256.New, []byte("darkwatch message id"))
	h.Write(secret)
	return h.Sum(nil)
}

// checkMessageID refuses a message whose Nats-Msg-Id names a vantage other
// than the one whose subject it came on. Nodes name it with the vantage and
// ':'; nodes of earlier versions with their first record's id, which begins
// with the vantage and '/'.
func checkMessageID(vantage, id string) error {
	if strings.HasPrefix(id, vantage+":") || strings.HasPrefix(id, vantage+"/") {
		return nil
	}
	return fmt.Errorf("message id %q does not name vantage %s, whose subject it came on", id, vantage)
}

// decodeMessage reads the records of a message that arrived on vantage's
// subject. Packed records take the vantage from the subject; a JSON record
// that names another vantage is refused: a node may speak only for itself.
// Every record must pass Record.Validate, the stores' own rule, so that a
// message the collector takes never holds a record its store refuses.
func decodeMessage(vantage string, header nats.Header, body []byte) ([]results.Record, error) {
	switch f := header.Get(FormatHeader); f {
	case FormatPacked:
		var recs []results.Record
		for len(body) > 0 {
			n, k := binary.Uvarint(body)
			if k <= 0 || n > uint64(len(body)-k) {
				return nil, errors.New("not packed records: a batch's length is cut short or too long")
			}
			err := results.UnpackRecords(body[k:k+int(n)], vantage, func(r *results.Record) error {
				if err := r.Validate(); err != nil {
					return fmt.Errorf("record %s: %w", r.ID(), err)
				}
				recs = append(recs, *r)
				return nil
			})
			if err != nil {
				return nil, err
			}
			body = body[k+int(n):]
		}
		return recs, nil
	case "":
		r, err := decodeRecord(vantage, body)
		if err != nil {
			return nil, err
		}
		return []results.Record{r}, nil
	default:
		return nil, fmt.Errorf("unknown %s %q", FormatHeader, f)
	}
}

// decodeRecord reads a record's JSON.
func decodeRecord(vantage string, body []byte) (results.Record, error) {
	var r results.Record
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("not a record: %v", err)
	}
	switch {
	case r.Vantage != vantage:
		return r, fmt.Errorf("record %s names vantage %q but came on %s's subject", r.ID(), r.Vantage, vantage)
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("record %s: %w", r.ID(), err)
	}
	return r, nil
}
