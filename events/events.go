// Package events gives Go consumers of mailgw's bus one typed struct per
// topic instead of map[string]any. Decode checks a msg against its
// topic's JSON Schema (package schemas, the contract of docs/topics.md)
// and decodes it into the struct of its topic:
//
//	ev, err := events.Decode(env.Topic, msgJSON)
//	switch e := ev.(type) {
//	case *events.Upload:
//		fmt.Println(e.Source, e.Version, e.Distribution)
//	case *events.BugReport:
//		fmt.Println(e.Bug, e.Title)
//	}
//	fmt.Println(ev.Base().Mailgw.Summary)
//
// Fields a later minor version of a schema adds are ignored by the
// structs of this version; a topic without a schema (another fedmsg
// publisher's) is an error that wraps ErrUnknownTopic.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/schemas"
)

// Event is one decoded msg: a pointer to one of the structs of this
// package.
type Event interface {
	// Base returns what every event carries: the source mail and
	// mailgw's own block, with the event's summary, url, packages and
	// people.
	Base() *Common
}

// Common is what every event carries (docs/topics.md, "Every event").
type Common struct {
	Mail   Mail   `json:"mail"`
	Mailgw Mailgw `json:"mailgw"`
}

// Base returns c.
func (c *Common) Base() *Common { return c }

// Mail is the source mail.
type Mail struct {
	MessageID string `json:"message_id"`
	// Date is RFC 3339; nil when the mail had no usable Date.
	Date *string `json:"date"`
	From string  `json:"from"`
	// FromEmail is From's bare address, lower-case; nil when none.
	FromEmail *string `json:"from_email,omitempty"`
	Subject   string  `json:"subject"`
	// Auth is whether mailgw trusts the mail's origin (docs/trust.md);
	// nil on debmessenger's compatibility topics.
	Auth *Auth `json:"auth,omitempty"`
}

// Auth is the trust decision on a mail.
type Auth struct {
	Trusted bool `json:"trusted"`
	// By is "dkim:DOMAIN", "relay:ADDR", "pipe:SENDER" or "archive"; nil
	// when nothing proved the origin.
	By   *string `json:"by"`
	DKIM []DKIM  `json:"dkim"`
}

// DKIM is one DKIM signature of a mail and its result.
type DKIM struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	// Result is pass, fail, policy (verifies but does not cover what
	// mailgw reads), temperror, permerror or none (docs/trust.md).
	Result string `json:"result"`
}

// Mailgw is msg.mailgw: the signed copy of the envelope's topic, msg_id
// and timestamp, the rule that made the event, and its meaning.
type Mailgw struct {
	Topic     string `json:"topic"`
	MsgID     string `json:"msg_id"`
	Timestamp int64  `json:"timestamp"`
	Rule      string `json:"rule"`
	Replayed  bool   `json:"replayed"`
	// Summary is one line for a person.
	Summary string `json:"summary"`
	// URL is the page the event is about; nil when none.
	URL *string `json:"url"`
	// Packages are source package names, People bare lower-case
	// addresses.
	Packages []string `json:"packages"`
	People   []string `json:"people"`
}

// ErrUnknownTopic is wrapped by Decode's error for a topic that mailgw
// has no schema for.
var ErrUnknownTopic = errors.New("not a topic of mailgw")

// Decode checks msg (the envelope's "msg" as JSON) against the schema of
// topic (a full topic or SERVICE.OBJECT.EVENT) and returns it as the
// struct of that topic. The error says which schema refused what, or
// wraps ErrUnknownTopic.
func Decode(topic string, msg []byte) (Event, error) {
	name, ok := schemas.Name(topic)
	if !ok {
		return nil, fmt.Errorf("events: %s: %w", topic, ErrUnknownTopic)
	}
	if err := schemas.ValidateMsg(topic, json.RawMessage(msg)); err != nil {
		return nil, fmt.Errorf("events: %s: %w", topic, err)
	}
	ev := newEvent(name)
	dec := json.NewDecoder(bytes.NewReader(msg))
	if err := dec.Decode(ev); err != nil {
		return nil, fmt.Errorf("events: %s: %w", topic, err)
	}
	return ev, nil
}

// newEvent returns a new struct for the schema named name; every schema
// of a topic has one (TestStructsMatchSchemas).
func newEvent(name string) Event {
	switch name {
	case "dak.package.upload":
		return &Upload{}
	case "dak.package.policy":
		return &Policy{}
	case "dak.package.new":
		return &New{}
	case "dak.package.reject":
		return &Reject{}
	case "dak.package.remove":
		return &Remove{}
	case "dak.package.receive":
		return &Receive{}
	case "dak.package.other":
		return &DakOther{}
	case "debbugs.bug.report":
		return &BugReport{}
	case "debbugs.bug.followup":
		return &BugFollowup{}
	case "debbugs.bug.close":
		return &BugClose{}
	case "debbugs.bug.control":
		return &BugControl{}
	case "debbugs.bug.ack":
		return &BugAck{}
	case "debbugs.bug.forwarded":
		return &BugForwarded{}
	case "debbugs.bug.submitter-changed":
		return &BugSubmitterChanged{}
	case "debbugs.bug.error":
		return &BugError{}
	case "pts.package", "tracker.package":
		return &TrackerForward{}
	case "debmessenger.package.upload":
		return &DebmessengerUpload{}
	case "debmessenger.bug":
		return &DebmessengerBug{}
	}
	return nil
}

// TypeOf returns the struct type Decode returns for topic, nil when
// mailgw has no schema for it.
func TypeOf(topic string) reflect.Type {
	name, ok := schemas.Name(topic)
	if !ok {
		return nil
	}
	ev := newEvent(name)
	if ev == nil {
		return nil
	}
	return reflect.TypeOf(ev).Elem()
}

// FromEnvelope decodes the msg of an envelope received with package bus
// (bus.Subscribe, bus.ParseEnvelope).
func FromEnvelope(env *bus.Envelope) (Event, error) {
	msg, err := bus.Canonical(env.Msg)
	if err != nil {
		return nil, fmt.Errorf("events: %s: %w", env.Topic, err)
	}
	return Decode(env.Topic, msg)
}
