package parsers

import (
	"strconv"
	"strings"
	"time"
)

// Classifier picks the parser for a mail: the first parser, in order, that
// claims it. main wires the parsers explicitly, most specific first
// (PTS/tracker forwards, then dak, then debbugs).
type Classifier struct {
	Parsers []Parser
}

// NewClassifier returns a Classifier that tries ps in order.
func NewClassifier(ps ...Parser) *Classifier {
	return &Classifier{Parsers: ps}
}

// ClassifyHeaders are the header fields the parsers classify by. A mail
// that no parser claims is reported with those of them it carries.
var ClassifyHeaders = []string{
	"Debian", "Debian-Archive-Action", "X-Debian", "X-DAK", "X-Katie",
	"X-Loop", "X-Debian-PR-Message", "X-PTS-Package", "X-PTS-Keyword",
	"X-Distro-Tracker-Package", "X-Distro-Tracker-Keyword",
}

// Refusal says why a mail yields no event. Its Kind is decided where the
// reason is (Guard, a parser, Classify), so that nobody needs to read the
// text to tell the kinds apart.
type Refusal struct {
	// Kind is one of the Refused constants ("" when nothing is refused).
	Kind string
	// Reason says it for people: the quarantine's reason file and the
	// log line carry it.
	Reason string
}

// The kinds of Refusal. They are the values of serve's
// mailgw_mails_quarantined_total reason label (docs/monitoring.md).
const (
	// RefusedLoop: mailgw's own loop marker (Guard).
	RefusedLoop = "loop"
	// RefusedDSN: a delivery status notification (Guard).
	RefusedDSN = "dsn"
	// RefusedAutoReply: an auto-reply or another automatic report (Guard).
	RefusedAutoReply = "auto-reply"
	// RefusedNoRule: no parser claims the mail (NoRuleReason).
	RefusedNoRule = "no-rule"
	// RefusedByParser: a parser claimed the mail and found no event in it.
	RefusedByParser = "parser"
)

// Classify returns the events of m, or none and the Refusal. Guards run
// first (see Guard); then each parser in order, and the first that claims
// the mail decides. A claimed mail with no events gets the parser's reason
// as it stands (parsers word it so that it names the kind of mail), kind
// RefusedByParser. A mail nobody claims gets kind RefusedNoRule and
// "no rule matched (from: …, subject: …, headers: …)", listing the
// classifying headers it carries (or "none of …").
func (c *Classifier) Classify(m *Message) (events []Event, refused Refusal) {
	if r := Guard(m); r.Kind != "" {
		return nil, r
	}
	for _, p := range c.Parsers {
		evs, claimed, r := p.Parse(m)
		if !claimed {
			continue
		}
		if len(evs) == 0 {
			if r == "" {
				r = p.Name() + ": claimed, no event"
			}
			return nil, Refusal{RefusedByParser, r}
		}
		return evs, Refusal{}
	}
	return nil, Refusal{RefusedNoRule, NoRuleReason(m)}
}

// NoRuleReason is the reason given for a mail that no parser claims.
func NoRuleReason(m *Message) string {
	var b strings.Builder
	b.WriteString("no rule matched (from: ")
	b.WriteString(strconv.Quote(clip(m.From, 80)))
	b.WriteString(", subject: ")
	b.WriteString(strconv.Quote(clip(m.Subject, 120)))
	b.WriteString(", headers: ")
	n := 0
	for _, k := range ClassifyHeaders {
		v := m.Header.Get(k)
		if v == "" && !m.Header.Has(k) {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strconv.Quote(clip(v, 60)))
	}
	if n == 0 {
		b.WriteString("none of ")
		b.WriteString(strings.Join(ClassifyHeaders, ", "))
	}
	b.WriteString(")")
	return b.String()
}

// MailInfo returns the `mail` object that the pipeline adds to every
// payload: message_id (without angle brackets, "" if absent), date (the
// Date header in RFC 3339, converted to UTC, e.g. "2019-09-19T13:50:14Z";
// null when absent or unparsable — never the time of processing, so
// replays give the same payload), from (the sender in Address's display
// form) with from_email (the bare address, lower-cased; null when there
// is none), and subject (decoded). It is an Object: one per mail, in every
// envelope of it.
func MailInfo(m *Message) Object {
	var date any // null without a usable Date
	if !m.Date.IsZero() {
		date = m.Date.UTC().Format(time.RFC3339)
	}
	from, email := Address(m.From)
	var fromEmail any
	if email != "" {
		fromEmail = email
	}
	return Object{{Key: "date", Value: date}, {Key: "from", Value: from}, {Key: "from_email", Value: fromEmail},
		{Key: "message_id", Value: m.MessageID}, {Key: "subject", Value: m.Subject}}
}
