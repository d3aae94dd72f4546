package debbugs

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// mail decodes a mail written in a test.
func mail(t *testing.T, raw string) *parsers.Message {
	t.Helper()
	m, err := parsers.ReadMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const followupMail = `X-Loop: owner@bugs.debian.org
From: A User <a@example.org>
Subject: Bug#123456: crash on start
X-Debian-PR-Message: followup 123456
X-Debian-PR-Package: foo foo-doc
X-Debian-PR-Keywords: patch moreinfo
X-Debian-PR-Source: foo
Content-Type: text/plain; charset=utf-8

Here is more information about the crash.
`

func TestFollowupAndCompat(t *testing.T) {
	evs, claimed, _ := New(Options{Compat: true}).Parse(mail(t, followupMail))
	if !claimed || len(evs) != 2 {
		t.Fatalf("claimed=%v, %d events; want 2", claimed, len(evs))
	}
	e := evs[0]
	if e.Name() != "debbugs.bug.followup" || e.Rule != "debbugs.pr-message.followup" {
		t.Errorf("got %s rule %s", e.Name(), e.Rule)
	}
	if e.Payload["bug"] != 123456 || e.Payload["title"] != "crash on start" ||
		e.Payload["from"] != "A User <a@example.org>" ||
		!reflect.DeepEqual(e.Payload["packages"], []string{"foo", "foo-doc"}) ||
		!reflect.DeepEqual(e.Payload["sources"], []string{"foo"}) {
		t.Errorf("payload %v", e.Payload)
	}
	c := evs[1]
	if c.Name() != "debmessenger.bug.followup" || c.Rule != CompatRule {
		t.Errorf("compat event %s rule %s", c.Name(), c.Rule)
	}
	keys := make([]string, 0, len(c.Payload))
	for k := range c.Payload {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"content", "from", "nb", "package", "patches", "source", "tags", "title", "type"}
	if !slices.Equal(keys, want) {
		t.Errorf("compat keys %v, want exactly %v", keys, want)
	}
	if c.Payload["nb"] != "123456" || c.Payload["package"] != "foo foo-doc" ||
		c.Payload["title"] != "Bug#123456: crash on start" ||
		!reflect.DeepEqual(c.Payload["tags"], []string{"patch", "moreinfo"}) ||
		!reflect.DeepEqual(c.Payload["patches"], []string{}) ||
		!strings.HasPrefix(c.Payload["content"].(string), "Here is more") {
		t.Errorf("compat payload %v", c.Payload)
	}
}

func TestCompatOffAndMaxBody(t *testing.T) {
	evs, _, _ := New(Options{MaxBody: 9}).Parse(mail(t, followupMail))
	if len(evs) != 1 {
		t.Fatalf("Compat off: %d events, want 1", len(evs))
	}
	if b := evs[0].Payload["body"]; b != "Here is m" {
		t.Errorf("body %q, want it cut to 9 bytes", b)
	}
	if got := bound("aé", 2); got != "a" {
		t.Errorf("bound cut a UTF-8 sequence: %q", got)
	}
}

func TestNotClaimed(t *testing.T) {
	p := New(Options{Compat: true})
	for _, raw := range []string{
		"From: someone@example.org\nSubject: hello\n\nbody\n",
		"From: someone@example.org\nSubject: Bug#12: looks like a bug mail\n\nbut nothing says debbugs\n",
		"X-Debian: DAK\nSubject: Accepted foo 1.0 (source) into unstable\n\nx\n",
	} {
		evs, claimed, reason := p.Parse(mail(t, raw))
		if claimed || len(evs) != 0 || reason == "" {
			t.Errorf("%q: claimed=%v events=%d reason=%q", raw[:30], claimed, len(evs), reason)
		}
	}
}

func TestClaimedWithoutEvent(t *testing.T) {
	p := New(Options{Compat: true})
	cases := []struct{ raw, reason string }{
		{"Received: (at submit) by bugs.debian.org; 1 Jan 2020 00:00:00 +0000\nFrom: a@example.org\nSubject: x\n\nPackage: foo\n", ReasonIncoming},
		{"From: nobody@pixar.com\nX-Debian-Bugs: This is an autoforward from debian-bugs\n\nXFrom: x\n", ReasonAutoforward},
		{"X-Loop: owner@bugs.debian.org\nX-Debian-PR-Message: list 123\nSubject: x\n\nx\n", "service reply"},
		// a type that would inject topic words is never turned into a topic
		{"X-Loop: owner@bugs.debian.org\nX-Debian-PR-Message: ack.evil.* 5\nSubject: x\n\nx\n", "service reply"},
	}
	for _, c := range cases {
		evs, claimed, reason := p.Parse(mail(t, c.raw))
		if !claimed || len(evs) != 0 || !strings.Contains(reason, c.reason) {
			t.Errorf("%q: claimed=%v events=%d reason=%q", c.raw[:40], claimed, len(evs), reason)
		}
	}
}

func TestSubjectBug(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		rest string
	}{
		{"Bug#563: tar -x fails", 563, "tar -x fails"},
		{"Re: Bug#1000974: copy", 1000974, "copy"},
		{"Bug#322535 acknowledged by developer", 322535, "acknowledged by developer"},
		{"Bug#: nothing", 0, "Bug#: nothing"},
		{"no bug here", 0, "no bug here"},
		{"Bug#99999999999999999999: huge", 0, "Bug#99999999999999999999: huge"},
	}
	for _, c := range cases {
		n, rest := subjectBug(c.in)
		if n != c.n || (n != 0 && rest != c.rest) {
			t.Errorf("subjectBug(%q) = %d, %q; want %d, %q", c.in, n, rest, c.n, c.rest)
		}
	}
}

func TestPseudoHeaders(t *testing.T) {
	ph := pseudoHeaders("\n\nPackage: foo\nVersion: 1.2-3\nSeverity: Serious\nTags: patch, l10n\n\nPackage: not this\n")
	want := map[string]string{"package": "foo", "version": "1.2-3", "severity": "Serious", "tags": "patch, l10n"}
	if !reflect.DeepEqual(ph, want) {
		t.Errorf("got %v, want %v", ph, want)
	}
	if got := mergeTags([]string{"patch"}, "patch, +l10n sid"); !slices.Equal(got, []string{"patch", "l10n", "sid"}) {
		t.Errorf("mergeTags: %v", got)
	}
}

func TestReportSeverityDefault(t *testing.T) {
	raw := "X-Loop: owner@bugs.debian.org\nX-Debian-PR-Message: report 7\nX-Debian-PR-Package: foo\nFrom: r@example.org\nSubject: Bug#7: broken\n\nPackage: foo\nTags: security\n\ntext\n"
	evs, _, _ := New(Options{}).Parse(mail(t, raw))
	if len(evs) != 1 || evs[0].Name() != "debbugs.bug.report" {
		t.Fatalf("events %v", evs)
	}
	p := evs[0].Payload
	if p["severity"] != "normal" || p["submitter"] != "r@example.org" || !reflect.DeepEqual(p["tags"], []string{"security"}) {
		t.Errorf("payload %v", p)
	}
}

func TestProcessedSubject(t *testing.T) {
	cases := []struct {
		in    string
		title string
		n     int
	}{
		{"Processed: your mail", "your mail", 0},
		{"Processed (with 8 errors): unarchive", "unarchive", 8},
		{"Processed (with 1 error): x", "x", 1},
		{"something else", "something else", -1},
	}
	for _, c := range cases {
		title, n := processedSubject(c.in)
		if title != c.title || n != c.n {
			t.Errorf("processedSubject(%q) = %q, %d", c.in, title, n)
		}
	}
}
