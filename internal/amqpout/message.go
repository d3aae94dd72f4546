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

// envFields are the envelope's fields other than msg (and i, which the
// journal does not keep: each publisher numbers what it sends).
type envFields struct {
	Crypto, MsgID, Signature, Topic, Username string
	SeqID, Timestamp                          int64
}

// split returns the msg of a journaled envelope body, byte for byte the
// canonical JSON that the signature covers, and the other fields. The
// journal stores canonical envelopes (keys sorted: crypto, i, msg,
// msg_id, …), so msg runs from the first `"msg":` (crypto's string and
// i's digits cannot hold one) to the last `,"msg_id":` (the fields after
// it are numbers and escaped strings); the members before and after it
// are read in place (scan.go) and checked against the journal's row.
// Anything else is parsed the slow way and msg re-encoded canonically.
func split(e *journal.Entry) ([]byte, envFields, error) {
	var f envFields
	start := bytes.Index(e.Body, []byte(`"msg":`))
	end := bytes.LastIndex(e.Body, []byte(`,"msg_id":`))
	if start > 0 && end > start {
		// The members before msg ({"crypto":…,"i":…,) and after it
		// (,"msg_id":…}), read in place.
		pre, post := e.Body[:start], e.Body[end:]
		if pre[0] == '{' && f.scan(pre, 1, true) == nil && f.scan(post, 1, false) == nil &&
			f.MsgID == e.MsgID && f.SeqID == e.SeqID && f.Topic == e.Topic {
			return e.Body[start+len(`"msg":`) : end], f, nil
		}
	}
	env, err := bus.ParseEnvelope(e.Body)
	if err != nil {
		return nil, f, err
	}
	msg, err := bus.Canonical(env.Msg)
	if err != nil {
		return nil, f, err
	}
	f = envFields{Crypto: env.Crypto, MsgID: env.MsgID, SeqID: env.SeqID, Signature: env.Signature,
		Timestamp: env.Timestamp, Topic: env.Topic, Username: env.Username}
	return msg, f, nil
}

// scan fills f from the members of an envelope in b from b[i] on
// (memberList).
func (f *envFields) scan(b []byte, i int, open bool) error {
	return memberList(b, i, open, func(k, v []byte) (err error) {
		switch string(k) {
		case "crypto":
			f.Crypto, err = str(v)
		case "msg_id":
			f.MsgID, err = str(v)
		case "seq_id":
			f.SeqID, err = integer(v)
		case "signature":
			f.Signature, err = str(v)
		case "timestamp":
			f.Timestamp, err = integer(v)
		case "topic":
			f.Topic, err = str(v)
		case "username":
			f.Username, err = str(v)
		}
		return err
	})
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
// plus mailgw's envelope headers.
func NewMessage(e *journal.Entry, i int64) (*Message, error) {
	// AMQP short strings: a longer one would fail in the middle of
	// writing the frame, and the broker would drop the connection.
	if len(e.Topic) > 255 || len(e.MsgID) > 255 {
		return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, errTooLong)
	}
	msg, f, err := split(e)
	if err != nil {
		return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, err)
	}
	if len(msg) == 0 || msg[0] != '{' {
		return nil, fmt.Errorf("seq_id %d: %w", e.SeqID, errNotObject)
	}
	var s subjects
	if err := s.scan(msg); err != nil {
		return nil, fmt.Errorf("seq_id %d: msg: %w", e.SeqID, err)
	}
	h := amqp.Table{
		hdrSchema:        schemaName(e.Topic),
		hdrSchemaPackage: SchemaPackage,
		hdrSeverity:      int64(s.severity(e.Topic)),
		// When the event was made (its envelope's timestamp), not when
		// this copy left: a message delivered again is the same message.
		hdrSentAt:    time.Unix(e.Timestamp, 0).UTC().Format(sentAtLayout),
		hdrPriority:  int64(0),
		hdrI:         i,
		hdrTimestamp: f.Timestamp,
		hdrSeqID:     e.SeqID,
		hdrUsername:  f.Username,
	}
	if f.Signature != "" {
		h[hdrCrypto] = f.Crypto
		h[hdrSignature] = f.Signature
	}
	s.addHeaders(h)
	return &Message{
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
	}, nil
}
