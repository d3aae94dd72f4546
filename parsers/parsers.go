// Package parsers holds what every mail source shares: the Event that a
// parser pulls out of a mail, the decoded Message it reads, the Parser
// interface that parsers/dak, parsers/debbugs and parsers/pts implement, and
// the Classifier that picks the parser for a mail.
//
// A parser never publishes, signs or stores anything: it turns one decoded
// mail into zero or more events, or says why it does not claim the mail.
package parsers

import "strings"

// Event is one structured event drawn from a mail. Service, Object and
// EventType make the tail of the fedmsg topic
// (<prefix>.<env>.<service>.<object>.<event>).
type Event struct {
	// Service is the producing system: "dak", "debbugs", "pts", "tracker"
	// or "debmessenger" (the compatibility topics of docs/topics.md).
	Service string
	// Object is the singular noun the event is about: "package" or "bug".
	Object string
	// EventType is the verb: "upload", "report", "control", a PTS keyword, ….
	EventType string
	// Rule names the rule that produced the event, e.g. "dak.header.accept"
	// or "debbugs.pr-message.report"; it is copied into msg.mailgw.rule.
	Rule string
	// Payload is the JSON-ready body: strings, bools, nil, int/int64,
	// []any, []string, []int, map[string]any, []map[string]any, Object
	// and Objects only.
	// Floats are never allowed (the canonical encoder refuses them).
	Payload map[string]any
	// Key tells apart several events of the same kind from one mail (for
	// example one per package a PTS forward fans out to); usually empty.
	Key string
	// Happening identifies what happened, whichever mail announced it:
	// the same upload in dak's maintainer copy and in its announce, the
	// same bug closure in debbugs' notice to the closer and in the one to
	// the submitter (docs/dedup.md lists every kind). The parser sets it
	// from what the mail carries, or leaves it empty when the mail does
	// not carry it; Identity then falls back to the mail's own identity.
	Happening string
	// HappeningYear is the year (UTC) of the happening where the mail
	// tells it the same way in every copy (a .changes' Date, the time in
	// a debbugs handler id); 0 otherwise. It is the year part of the
	// msg_id of an event with a Happening (else the mail's year is).
	HappeningYear int
}

// Name returns "service.object.event", the part of the topic the parser
// decides.
func (e *Event) Name() string {
	return e.Service + "." + e.Object + "." + e.EventType
}

// HappeningScheme versions the derivation of happening identities: it
// is the first part of every identity made from Event.Happening, so that
// a later change of what identifies a happening makes new msg_ids
// instead of clashing with the old ones. Identities made from the mail
// (LegacyIdentity) carry no scheme: they are the msg_ids mailgw made
// before happenings, and every journal still recognises them.
const HappeningScheme = "happening/1"

// Identity returns the string from which the event's version-5 UUID msg_id
// is made. For an event with a Happening it is HappeningScheme, the
// happening, the event kind and its Key, so every mail that announces the
// same happening gives the same msg_id; otherwise it is LegacyIdentity.
func (e *Event) Identity(m *Message) string {
	if e.Happening == "" {
		return e.LegacyIdentity(m)
	}
	var b strings.Builder // sized up front: one allocation
	b.Grow(len(HappeningScheme) + len(e.Happening) + e.kindLen() + 2)
	b.WriteString(HappeningScheme)
	b.WriteByte(0)
	b.WriteString(e.Happening)
	b.WriteByte(0)
	e.writeKind(&b)
	return b.String()
}

// LegacyIdentity returns the identity of the event as made from its mail
// alone: the source mail's identity (Message.Identity), the event kind
// and its Key. A redelivered or replayed copy of the same mail yields the
// same identity; another mail announcing the same happening does not.
// Every event's msg_id was made from it before happenings.
func (e *Event) LegacyIdentity(m *Message) string {
	var b strings.Builder // sized up front: one allocation
	b.Grow(m.identityLen() + e.kindLen() + 1)
	m.writeIdentity(&b)
	b.WriteByte(0)
	e.writeKind(&b)
	return b.String()
}

// kindLen is the length writeKind writes.
func (e *Event) kindLen() int {
	return len(e.Service) + len(e.Object) + len(e.EventType) + len(e.Key) + 3
}

// writeKind writes "service.object.event", then NUL and the Key if any.
func (e *Event) writeKind(b *strings.Builder) {
	b.WriteString(e.Service)
	b.WriteByte('.')
	b.WriteString(e.Object)
	b.WriteByte('.')
	b.WriteString(e.EventType)
	if e.Key != "" {
		b.WriteByte(0)
		b.WriteString(e.Key)
	}
}

// Parser turns a decoded mail of one source into events.
type Parser interface {
	// Name is the parser's short name ("dak", "debbugs", "pts").
	Name() string
	// Parse returns the events of m and true when the parser claims the
	// mail. A claimed mail may yield no events (for example a debbugs
	// service reply that carries nothing worth publishing); reason then
	// says why. An unclaimed mail returns false.
	Parse(m *Message) (events []Event, claimed bool, reason string)
}
