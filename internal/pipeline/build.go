// Package pipeline turns spooled mail into events on the bus: read the
// mail, classify (loop, auto-reply and DSN guards first) and parse it,
// judge its trust, build one fedmsg envelope per event (Preparer, the
// prepare step replay and parse use too), sign it, and hand it to the
// engine (internal/engine), which journals it (seq_id, msg_id dedup) and
// publishes what the journal added. Mail that yields no event goes to
// quarantine with a readable reason. A mail leaves the spool only once its
// events are journaled, and publishing happens from the journal, so
// nothing acknowledged is lost whatever crashes in between (docs/flow.md).
package pipeline

import (
	"maps"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/meaning"
	"github.com/debian/mailgw/parsers"
)

// Build makes one unsigned envelope per event. The topic is
// <topic_prefix>.<environment>.<service>.<object>.<event>; msg is the
// event's payload plus "mail" (the source mail's message_id, date, from,
// subject, and auth: the trust decision dec, auth.Decision.Object) and
// "mailgw" (rule, topic, msg_id, timestamp, replayed, and the event's
// meaning: summary, url, packages, people, by meaning.Describe); the
// timestamp is now. msg_id is EventMsgID's: the same mail always yields
// the same msg_ids as long as its proof is the same, and every mail
// announcing the same happening the same msg_id, one for the proven
// mails and one for the others (docs/dedup.md). An event with a
// happening also gets LegacyMsgID, the msg_id its mail alone gave before
// happenings, and, unless dec proves the mail, ProvenMsgID, for the
// journal's dedup. The debmessenger compatibility events keep the shape
// debmessenger's consumers know: their "mail" has no auth; their msg_ids
// follow dec like the others'. A nil dec adds no auth and proves
// nothing.
func Build(cfg *config.Config, m *parsers.Message, evs []parsers.Event, now time.Time, replayed bool, dec *auth.Decision) []*bus.Envelope {
	year := MsgIDYear(m)
	compat := parsers.MailInfo(m)
	info := compat
	if dec != nil {
		info = append(parsers.Object{{Key: "auth", Value: dec.Object()}}, compat...)
	}
	proven := dec != nil && dec.Trusted
	ts := now.Unix()
	out := make([]*bus.Envelope, 0, len(evs))
	for i := range evs {
		ev := &evs[i]
		topic := bus.Topic(cfg.TopicPrefix, topicEnv(cfg, ev), ev.Name())
		// A copy: NewEnvelope writes msg["mailgw"], and the parser's
		// payload stays as it was. The "mail" object, made afresh by
		// MailInfo, is shared by the mail's envelopes (never changed).
		msg := maps.Clone(ev.Payload)
		if msg == nil {
			msg = make(map[string]any, 2)
		}
		msg["mail"] = info
		if ev.Service == "debmessenger" {
			msg["mail"] = compat
		}
		mg := map[string]any{"rule": ev.Rule, "replayed": replayed}
		meaning.Describe(ev.Name(), msg).AddTo(mg)
		msg["mailgw"] = mg
		id, legacy, provenID := EventMsgID(year, m, ev, proven)
		env := bus.NewEnvelope(topic, msg, id, ts, cfg.Username)
		env.LegacyMsgID, env.ProvenMsgID = legacy, provenID
		env.Proven = proven && ev.Happening != ""
		out = append(out, env)
	}
	return out
}

// EventMsgID returns the msg_ids of ev, drawn from m whose MsgIDYear is
// year; proven says whether the trust policy proved m. For an event with
// a Happening, id is made from the happening (with its HappeningYear
// when known): Event.ProvenIdentity when proven, else Event.Identity;
// legacy is the msg_id m alone gave before happenings; and, unless
// proven, provenID is the msg_id a proven mail of the same happening
// gives. For any other event id is made from m, whatever its proof, and
// legacy and provenID are "".
func EventMsgID(year int, m *parsers.Message, ev *parsers.Event, proven bool) (id, legacy, provenID string) {
	if ev.Happening == "" {
		return bus.MsgID(year, ev.LegacyIdentity(m)), "", ""
	}
	hy := year
	if ev.HappeningYear > 0 {
		hy = ev.HappeningYear
	}
	legacy = bus.MsgID(year, ev.LegacyIdentity(m))
	if proven {
		return bus.MsgID(hy, ev.ProvenIdentity()), legacy, ""
	}
	return bus.MsgID(hy, ev.Identity(m)), legacy, bus.MsgID(hy, ev.ProvenIdentity())
}

// CompatEnvironment is the environment of debmessenger's compatibility
// topics whatever the configured one: debmessenger only ever published
// under "dev", and its consumers (Debian Code Search subscribes to exactly
// org.debian.dev.debmessenger.package.upload) listen there.
const CompatEnvironment = "dev"

func topicEnv(cfg *config.Config, ev *parsers.Event) string {
	if ev.Service == "debmessenger" {
		return CompatEnvironment
	}
	return cfg.Environment
}

// MsgIDYear is the year part of a mail's msg_ids. It must not depend on
// when the mail is processed, so that a redelivery or a replay years later
// gives the same msg_id: it is the year (UTC) of the Date header; for a
// mail without a usable Date, the year of the newest Received header's
// timestamp; failing both, 1970.
func MsgIDYear(m *parsers.Message) int {
	if !m.Date.IsZero() {
		return m.Date.UTC().Year()
	}
	var newest time.Time
	for _, r := range m.Header.Values("Received") {
		i := strings.LastIndexByte(r, ';')
		if i < 0 {
			continue
		}
		t, err := mail.ParseDate(strings.TrimSpace(r[i+1:]))
		if err == nil && t.After(newest) {
			newest = t
		}
	}
	if !newest.IsZero() {
		return newest.UTC().Year()
	}
	return 1970
}

// checkBufs holds scratch buffers for checkCanonical.
var checkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}

// checkCanonical reports whether msg has a canonical form (the error of
// bus.Canonical), encoding it into a pooled buffer that is thrown away.
func checkCanonical(msg map[string]any) error {
	bp := checkBufs.Get().(*[]byte)
	b, err := bus.AppendCanonical((*bp)[:0], msg)
	if cap(b) <= 1<<20 { // a huge msg's buffer is not kept
		*bp = b[:0]
		checkBufs.Put(bp)
	}
	return err
}
