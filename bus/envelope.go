package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Namespace is the UUID namespace of mailgw's msg_ids: the version-5 UUID
// of the URL "https://salsa.debian.org/debian/mailgw#msg_id" in the RFC 4122
// URL namespace. It never changes, so the same event identity always gives
// the same msg_id, in every mailgw installation.
var Namespace = uuid.MustParse("2e8dd733-1794-53c0-9839-3d0a5f62b430")

// MsgID returns the deterministic msg_id "<year>-<uuid>" of an event: the
// uuid is the version-5 (SHA-1) UUID of identity in Namespace. identity
// should name the source mail and the event kind, so a redelivered or
// replayed mail gives the same msg_id.
func MsgID(year int, identity string) string {
	return fmt.Sprintf("%04d-%s", year, uuid.NewSHA1(Namespace, []byte(identity)))
}

// Topic builds a full fedmsg topic "<prefix>.<env>.<name>", where name is
// "<service>.<object>.<event>". Like fedmsg, a name that already starts
// with the prefix (followed by a dot, or equal to it) is returned as is.
func Topic(prefix, env, name string) string {
	if name == prefix || strings.HasPrefix(name, prefix+".") {
		return name
	}
	return prefix + "." + env + "." + name
}

// NewEnvelope makes an unsigned envelope and binds it to msg: it writes
// msg["mailgw"]["topic"], ["msg_id"] and ["timestamp"], keeping any other
// keys already in msg["mailgw"] (the pipeline adds "rule" and
// "replayed"). A nil msg is replaced by an empty map. I and SeqID are left
// 0 for the publisher and the journal to set.
func NewEnvelope(topic string, msg map[string]any, msgID string, ts int64, username string) *Envelope {
	if msg == nil {
		msg = map[string]any{}
	}
	mg, _ := msg["mailgw"].(map[string]any)
	if mg == nil {
		mg = make(map[string]any, 5)
		msg["mailgw"] = mg
	}
	mg["topic"] = topic
	mg["msg_id"] = msgID
	mg["timestamp"] = ts
	return &Envelope{Topic: topic, Msg: msg, Timestamp: ts, MsgID: msgID, Username: username}
}

// Marshal returns the envelope's canonical wire body (docs/wire.md): keys
// sorted, "i" omitted when 0, "crypto" and "signature" omitted when empty,
// "seq_id" omitted when 0. A nil Msg is written as {}. Errors are
// *CanonicalError values with paths such as "msg.files[2].size".
func (e *Envelope) Marshal() ([]byte, error) {
	n := 1024
	if e.sealed != nil { // the size is known: one allocation, no regrowth
		n = len(e.sealed) + len(e.Signature) + len(e.Topic) + len(e.MsgID) + len(e.Username) + len(e.Crypto) + 160
	}
	return e.AppendMarshal(make([]byte, 0, n))
}

// AppendMarshal appends the canonical wire body to dst (see Marshal).
func (e *Envelope) AppendMarshal(dst []byte) ([]byte, error) {
	return e.appendBody(dst, e.sealed) // nil unless SignSealed
}

// appendBody writes the wire body; msgJSON, when not nil, is the already
// encoded canonical JSON of e.Msg.
func (e *Envelope) appendBody(dst, msgJSON []byte) ([]byte, error) {
	b := append(dst, '{')
	if e.Crypto != "" {
		b = append(b, `"crypto":`...)
		b = appendString(b, e.Crypto)
		b = append(b, ',')
	}
	if e.I != 0 {
		b = append(b, `"i":`...)
		b = strconv.AppendInt(b, e.I, 10)
		b = append(b, ',')
	}
	b = append(b, `"msg":`...)
	var err error
	if msgJSON != nil {
		b = append(b, msgJSON...)
	} else if e.Msg == nil {
		b = append(b, "{}"...)
	} else if b, err = appendMapAny(b, e.Msg, 1); err != nil {
		return dst, atKey(err, "msg")
	}
	b = append(b, `,"msg_id":`...)
	b = appendString(b, e.MsgID)
	if e.SeqID != 0 {
		b = append(b, `,"seq_id":`...)
		b = strconv.AppendInt(b, e.SeqID, 10)
	}
	if e.Signature != "" {
		b = append(b, `,"signature":`...)
		b = appendString(b, e.Signature)
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, e.Timestamp, 10)
	b = append(b, `,"topic":`...)
	b = appendString(b, e.Topic)
	b = append(b, `,"username":`...)
	b = appendString(b, e.Username)
	return append(b, '}'), nil
}

