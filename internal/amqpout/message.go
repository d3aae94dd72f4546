package amqpout

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// fedora-messaging's wire format (its fedora_messaging/message.py, read
// at commit 48c5ccbc96cf, and docs/api/wire-format.rst): properties
// content_type application/json, content_encoding utf-8, delivery_mode 2
// (persistent), a message_id; headers fedora_messaging_schema (the
// schema's entry-point name), fedora_messaging_schema_package (where the
// schema can be installed from), fedora_messaging_severity (10, 20, 30 or
// 40), sent-at (ISO 8601, UTC offset, no fraction) and priority (a copy
// of the priority property, 0 when unset), and one boolean header per
// object the message is about: fedora_messaging_<kind>_<id>. pika, under
// fedora-messaging, sends Python ints as signed 64-bit table values, so
// ours are int64 too.
const (
	hdrSchema        = "fedora_messaging_schema"
	hdrSchemaPackage = "fedora_messaging_schema_package"
	hdrSeverity      = "fedora_messaging_severity"
	hdrSentAt        = "sent-at"
	hdrPriority      = "priority"
	// fedora-messaging fills the "rpm" header from a message's packages
	// and "user" from its usernames; for Debian they are source
	// packages and e-mail addresses.
	hdrPackagePrefix = "fedora_messaging_rpm_"
	hdrUserPrefix    = "fedora_messaging_user_"

	// mailgw's own headers carry the rest of the signed fedmsg envelope,
	// so that a consumer can rebuild it and verify end to end: topic is
	// the routing key, msg the body, msg_id the message_id. i is, as on
	// the ZeroMQ bus, the publisher's own count of what it sent (from 1
	// per process); it is not signed.
	hdrCrypto    = "mailgw_crypto"
	hdrSignature = "mailgw_signature"
	hdrI         = "mailgw_i"
	hdrTimestamp = "mailgw_timestamp"
	hdrSeqID     = "mailgw_seq_id"
	hdrUsername  = "mailgw_username"
)

// Severity levels of fedora-messaging.
const (
	SeverityInfo    = 20
	SeverityWarning = 30
)

// SchemaPackage names the Python distribution that will hold the schemas
// of mailgw's messages (fedora-messaging's naming: <app>_messages). Until
// it exists, fedora-messaging consumers read the messages with its base
// Message class and log that the schema is missing.
const SchemaPackage = "mailgw_messages"

// sentAtLayout is Python's datetime.isoformat() of a UTC time without
// microseconds, which fedora-messaging writes in sent-at.
const sentAtLayout = "2006-01-02T15:04:05+00:00"

// envFields are the envelope's fields other than msg, topic and msg_id
// (the journal's row has them) and i (which the journal does not keep:
// each publisher numbers what it sends).
type envFields struct {
	Crypto, Signature, Username string
	SeqID, Timestamp            int64
	// matched has a bit for each of msg_id, seq_id and topic found equal
	// to the row's (allMatched).
	matched int
}

// allMatched is envFields.matched once msg_id, seq_id and topic matched.
const allMatched = 7

// errMismatch: the envelope's body does not name the row's msg_id, seq_id
// or topic.
var errMismatch = errors.New("body does not match the journal's row")

// msgKey starts the envelope's member msg.
var msgKey = []byte(`"msg":`)

// split returns the msg of a journaled envelope body, byte for byte the
// canonical JSON that the signature covers, and the other fields. The
// journal stores canonical envelopes (keys sorted: crypto, i, msg,
// msg_id, …), so msg runs from the first `"msg":` (crypto's string and
// i's digits cannot hold one) to the last `,"msg_id":` (the fields after
// it are numbers and escaped strings); the members before and after it
// are read in place (scan.go) and checked against the journal's row.
// Anything else is parsed the slow way and msg re-encoded canonically.
// (The outlet's builder finds the end of msg without the search from the
// end: scanMsg.)
func split(e *journal.Entry) ([]byte, envFields, error) {
	var f envFields
	start := bytes.Index(e.Body, msgKey)
	end := bytes.LastIndex(e.Body, []byte(`,"msg_id":`))
	if start > 0 && end > start {
		// The members before msg ({"crypto":…,"i":…,) and after it
		// (,"msg_id":…}), read in place.
		pre, post := e.Body[:start], e.Body[end:]
		if pre[0] == '{' && f.scan(pre, 1, true, e, nil) == nil && f.scan(post, 1, false, e, nil) == nil &&
			f.matched == allMatched {
			return e.Body[start+len(msgKey) : end], f, nil
		}
	}
	env, err := bus.ParseEnvelope(e.Body)
	if err != nil {
		return nil, envFields{}, err
	}
	f = envFields{Crypto: env.Crypto, SeqID: env.SeqID, Signature: env.Signature,
		Timestamp: env.Timestamp, Username: env.Username}
	msg, err := bus.Canonical(env.Msg)
	return msg, f, err
}

