package debbugs

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

var (
	// reWithMsgID finds "with message-id <X>" in a "marked as done" body.
	reWithMsgID = regexp.MustCompile(`(?m)^with message-id <([^>\s]+)>`)
	// reCausedReport finds the bug a "marked as done" body names; for a
	// merged bug it differs from the header's.
	reCausedReport = regexp.MustCompile(`has caused the Debian [Bb]ug report #(\d+)`)
	// reFixedIn matches "fixed in SRC VER" subjects (dak's -close mail).
	reFixedIn = regexp.MustCompile(`(?:^|\s)fixed in (\S+) (\S+)\s*$`)
	// reClosedByNamely is the 2005 they-closed wording.
	reClosedByNamely = regexp.MustCompile(`closed by one of the developers, namely\s+([^\n]+(?:\n[^\n]+)?)`)
	// reClosedBy is the modern they-closed wording.
	reClosedBy = regexp.MustCompile(`(?m)^It has been closed by (.+)$`)
	// reYourReport finds "#N: title" in a they-closed body.
	reYourReport = regexp.MustCompile(`(?m)^#(\d+): (.+?),?$`)
)

// findNear runs re only near the first occurrence of lit (from the start
// of its line, at most 4 KiB): the literal search is much cheaper than the
// regexp over a whole body, and these phrases sit at the top of a notice.
func findNear(re *regexp.Regexp, text, lit string) []string {
	i := strings.Index(text, lit)
	if lit[0] == '\n' && strings.HasPrefix(text, lit[1:]) {
		i = 0 // the line is the first one
	}
	if i < 0 {
		return nil
	}
	start := strings.LastIndexByte(text[:i], '\n') + 1
	return re.FindStringSubmatch(text[start:min(len(text), i+4096)])
}

// closing is what a close event learns about the mail that closed the bug.
type closing struct {
	from, subject, messageID, text string
}

// close is a bug closed: closed N ("marked as done" to the closer and
// the lists), they-closed N (the notice to the submitter), or the closing
// mail itself ("Bug#N: fixed in SRC VER" from dak).
func (p *Parser) close(b *bugMail, rule, variant string) *parsers.Event {
	m := b.m
	pl := b.base()
	pl["variant"] = variant
	title := b.title
	if t, ok := inParens(title, "marked as done"); ok {
		title = t
	} else if variant == "they-closed" {
		if sm := findNear(reYourReport, m.Text, "\n#"); sm != nil {
			title = strings.TrimSpace(sm[2])
		}
	}
	pl["title"] = title

	bugs := []int{}
	if b.bug != 0 {
		bugs = append(bugs, b.bug)
	}
	if sm := findNear(reCausedReport, m.Text, "has caused the "); sm != nil {
		if n, err := strconv.Atoi(sm[1]); err == nil && n > 0 && !slices.Contains(bugs, n) {
			bugs = append(bugs, n)
		}
	}
	slices.Sort(bugs)
	pl["bugs"] = bugs

	c := findClosing(m, variant)
	ph := pseudoHeaders(c.text)
	closedBy := ph["done"]
	if closedBy == "" {
		if sm := findNear(reClosedByNamely, m.Text, "namely"); sm != nil {
			closedBy = strings.TrimSuffix(strings.Join(strings.Fields(sm[1]), " "), ".")
		} else if sm := findNear(reClosedBy, m.Text, "It has been closed by "); sm != nil {
			closedBy = strings.TrimSuffix(strings.TrimSpace(sm[1]), ".")
		}
	}
	if closedBy == "" {
		closedBy = c.from
	}
	if closedBy != "" {
		parsers.PutAddress(pl, "closed_by", closedBy)
	}
	version := ph["source-version"]
	if version == "" {
		version = ph["version"]
	}
	source := ph["source"]
	if sm := reFixedIn.FindStringSubmatch(c.subject); sm != nil {
		if version == "" {
			version = sm[2]
		}
		if source == "" {
			source = sm[1]
		}
	}
	// "Version: src/ver" (as reportbug and people write it) names the
	// source package too; a Debian version never holds a slash.
	if src, ver, ok := strings.Cut(version, "/"); ok && src != "" && ver != "" {
		version = ver
		if source == "" {
			source = strings.TrimPrefix(src, "src:")
		}
	}
	if version != "" {
		pl["fixed_version"] = version
	}
	if source != "" {
		pl["fixed_source"] = source
	}
	if c.messageID != "" {
		pl["closing_message_id"] = c.messageID
	}
	if c.subject != "" {
		pl["closing_subject"] = c.subject
	}
	return event("close", rule, pl)
}

