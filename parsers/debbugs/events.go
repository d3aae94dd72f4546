package debbugs

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// parseHeader handles mail that carries a non-empty X-Debian-PR-Message.
func (p *Parser) parseHeader(m *parsers.Message, prMsg string) ([]parsers.Event, bool, string) {
	words := strings.Fields(prMsg)
	typ := ""
	bug := 0
	if len(words) > 0 {
		typ = strings.ToLower(words[0])
	}
	if len(words) > 1 {
		if n, err := strconv.Atoi(words[1]); err == nil && n > 0 {
			bug = n
		}
	}
	if !topicWord(typ) {
		return nil, true, fmt.Sprintf(ReasonService, bound(prMsg, 80))
	}
	b := newBugMail(m, typ, bug)
	rule := "debbugs.pr-message." + typ
	var ev *parsers.Event
	switch {
	case typ == "report":
		ev = p.report(b, rule)
	case typ == "followup":
		ev = p.followup(b, rule)
	case typ == "closed" || typ == "they-closed":
		ev = p.close(b, rule, typ)
	case typ == "transcript":
		ev = p.control(b, rule)
	case strings.HasPrefix(typ, "ack"):
		ev = p.ack(b, rule, typ)
	case typ == "forwarded":
		ev = p.forwarded(b, rule)
	case typ == "submitter-changed":
		ev = p.submitterChanged(b, rule)
	case typ == "error":
		ev = p.errorReply(b, rule)
	default:
		return nil, true, fmt.Sprintf(ReasonService, bound(prMsg, 80))
	}
	ev.Happening, ev.HappeningYear = b.happening(ev.EventType)
	evs := []parsers.Event{*ev}
	if p.compat {
		c := p.debmessenger(b, words)
		c.Happening, c.HappeningYear = ev.Happening, ev.HappeningYear
		evs = append(evs, c)
	}
	return evs, true, ""
}

// event builds an Event of the debbugs service.
func event(kind, rule string, payload map[string]any) *parsers.Event {
	return &parsers.Event{Service: "debbugs", Object: "bug", EventType: kind, Rule: rule, Payload: payload}
}

// report is a new bug report: X-Debian-PR-Message: report N.
func (p *Parser) report(b *bugMail, rule string) *parsers.Event {
	ph := pseudoHeaders(b.m.Text)
	pl := b.base()
	parsers.PutAddress(pl, "submitter", b.m.From)
	sev := strings.ToLower(ph["severity"])
	if sev == "" {
		sev = "normal"
	}
	pl["severity"] = sev
	pl["tags"] = mergeTags(b.keywords, ph["tags"])
	if v := ph["version"]; v != "" {
		pl["version"] = v
	}
	pl["body"] = bound(b.m.Text, p.maxBody)
	return event("report", rule, pl)
}

// followup is more information on a bug: X-Debian-PR-Message: followup N.
func (p *Parser) followup(b *bugMail, rule string) *parsers.Event {
	pl := b.base()
	parsers.PutAddress(pl, "from", b.m.From)
	pl["tags"] = b.keywords
	pl["body"] = bound(b.m.Text, p.maxBody)
	return event("followup", rule, pl)
}

// ackPhrases are debbugs' acknowledgement subjects, in the order to try,
// with the variant each names.
var ackPhrases = []struct{ phrase, variant string }{
	{"Acknowledgement of QUIET report", "ack-quiet"},
	{"Acknowledgement of maintainer-only report", "ack-maintonly"},
	{"Acknowledgement", "ack"},
	{"Info received and FILED only", "ack-info-quiet"},
	{"Info received for maintainer only", "ack-info-maintonly"},
	{"Info received", "ack-info"},
}

// ackTitle returns the bug title an acknowledgement subject quotes.
func ackTitle(title string) string {
	for _, a := range ackPhrases {
		if t, ok := inParens(title, a.phrase); ok {
			t = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(t, "was:"), "was "))
			return stripBugPrefix(stripRe(t))
		}
	}
	return title
}

// ack is debbugs' reply to a report or followup: ack N, ack-info N and
// their -quiet and -maintonly variants.
func (p *Parser) ack(b *bugMail, rule, variant string) *parsers.Event {
	pl := b.base()
	pl["variant"] = variant
	pl["title"] = ackTitle(b.title)
	putTo(pl, b.m)
	return event("ack", rule, pl)
}

// forwarded is the "marked as forwarded" notice: forwarded N.
func (p *Parser) forwarded(b *bugMail, rule string) *parsers.Event {
	pl := b.base()
	if t, ok := inParens(b.title, "marked as forwarded"); ok {
		pl["title"] = strings.TrimSpace(strings.TrimPrefix(t, "was:"))
	}
	text := b.m.Text
	if i := strings.Index(text, "forwarded to the upstream software"); i >= 0 {
		rest := text[i+len("forwarded to the upstream software"):]
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), "author(s)"))
		if j := strings.Index(rest, "\n\n"); j >= 0 {
			rest = rest[:j]
		}
		pl["forwarded_to"] = strings.TrimSuffix(strings.Join(strings.Fields(rest), " "), ".")
	}
	return event("forwarded", rule, pl)
}

