package parsers

import (
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	cases := []struct{ header, kind, want string }{
		{"X-Loop: mailgw\n", RefusedLoop, "loop"},
		{"X-Loop: owner@bugs.debian.org\nX-Loop: MailGW@mailgw.debian.org\n", RefusedLoop, "loop"},
		{"X-Mailgw-Loop: org.debian.prod\n", RefusedLoop, "loop"},
		{"X-Loop: owner@bugs.debian.org\n", "", ""},
		{"X-Loop: notmailgw@example.org\n", "", ""},
		{"Auto-Submitted: auto-replied\n", RefusedAutoReply, "auto-reply (RFC 3834: Auto-Submitted: auto-replied)"},
		{"Auto-Submitted: Auto-Replied (vacation)\n", RefusedAutoReply, "auto-reply"},
		{"Auto-Submitted: auto-notified; owner-email=x@example.org\n", RefusedAutoReply, "auto-reply"},
		{"Auto-Submitted: auto-generated\n", "", ""},
		{"Auto-Submitted: no\n", "", ""},
		{"Precedence: auto_reply\n", RefusedAutoReply, "auto-reply"},
		{"Precedence: bulk\n", "", ""},
		{"X-Autoreply: yes\n", RefusedAutoReply, "auto-reply"},
		{"X-Autorespond: Out of office\n", RefusedAutoReply, "auto-reply"},
		{"X-Autoreply: no\n", "", ""},
		{"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n", RefusedDSN, "delivery status notification"},
		{"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n", RefusedAutoReply, "automatic report"},
		{"Content-Type: multipart/mixed; boundary=b\n", "", ""},
	}
	for _, c := range cases {
		m := mustRead(t, "Subject: s\n"+c.header+"\n--b\nContent-Type: text/plain\n\nx\n--b--\n")
		got := Guard(m)
		if got.Kind != c.kind || (c.want == "") != (got.Reason == "") || !strings.Contains(got.Reason, c.want) {
			t.Errorf("Guard(%q) = %+v, want kind %q, reason %q", c.header, got, c.kind, c.want)
		}
	}
	m := mustRead(t, "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nAction: failed\n--b--\n")
	if got := Guard(m); got.Kind != RefusedDSN || !strings.Contains(got.Reason, "message/delivery-status part") {
		t.Errorf("DSN part: Guard = %+v", got)
	}
	if m.Parts[0].Text != "Action: failed" {
		t.Errorf("delivery-status text = %q", m.Parts[0].Text)
	}
}

// fakeParser claims mail whose Subject contains its word.
type fakeParser struct {
	name, word string
	events     int
	calls      *int
}

func (f fakeParser) Name() string { return f.name }

func (f fakeParser) Parse(m *Message) ([]Event, bool, string) {
	*f.calls++
	if !strings.Contains(m.Subject, f.word) {
		return nil, false, ""
	}
	var evs []Event
	for i := 0; i < f.events; i++ {
		evs = append(evs, Event{Service: f.name, Object: "thing", EventType: "seen", Rule: f.name + ".subject"})
	}
	return evs, true, f.name + " saw nothing to publish"
}

func TestClassify(t *testing.T) {
	calls := 0
	c := NewClassifier(
		fakeParser{name: "first", word: "alpha", events: 1, calls: &calls},
		fakeParser{name: "second", word: "beta", events: 0, calls: &calls},
		fakeParser{name: "third", word: "a", events: 2, calls: &calls},
	)
	evs, reason := c.Classify(mustRead(t, "Subject: alpha beta\n\n"))
	if len(evs) != 1 || evs[0].Service != "first" || reason != (Refusal{}) || calls != 1 {
		t.Errorf("first match: %v %q after %d calls", evs, reason, calls)
	}
	evs, reason = c.Classify(mustRead(t, "Subject: beta\n\n"))
	if len(evs) != 0 || reason != (Refusal{RefusedByParser, "second saw nothing to publish"}) {
		t.Errorf("claimed without events: %v %q", evs, reason)
	}
	evs, reason = c.Classify(mustRead(t, "Subject: xyz\nFrom: Jane <j@example.org>\nX-Debian: DAK\nX-Loop: owner@bugs.debian.org\n\n"))
	want := `no rule matched (from: "Jane <j@example.org>", subject: "xyz", headers: X-Debian="DAK", X-Loop="owner@bugs.debian.org")`
	if len(evs) != 0 || reason != (Refusal{RefusedNoRule, want}) {
		t.Errorf("no rule:\n got %q\nwant %q", reason, want)
	}
	_, reason = c.Classify(mustRead(t, "Subject: zzz\n\n"))
	if reason.Kind != RefusedNoRule || !strings.Contains(reason.Reason, "headers: none of Debian, Debian-Archive-Action, X-Debian,") {
		t.Errorf("no headers: %q", reason)
	}
	calls = 0
	evs, reason = c.Classify(mustRead(t, "Subject: alpha\nAuto-Submitted: auto-replied\n\n"))
	if len(evs) != 0 || reason.Kind != RefusedAutoReply || !strings.HasPrefix(reason.Reason, "auto-reply") || calls != 0 {
		t.Errorf("guarded mail reached parsers (%d calls) or %q", calls, reason)
	}
}

func TestEventIdentity(t *testing.T) {
	m := mustRead(t, "Message-ID: <x@y>\n\n")
	e := Event{Service: "pts", Object: "package", EventType: "bts", Key: "hello"}
	if got := e.Identity(m); got != "mid:x@y\x00pts.package.bts\x00hello" {
		t.Errorf("Identity = %q", got)
	}
	n := mustRead(t, "Subject: no id\n\n")
	if !strings.HasPrefix(n.Identity(), "sha256:") {
		t.Errorf("Identity without Message-ID = %q", n.Identity())
	}
}
