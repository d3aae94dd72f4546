package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// row is what the live view shows of one event, and the data of its
// Server-Sent Event (docs/web.md).
type row struct {
	Seq       int64    `json:"seq"`
	MsgID     string   `json:"msg_id"`
	Topic     string   `json:"topic"`
	Time      string   `json:"time"` // RFC 3339, UTC
	Timestamp int64    `json:"timestamp"`
	Summary   string   `json:"summary"`
	URL       string   `json:"url,omitempty"`
	Trust     string   `json:"trust"` // "trusted", "untrusted" or "" (not judged)
	Packages  []string `json:"packages"`
	// Pruned: the body is pruned (retention); only the row's own
	// fields are known.
	Pruned bool `json:"pruned,omitempty"`
}

// rowOf makes the row of a journaled envelope, and returns its decoded
// envelope (nil when pruned or unreadable).
func rowOf(h journal.Hit) (row, *bus.Envelope) {
	r := row{Seq: h.SeqID, MsgID: h.MsgID, Topic: h.Topic, Timestamp: h.Timestamp,
		Time: time.Unix(h.Timestamp, 0).UTC().Format(time.RFC3339), Packages: h.Packages}
	if h.Body == nil {
		if r.Packages == nil {
			r.Packages = []string{}
		}
		r.Pruned, r.Summary = true, h.Topic
		return r, nil
	}
	env, err := bus.ParseEnvelope(h.Body)
	if err != nil {
		r.Summary = h.Topic
		return r, nil
	}
	if h.Packages == nil {
		if r.Packages = journal.EventPackages(env.Msg); r.Packages == nil {
			r.Packages = []string{}
		}
	}
	r.Summary, r.URL, r.Trust = describe(env.Msg, h.Topic)
	return r, env
}

// maxSummary bounds a summary shown, in runes.
const maxSummary = 300

// describe returns what the view shows of an event's msg: the summary
// and page (msg.mailgw.summary and url, docs/topics.md), falling back to
// the mail's subject and then the topic for an event made before those
// fields existed; and its trust (msg.mail.auth.trusted, docs/trust.md).
// This is the one place that reads them.
func describe(msg map[string]any, topic string) (summary, link, trust string) {
	mg, _ := msg["mailgw"].(map[string]any)
	mail, _ := msg["mail"].(map[string]any)
	summary, _ = mg["summary"].(string)
	if summary == "" {
		summary, _ = mail["subject"].(string)
	}
	summary = strings.Join(strings.Fields(summary), " ")
	if summary == "" {
		summary = topic
	}
	if utf8.RuneCountInString(summary) > maxSummary {
		summary = string([]rune(summary)[:maxSummary]) + "…"
	}
	if u, ok := mg["url"].(string); ok && webURL(u) {
		link = u
	}
	if auth, ok := mail["auth"].(map[string]any); ok {
		if t, ok := auth["trusted"].(bool); ok {
			trust = "untrusted"
			if t {
				trust = "trusted"
			}
		}
	}
	return summary, link, trust
}

// webURL reports whether u is an absolute http or https URL, the only
// links the view makes.
func webURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// liveEvent is one event as the live streams send it.
type liveEvent struct {
	seq   int64
	topic string
	pkgs  []string
	text  []byte // journal.MsgText of the body, for the text filter
	data  []byte // the row as JSON, the event's data
}

// newLiveEvent makes the live event of a journaled envelope.
func newLiveEvent(h journal.Hit) *liveEvent {
	r, _ := rowOf(h)
	data, _ := json.Marshal(r) // a row always encodes
	e := &liveEvent{seq: h.SeqID, topic: h.Topic, pkgs: r.Packages, data: data}
	if h.Body != nil {
		e.text = journal.MsgText(h.Body)
	}
	return e
}

// size is what e holds in memory, roughly.
func (e *liveEvent) size() int { return len(e.text) + len(e.data) + len(e.topic) + 64 }
