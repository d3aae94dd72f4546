package debbugs

import (
	"testing"
)

// TestLegacySubjects covers the subject rules for BTS mail without
// X-Debian-PR-Message, one mail per rule.
func TestLegacySubjects(t *testing.T) {
	const bts = "From: owner@bugs.debian.org\nX-Debian-PR-Package: foo\n"
	cases := []struct {
		raw, name, rule string
		check           map[string]any
	}{
		{bts + "Subject: Bug#10: marked as done (foo: broken)\n\nYour message dated x\nwith message-id <a@b>\n",
			"debbugs.bug.close", "debbugs.subject.marked-as-done", map[string]any{"bug": 10, "variant": "closed", "title": "foo: broken"}},
		{bts + "Subject: Bug#11 acknowledged by developer\n\nIt has been closed by one of the developers, namely\nJ R <j@example.org>.\n",
			"debbugs.bug.close", "debbugs.subject.acknowledged-by-developer", map[string]any{"bug": 11, "variant": "they-closed", "closed_by": "J R <j@example.org>"}},
		{bts + "Subject: Bug#12 closed by J R <j@example.org> (done)\n\n#12: foo: title\n\nIt has been closed by J R <j@example.org>\n",
			"debbugs.bug.close", "debbugs.subject.closed-by", map[string]any{"bug": 12, "title": "foo: title", "closed_by": "J R <j@example.org>"}},
		{"X-DAK: dak process-upload\nSubject: Bug#13: fixed in foo 1.2-3\n\nSource: foo\nSource-Version: 1.2-3\n",
			"debbugs.bug.close", "debbugs.subject.fixed-in", map[string]any{"bug": 13, "fixed_version": "1.2-3", "fixed_source": "foo"}},
		{bts + "Subject: Bug#14: marked as forwarded (was: t)\n\nto be marked as having been forwarded to the upstream software\nauthor(s) up@example.org.\n",
			"debbugs.bug.forwarded", "debbugs.subject.marked-as-forwarded", map[string]any{"bug": 14, "forwarded_to": "up@example.org", "title": "t"}},
		{bts + "Subject: Bug#15 submitter addressed changed (x)\n\nThe new submitter address is\nN <n@example.org>.\n",
			"debbugs.bug.submitter-changed", "debbugs.subject.submitter-changed", map[string]any{"bug": 15, "new_submitter": "N <n@example.org>"}},
		{bts + "Subject: Processed (with 1 error): x\n\nProcessing commands for control@bugs.debian.org:\n\n> close 16\nFailed to mark 16 as done: nope\n",
			"debbugs.bug.control", "debbugs.subject.processed", map[string]any{"bugs": []int{16}, "error_count": 1}},
		{bts + "Subject: Message with no Bug number ignored by control@bugs.debian.org (x)\n\n.\n",
			"debbugs.bug.error", "debbugs.subject.error", map[string]any{"error": "no-bug-number", "title": "x"}},
		{bts + "Subject: Bug#17: Info received for maintainer only (Bug#17: t)\n\n.\n",
			"debbugs.bug.ack", "debbugs.subject.ack", map[string]any{"bug": 17, "variant": "ack-info-maintonly", "title": "t"}},
		{bts + "Subject: Bug#18: Re: more data\n\nI see it too.\n",
			"debbugs.bug.followup", "debbugs.subject.followup", map[string]any{"bug": 18, "title": "Re: more data"}},
	}
	p := New(Options{Compat: true})
	for _, c := range cases {
		evs, claimed, reason := p.Parse(mail(t, c.raw))
		if !claimed || len(evs) != 1 {
			t.Errorf("%s: claimed=%v events=%d (%s); want one event, no compat", c.rule, claimed, len(evs), reason)
			continue
		}
		e := evs[0]
		if e.Name() != c.name || e.Rule != c.rule {
			t.Errorf("got %s / %s, want %s / %s", e.Name(), e.Rule, c.name, c.rule)
		}
		for k, v := range c.check {
			if got := e.Payload[k]; !equalAny(got, v) {
				t.Errorf("%s: %s = %#v, want %#v", c.rule, k, got, v)
			}
		}
	}
}

// equalAny compares payload values of the kinds the tests use.
func equalAny(a, b any) bool {
	if x, ok := a.([]int); ok {
		y, ok := b.([]int)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a == b
}