// scan fills f from the members of an envelope in b from b[i] on
// (memberList), checking msg_id, seq_id and topic against e. in (nil:
// none) keeps the strings of the crypto and username members, which are
// the same in every envelope of a gateway, from one envelope to the
// next.
func (f *envFields) scan(b []byte, i int, open bool, e *journal.Entry, in *interned) error {
	return memberList(b, i, open, f.member(e, in))
}

// member is scan's handling of one member.
func (f *envFields) member(e *journal.Entry, in *interned) func(k, v []byte) error {
	return func(k, v []byte) (err error) {
		switch string(k) {
		case "crypto":
			f.Crypto, err = in.str(v, 0)
		case "msg_id":
			if !strIs(v, e.MsgID) {
				return errMismatch
			}
			f.matched |= 1
		case "seq_id":
			if f.SeqID, err = integer(v); err == nil && f.SeqID != e.SeqID {
				return errMismatch
			}
			f.matched |= 2
		case "signature":
			f.Signature, err = str(v)
		case "timestamp":
			f.Timestamp, err = integer(v)
		case "topic":
			if !strIs(v, e.Topic) {
				return errMismatch
			}
			f.matched |= 4
		case "username":
			f.Username, err = in.str(v, 1)
		}
		return err
	}
}

// strIs reports whether the JSON string value v is s.
func strIs(v []byte, s string) bool {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1:len(v)-1]) == s
	}
	d, err := str(v)
	return err == nil && d == s
}

// interned are the strings of the last envelope's crypto and username
// members.
type interned [2]string

// str is str(v), the same string as last time when v did not change.
func (in *interned) str(v []byte, i int) (string, error) {
	if in == nil {
		return str(v)
	}
	if len(v) >= 2 && v[0] == '"' && string(v[1:len(v)-1]) == in[i] && bytes.IndexByte(v, '\\') < 0 {
		return in[i], nil
	}
	s, err := str(v)
	if err == nil {
		in[i] = s
	}
	return s, err
}

// scanMsg is split and subjects.scan in one pass, for a canonical
// envelope whose msg has a member mailgw (every event since msg.mailgw
// exists): the members before msg are read in place, then msg's own
// mailgw member is found (findMailgw) and the members read from it on to
// the end of msg, which is where the members after msg start (read in
// place too, to the body's end). The long members before mailgw (a bug
// report's body, a tracker event) are not walked, and the end of msg is
// not searched for from the body's end. Per message of the journal of
// a 20,000-mail replay (30,240 events), in CPU time: NewMessage with
// split and the walk 13-14 µs, the builder with scanMsg 4.4-4.7 µs. ok
// is false, s and f in any state, for any other envelope: then split
// and subjects.scan read it.
func scanMsg(e *journal.Entry, s *subjects, f *envFields, in *interned) (msg []byte, ok bool) {
	body := e.Body
	start := bytes.Index(body, msgKey)
	if start <= 0 || body[0] != '{' || f.scan(body[:start], 1, true, e, in) != nil {
		return nil, false
	}
	start += len(msgKey)
	if start >= len(body) || body[start] != '{' {
		return nil, false
	}
	pre := *f // the fields before msg, for each try below
	// The walk of the member list from a mailgw key ends after the brace
	// that closes the object holding that key; the members after msg
	// must follow it, to the body's last byte. A mailgw key of an object
	// inside msg fails that: its object closes before msg does, and what
	// follows is msg's remaining members and closing brace before the
	// envelope's last members.
	for from := start + 1; ; {
		i, ok := findMailgw(body, from)
		if !ok {
			return nil, false
		}
		s.reset()
		end, err := s.mailgwOn(body, i)
		if err == nil && end < len(body) && body[end] == ',' {
			*f = pre
			if n, err := memberListEnd(body, end+1, f.member(e, in)); err == nil && n == len(body) && f.matched == allMatched {
				return body[start:end], true
			}
		}
		from = i + len(mailgwKey)
	}
}