// submitterChanged tells the old submitter that the address changed.
func (p *Parser) submitterChanged(b *bugMail, rule string) *parsers.Event {
	pl := b.base()
	if sm := findNear(reYourReport, b.m.Text, "\n#"); sm != nil {
		pl["title"] = strings.TrimSpace(sm[2])
	} else if t, ok := parenAfter(b.title, "submitter addressed changed"); ok {
		pl["title"] = stripBugPrefix(stripRe(t))
	}
	lines := strings.Split(b.m.Text, "\n")
	for i, l := range lines {
		if i+1 >= len(lines) {
			break
		}
		next := strings.TrimSuffix(strings.TrimSpace(lines[i+1]), ".")
		switch strings.TrimSpace(l) {
		case "The old submitter address for this report was":
			parsers.PutAddress(pl, "old_submitter", next)
		case "The new submitter address is":
			parsers.PutAddress(pl, "new_submitter", next)
		}
	}
	return event("submitter-changed", rule, pl)
}

// parenAfter returns the "(…)" text that follows phrase anywhere in s.
func parenAfter(s, phrase string) (string, bool) {
	i := strings.Index(s, phrase)
	if i < 0 {
		return "", false
	}
	return inParens(s[i:], phrase)
}

// errorKinds maps debbugs' error subjects to a short kind.
var errorKinds = []struct{ prefix, kind string }{
	{"Unknown problem report", "unknown-bug"},
	{"Message with no Bug number ignored", "no-bug-number"},
	{"Message with no Bug number cannot be sent to submitter", "no-bug-number-submitter"},
	{"Message with no Package: tag cannot be processed", "no-package"},
}

// errorReply is debbugs' refusal of a mail: X-Debian-PR-Message: error.
func (p *Parser) errorReply(b *bugMail, rule string) *parsers.Event {
	pl := b.base()
	s := strings.TrimSpace(b.m.Subject)
	pl["subject"] = s
	pl["error"] = "other"
	for _, e := range errorKinds {
		if strings.HasPrefix(s, e.prefix) {
			pl["error"] = e.kind
			// the subject of the refused mail, in parentheses
			if head, _, ok := strings.Cut(s, " ("); ok {
				if t, ok := inParens(s, head); ok {
					pl["title"] = t
				}
			}
			break
		}
	}
	if b.bug == 0 {
		if i := strings.Index(s, "Bug#"); i >= 0 {
			if n, _ := subjectBug(s[i:]); n != 0 {
				pl["bug"] = n
			}
		}
	}
	return event("error", rule, pl)
}

// pseudoHeaders reads the "Key: value" lines that start a bug mail body
// (Package:, Version:, Severity:, Tags:, Source-Version:, Done: …). Keys
// are lower-cased; the first value of a key wins.
func pseudoHeaders(text string) map[string]string {
	ph := map[string]string{}
	started := false
	for n := 0; n < 40 && text != ""; n++ {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		line = strings.TrimSpace(line)
		if line == "" {
			if started {
				break
			}
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || i > 30 || strings.ContainsAny(line[:i], " \t") {
			break
		}
		started = true
		k := strings.ToLower(line[:i])
		if _, dup := ph[k]; !dup {
			ph[k] = strings.TrimSpace(line[i+1:])
		}
	}
	return ph
}

// mergeTags joins the bug's keywords and a Tags: pseudo-header, keeping
// order and dropping repeats.
func mergeTags(keywords []string, pseudo string) []string {
	out := make([]string, 0, len(keywords))
	seen := map[string]bool{}
	add := func(t string) {
		t = strings.ToLower(strings.Trim(t, "+ "))
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, k := range keywords {
		add(k)
	}
	for _, t := range strings.FieldsFunc(pseudo, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		add(t)
	}
	return out
}

// topicWord reports whether s may be a topic's last word: lower-case
// letters, digits and inner hyphens, at most 40 bytes.
func topicWord(s string) bool {
	if s == "" || len(s) > 40 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// stripRe removes a leading "Re: " (any case) from a subject.
func stripRe(s string) string {
	if len(s) >= 3 && strings.EqualFold(s[:3], "re:") {
		return strings.TrimSpace(s[3:])
	}
	return s
}

// putTo writes the notice's To header: "to" (each address in display
// form, joined by ", ") and "to_email" (the bare addresses, lower-cased).
func putTo(pl map[string]any, m *parsers.Message) {
	to, emails := parsers.AddressList(m.Header.Get("To"))
	pl["to"] = to
	pl["to_email"] = emails
}
