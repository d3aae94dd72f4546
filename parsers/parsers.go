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
	// or "debmessenger" (the compatibility topics of docs/payloads.md).
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
}

// Name returns "service.object.event", the part of the topic the parser
// decides.
func (e *Event) Name() string {
	return e.Service + "." + e.Object + "." + e.EventType
}

// Identity returns the string from which the event's version-5 UUID msg_id
// is made: the source mail's identity, the event kind and its Key. A
// redelivered or replayed copy of the same mail yields the same identity.
func (e *Event) Identity(m *Message) string {
	var b strings.Builder // sized up front: one allocation
	b.Grow(m.identityLen() + len(e.Service) + len(e.Object) + len(e.EventType) + len(e.Key) + 4)
	m.writeIdentity(&b)
	b.WriteByte(0)
	b.WriteString(e.Service)
	b.WriteByte('.')
	b.WriteString(e.Object)
	b.WriteByte('.')
	b.WriteString(e.EventType)
	if e.Key != "" {
		b.WriteByte(0)
		b.WriteString(e.Key)
	}
	return b.String()
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