// Message is one journaled event as it goes to the broker.
type Message struct {
	// RoutingKey is the event's topic.
	RoutingKey string
	Publishing amqp.Publishing
}

var (
	// errNotObject: fedora-messaging's base schema wants a JSON object.
	errNotObject = errors.New("msg is not a JSON object")
	errTooLong   = errors.New("topic or msg_id longer than an AMQP routing key or message_id may be (255 bytes)")
)

// NewMessage builds the AMQP message of a journaled envelope, the
// outlet's i-th: routing key the topic, body the canonical msg (the
// signed bytes), properties and headers as fedora-messaging writes them,
// plus mailgw's envelope headers. The body is a part of e.Body.
func NewMessage(e *journal.Entry, i int64) (*Message, error) {
	var b builder
	return b.build(e, i)
}

// builder makes the messages of an outlet one after the other, reusing
// the Message, its header table and its scratch space: the message it
// returns is valid until the next build. (NewMessage allocated 55 of the
// 412 MB the outlet allocated in a replay of 30,240 events, its table
// and the subject headers' names most of it; docs/benchmarks.md.)
type builder struct {
	m   Message
	s   subjects
	key []byte
	in  interned
}

// headersCap is the room a new header table is made with: the usual
// headers, mailgw's, and a few subjects.
const headersCap = 24

// build is NewMessage into b's Message.
func (b *builder) build(e *journal.Entry, i int64) (*Message, error) {
	// AMQP short strings: a longer one would fail in the middle of
	// writing the frame, and the broker would drop the connection.
	if len(e.Topic) > 255 || len(e.MsgID) > 255 {
		return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, errTooLong)
	}
	s := &b.s
	var f envFields
	msg, ok := scanMsg(e, s, &f, &b.in)
	if !ok {
		var err error
		f = envFields{}
		if msg, f, err = split(e); err != nil {
			return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, err)
		}
		if len(msg) == 0 || msg[0] != '{' {
			return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, errNotObject)
		}
		s.reset()
		if err := s.scan(msg); err != nil {
			return nil, fmt.Errorf("seq_id %d: msg: %w", e.SeqID, err)
		}
	}
	h := b.m.Publishing.Headers
	if h == nil {
		h = make(amqp.Table, headersCap)
	} else {
		clear(h)
	}
	h[hdrSchema] = schemaName(e.Topic)
	h[hdrSchemaPackage] = SchemaPackage
	h[hdrSeverity] = int64(s.severity(e.Topic))
	// When the event was made (its envelope's timestamp), not when this
	// copy left: a message delivered again is the same message.
	h[hdrSentAt] = time.Unix(e.Timestamp, 0).UTC().Format(sentAtLayout)
	h[hdrPriority] = int64(0)
	h[hdrI] = i
	h[hdrTimestamp] = f.Timestamp
	h[hdrSeqID] = e.SeqID
	h[hdrUsername] = f.Username
	if f.Signature != "" {
		h[hdrCrypto] = f.Crypto
		h[hdrSignature] = f.Signature
	}
	b.key = s.addHeaders(h, b.key)
	clear(s.packages) // they point into e.Body
	clear(s.people)
	b.m = Message{
		RoutingKey: e.Topic,
		Publishing: amqp.Publishing{
			ContentType:     "application/json",
			ContentEncoding: "utf-8",
			DeliveryMode:    amqp.Persistent,
			MessageId:       e.MsgID,
			AppId:           "mailgw",
			Headers:         h,
			Body:            msg,
		},
	}
	return &b.m, nil
}
