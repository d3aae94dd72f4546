package debbugs

import (
	"strings"

	"github.com/debian/mailgw/parsers"
)

// CompatRule is the rule name of debmessenger-compatible events.
const CompatRule = "debmessenger.bug"

// debmessenger builds the debmessenger.bug.<type> event that debmessenger
// (bug.py) published for a bug mail: <type> is the first word of
// X-Debian-PR-Message, nb the second ("" for a transcript), and the
// payload keys are exactly debmessenger's. patches is always empty, as it
// was in debmessenger (its check compared a method to a string).
func (p *Parser) debmessenger(b *bugMail, words []string) parsers.Event {
	h := b.m.Header
	nb := ""
	if len(words) > 1 {
		nb = words[1]
	}
	content := b.m.Text
	if len(b.m.Parts) > 0 && b.m.Parts[0].Text != "" {
		content = b.m.Parts[0].Text
	}
	return parsers.Event{
		Service:   "debmessenger",
		Object:    "bug",
		EventType: b.typ,
		Rule:      CompatRule,
		Payload: map[string]any{
			"from":    b.m.From,
			"source":  oneLine(h.Get("X-Debian-PR-Source")),
			"package": oneLine(h.Get("X-Debian-PR-Package")),
			"tags":    b.keywords,
			"type":    b.typ,
			"nb":      nb,
			"title":   b.m.Subject,
			"content": bound(content, p.maxBody),
			"patches": []string{},
		},
	}
}

// oneLine removes line breaks, as debmessenger did to header values.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(s))
}
