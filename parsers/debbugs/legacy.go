package debbugs

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

var (
	// reReceivedAt is the first line debbugs writes on mail it receives.
	reReceivedAt = regexp.MustCompile(`^\(at ([^)\s]+)\) by bugs\.debian\.org`)
	// reAckedByDev is the 1990s–2005 they-closed subject.
	reAckedByDev = regexp.MustCompile(`^Bug#(\d+) acknowledged by developer`)
	// reClosedBySubj is the modern they-closed subject.
	reClosedBySubj = regexp.MustCompile(`^Bug#(\d+):? closed by `)
	// reSubmitterChanged is the submitter-changed subject.
	reSubmitterChanged = regexp.MustCompile(`^Bug#(\d+):? submitter address(?:ed)? changed`)
)

// parseLegacy classifies mail without X-Debian-PR-Message: copies of mail
// sent to the BTS, 1995 autoforwards, and the BTS's own mail from before
// it set the PR headers, recognised by debbugs' fixed subject phrases.
func (p *Parser) parseLegacy(m *parsers.Message) ([]parsers.Event, bool, string) {
	h := m.Header
	for _, k := range []string{"X-Debian-Bugs", "X-Debian-Bugs-Forwarded"} {
		if strings.HasPrefix(h.Get(k), "This is an autoforward from") {
			return nil, true, ReasonAutoforward
		}
	}
	if len(h.Fields) > 0 && strings.EqualFold(h.Fields[0].Key, "Received") &&
		reReceivedAt.MatchString(h.Fields[0].Value) {
		return nil, true, ReasonIncoming
	}
	s := strings.TrimSpace(m.Subject)
	if strings.HasPrefix(s, "Processed") && (isBTSLoop(h) ||
		strings.Contains(m.Text, "Processing commands for") || strings.Contains(m.Text, "Processing control commands")) {
		b := newBugMail(m, "transcript", 0)
		return []parsers.Event{*p.control(b, "debbugs.subject.processed")}, true, ""
	}
	for _, e := range errorKinds {
		if strings.HasPrefix(s, e.prefix) {
			b := newBugMail(m, "error", 0)
			return []parsers.Event{*p.errorReply(b, "debbugs.subject.error")}, true, ""
		}
	}
	if !strings.HasPrefix(s, "Bug#") {
		return nil, false, "no debbugs header or subject rule matched"
	}
	if sm := reAckedByDev.FindStringSubmatch(s); sm != nil {
		return p.legacyClose(m, "they-closed", "debbugs.subject.acknowledged-by-developer")
	}
	if sm := reClosedBySubj.FindStringSubmatch(s); sm != nil {
		return p.legacyClose(m, "they-closed", "debbugs.subject.closed-by")
	}
	if reSubmitterChanged.MatchString(s) {
		b := newBugMail(m, "submitter-changed", 0)
		return []parsers.Event{*p.submitterChanged(b, "debbugs.subject.submitter-changed")}, true, ""
	}
	n, rest := subjectBug(s)
	if n == 0 {
		return nil, false, "no debbugs header or subject rule matched"
	}
	b := newBugMail(m, "", n)
	switch {
	case strings.HasPrefix(rest, "marked as done"):
		return p.legacyClose(m, "closed", "debbugs.subject.marked-as-done")
	case strings.HasPrefix(rest, "marked as forwarded"):
		return []parsers.Event{*p.forwarded(b, "debbugs.subject.marked-as-forwarded")}, true, ""
	case reFixedIn.MatchString(rest) && (h.Has("X-DAK") || h.Get("X-Debian") == "DAK" || strings.Contains(m.Text, "Source-Version:")):
		return p.legacyClose(m, "closed", "debbugs.subject.fixed-in")
	}
	for _, a := range ackPhrases {
		if strings.HasPrefix(rest, a.phrase) {
			return []parsers.Event{*p.ack(b, "debbugs.subject.ack", a.variant)}, true, ""
		}
	}
	// "Bug#N: title" is the BTS's resend of a report or followup; without
	// PR headers only trust it when some other mark of the BTS is present.
	if !h.Has("X-Debian-PR-Package") && !isBTSLoop(h) &&
		!strings.Contains(h.Get("Resent-Message-ID"), "handler") {
		return nil, false, "Bug#N subject without any debbugs header: not claimed"
	}
	ph := pseudoHeaders(m.Text)
	if ph["package"] != "" && !strings.Contains(h.Get("Resent-Message-ID"), ".B"+strconv.Itoa(n)+".") {
		if len(b.packages) == 0 {
			b.packages = []string{ph["package"]}
		}
		return []parsers.Event{*p.report(b, "debbugs.subject.report")}, true, ""
	}
	return []parsers.Event{*p.followup(b, "debbugs.subject.followup")}, true, ""
}

// legacyClose builds a close event for mail recognised by its subject.
func (p *Parser) legacyClose(m *parsers.Message, variant, rule string) ([]parsers.Event, bool, string) {
	n, _ := subjectBug(m.Subject)
	b := newBugMail(m, variant, n)
	return []parsers.Event{*p.close(b, rule, variant)}, true, ""
}