// findClosing picks the mail that closed the bug: the attached message
// whose Message-ID the body names ("with message-id <X>"), else the last
// attached one; for old non-MIME notices the mail quoted after a
// "Received: (at N-done)" line; else the mail itself (dak's "fixed in").
func findClosing(m *parsers.Message, variant string) closing {
	want := ""
	if sm := findNear(reWithMsgID, m.Text, "with message-id <"); sm != nil {
		want = sm[1]
	}
	if len(m.Attached) > 0 {
		// debbugs attaches [report, closing mail] to "marked as done" and
		// [closing mail, report] to the they-closed notice.
		pick := m.Attached[len(m.Attached)-1]
		if variant == "they-closed" {
			pick = m.Attached[0]
		}
		for _, a := range m.Attached {
			if a != nil && receivedAtDone(a) {
				pick = a
			}
		}
		for _, a := range m.Attached {
			if a != nil && want != "" && a.MessageID == want {
				pick = a
				break
			}
		}
		if pick != nil {
			return closing{from: pick.From, subject: pick.Subject, messageID: pick.MessageID, text: pick.Text}
		}
	}
	if c, ok := inlineClosing(m.Text, want); ok {
		return c
	}
	if reFixedIn.MatchString(m.Subject) || m.Header.Has("X-DAK") {
		return closing{from: m.From, subject: m.Subject, messageID: m.MessageID, text: m.Text}
	}
	return closing{messageID: want}
}

// receivedAtDone reports whether a mail reached debbugs at N-done@ or
// N-close@ (its first header is "Received: (at N-done) by …").
func receivedAtDone(m *parsers.Message) bool {
	if len(m.Header.Fields) == 0 || !strings.EqualFold(m.Header.Fields[0].Key, "Received") {
		return false
	}
	sm := reReceivedAt.FindStringSubmatch(m.Header.Fields[0].Value)
	return sm != nil && (strings.HasSuffix(sm[1], "-done") || strings.HasSuffix(sm[1], "-close"))
}

// inlineClosing reads the closing mail that pre-MIME debbugs quoted inline
// after a "Received: (at N-done) by bugs.debian.org" line: the quoted mail
// whose Message-ID is want, else the last one received at -done or -close,
// else the last one.
func inlineClosing(text, want string) (closing, bool) {
	var best closing
	found, bestDone := false, false
	for {
		i := strings.Index(text, "\nReceived: (at ")
		if i < 0 {
			break
		}
		text = text[i+1:]
		at := text[len("Received: (at "):]
		if j := strings.IndexByte(at, ')'); j >= 0 {
			at = at[:j]
		}
		end := strings.Index(text, "\n\n")
		if end < 0 {
			break
		}
		c := closing{text: text[end+2:]}
		for _, l := range strings.Split(text[:end], "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.ContainsAny(k, " \t") {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "from":
				c.from = v
			case "subject":
				c.subject = v
			case "message-id":
				c.messageID = strings.Trim(v, "<>")
			}
		}
		if want != "" && c.messageID == want {
			return c, true
		}
		done := strings.HasSuffix(at, "-done") || strings.HasSuffix(at, "-close")
		if !found || done || !bestDone {
			best, found, bestDone = c, true, done
		}
		text = text[end:]
	}
	return best, found
}