// MarshalJSON makes encoding/json write the envelope in its wire form
// (Marshal). Note that encoding/json then escapes '<', '>' and '&' unless
// its encoder's SetEscapeHTML(false) is used; Marshal never does.
func (e *Envelope) MarshalJSON() ([]byte, error) { return e.Marshal() }

// UnmarshalJSON parses the wire form with ParseEnvelope's checks.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	p, err := ParseEnvelope(b)
	if err != nil {
		return err
	}
	*e = *p
	return nil
}

// canonicalMsg appends the signed text, the canonical JSON of Msg ({} if
// nil), to dst.
func canonicalMsg(dst []byte, e *Envelope) ([]byte, error) {
	if e.Msg == nil {
		return append(dst, "{}"...), nil
	}
	b, err := AppendCanonical(dst, e.Msg)
	if err != nil {
		return dst, atKey(err, "msg")
	}
	return b, nil
}

// ErrEnvelope is wrapped by every error ParseEnvelope returns.
var ErrEnvelope = errors.New("invalid envelope")

func envErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrEnvelope, fmt.Sprintf(format, a...))
}

// ParseEnvelope parses a fedmsg envelope in any JSON form (canonical or
// re-encoded by a relay). Numbers are kept exact (json.Number in Msg;
// floats are encoded back as Python writes them); a number too large for
// a double is refused, as are a missing or ill-typed topic, msg (must be
// an object), timestamp (integer) or msg_id (string), ill-typed i,
// seq_id (integers), username, crypto or signature (strings), and a key
// that appears twice in one object, at any depth (dupkeys.go). Unknown
// fields such as "headers" are ignored. Errors wrap ErrEnvelope.
func ParseEnvelope(body []byte) (*Envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, envErr("JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, envErr("JSON: trailing data after the envelope")
	}
	if raw == nil {
		return nil, envErr("not a JSON object")
	}
	if hasDuplicateKeys(body, raw) {
		err := CheckDuplicateKeys(body) // names the key
		if err == nil {
			err = errors.New("duplicate key")
		}
		return nil, envErr("%v", err)
	}
	if err := checkNumbers(raw); err != nil {
		return nil, envErr("%v", err)
	}
	e := &Envelope{}
	var err error
	if e.Topic, err = strField(raw, "topic", true); err != nil {
		return nil, err
	}
	if e.MsgID, err = strField(raw, "msg_id", true); err != nil {
		return nil, err
	}
	m, ok := raw["msg"]
	if !ok {
		return nil, envErr("field msg missing")
	}
	if e.Msg, ok = m.(map[string]any); !ok {
		return nil, envErr("field msg is %s, want an object", jsonKind(m))
	}
	if e.Timestamp, err = intField(raw, "timestamp", true); err != nil {
		return nil, err
	}
	if e.I, err = intField(raw, "i", false); err != nil {
		return nil, err
	}
	if e.SeqID, err = intField(raw, "seq_id", false); err != nil {
		return nil, err
	}
	if e.Username, err = strField(raw, "username", false); err != nil {
		return nil, err
	}
	if e.Crypto, err = strField(raw, "crypto", false); err != nil {
		return nil, err
	}
	if e.Signature, err = strField(raw, "signature", false); err != nil {
		return nil, err
	}
	return e, nil
}

// checkNumbers refuses the numbers of a decoded JSON value that have no
// canonical form (out of a double's range, malformed), with the same
// errors and paths as Canonical, without encoding the rest.
func checkNumbers(v any) error {
	switch x := v.(type) {
	case json.Number:
		var buf [32]byte
		_, err := appendNumber(buf[:0], x)
		return err
	case []any:
		for i, e := range x {
			if err := checkNumbers(e); err != nil {
				return atIndex(err, i)
			}
		}
	case map[string]any:
		for k, e := range x {
			if err := checkNumbers(e); err != nil {
				return atKey(err, k)
			}
		}
	}
	return nil
}

func strField(raw map[string]any, name string, required bool) (string, error) {
	v, ok := raw[name]
	if !ok || (v == nil && !required) {
		if required {
			return "", envErr("field %s missing", name)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", envErr("field %s is %s, want a string", name, jsonKind(v))
	}
	return s, nil
}

func intField(raw map[string]any, name string, required bool) (int64, error) {
	v, ok := raw[name]
	if !ok || (v == nil && !required) {
		if required {
			return 0, envErr("field %s missing", name)
		}
		return 0, nil
	}
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, envErr("field %s is %s, want an integer", name, jsonKind(v))
	}
	i, err := n.Int64()
	if err != nil {
		return 0, envErr("field %s: %s is not a 64-bit integer", name, n)
	}
	return i, nil
}

// jsonKind names the JSON type of a decoded value, for error messages.
func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "a float"
		}
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
