// Package bus is mailgw's side of the fedmsg bus: the envelope and its
// canonical JSON, topics and msg_ids, OpenPGP signing and verification in
// fedmsg's gpg format, and the ZeroMQ publisher and subscriber.
//
// The wire format follows fedmsg (docs/wire.md): two frames [topic, body], the
// body being the envelope in Python-compatible canonical JSON.
//
// Producing an event:
//
//	env := bus.NewEnvelope(bus.Topic(prefix, environment, "dak.package.upload"),
//		payload, bus.MsgID(year, identity), time.Now().Unix(), username)
//	body, err := bus.SignMarshal(env, signer) // or bus.Sign, then env.Marshal
//
// Canonical JSON is byte-for-byte Python's json.dumps(v, sort_keys=True,
// separators=(',', ':')), floats included (Python's repr digits); NaN and
// infinities are refused, invalid UTF-8 is replaced by U+FFFD. msg_ids are version-5 UUIDs in the fixed Namespace,
// so a redelivered mail yields the same msg_id.
//
// Signatures follow fedmsg's gpg backend (a detached OpenPGP signature over
// the canonical JSON of msg, base64 in "signature", crypto "gpg"), so stock
// gpg --verify and fedmsg's validator accept them. Because fedmsg signs
// msg only, NewEnvelope copies topic, msg_id and timestamp into
// msg["mailgw"], and Keyring.Verify rejects an envelope whose fields
// disagree with that signed copy or whose topic the routing Policy does not
// allow for the signing key. Envelopes from fedmsg itself carry no such
// copy: they verify on their signature over msg and are unbound
// (Envelope.Bound), except on the topics Policy.RequireBinding names.
package bus

import "context"

// Envelope is one fedmsg message. Msg is signed; the other fields are not
// covered by fedmsg's gpg signature, so mailgw repeats topic, msg_id and
// timestamp inside Msg["mailgw"] and its verifier checks they agree.
type Envelope struct {
	Topic     string         // full topic, equal to ZeroMQ frame 0
	Msg       map[string]any // the payload (mailgw's own parsers put no floats in it)
	Timestamp int64          // Unix seconds
	MsgID     string         // "<year>-<uuid>"
	I         int64          // per-publisher-process counter from 1; 0 = unset
	Username  string
	Crypto    string // "gpg" when signed, "" when unsigned
	Signature string // single-line standard base64 of a binary detached signature
	SeqID     int64  // journal sequence number; 0 = absent
	// LegacyMsgID is the msg_id mailgw gave the same event before it
	// derived msg_ids from happenings (docs/dedup.md), when that differs
	// from MsgID; "" otherwise. It is never on the wire: the journal
	// looks it up so that what an older mailgw journaled stays a
	// duplicate.
	LegacyMsgID string
	// Proven marks the event of a mail the trust policy proved that
	// names a happening: its msg_id is the happening's proven msg_id
	// (docs/dedup.md). ProvenMsgID is, for the event of an unproven mail
	// that names a happening, the msg_id a proven mail of the same
	// happening gets; "" otherwise. Neither is on the wire: the journal
	// drops an unproven event whose happening a proven mail announced
	// already, and never a proven one for an unproven copy.
	Proven      bool
	ProvenMsgID string

	sealed []byte // canonical JSON of Msg kept by SignSealed; Marshal reuses it
}

// Publisher sends envelopes on the bus. The ZeroMQ implementation is in
// zmq.go; bustest has an in-memory fake for unit tests.
type Publisher interface {
	// Publish sends env as two frames. It sets env.I.
	Publish(ctx context.Context, env *Envelope) error
	Close() error
}

// Signer makes binary detached OpenPGP signatures.
type Signer interface {
	// SignDetached returns a binary (not armored) detached signature over data.
	SignDetached(data []byte) ([]byte, error)
	// Fingerprint is the signing key's fingerprint, upper-case hex.
	Fingerprint() string
}
