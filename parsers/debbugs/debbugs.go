package debbugs

import (
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// Options configure a Parser.
type Options struct {
	// Compat also emits debmessenger.bug.<type> events for every bug mail
	// that carries X-Debian-PR-Message.
	Compat bool
	// MaxBody bounds body text copied into payloads, in bytes; 0 means
	// parsers.MaxText.
	MaxBody int
}

// Parser is the debbugs mail parser; it implements parsers.Parser.
type Parser struct {
	compat  bool
	maxBody int
}

// New returns a Parser configured by opts.
func New(opts Options) *Parser {
	p := &Parser{compat: opts.Compat, maxBody: opts.MaxBody}
	if p.maxBody <= 0 {
		p.maxBody = parsers.MaxText
	}
	return p
}

// Name returns "debbugs".
func (p *Parser) Name() string { return "debbugs" }

// Reasons given for claimed mail that yields no event.
const (
	// ReasonIncoming: a copy of mail sent to the BTS, before debbugs
	// processed it.
	ReasonIncoming = "incoming mail to bugs.debian.org (Received: (at …)): not yet processed by debbugs; the BTS's resent copy carries the event"
	// ReasonAutoforward: a 1995–96 autoforward record (X-Debian-Bugs).
	ReasonAutoforward = "debbugs autoforward copy (X-Debian-Bugs): a 1995-era copy of incoming mail, no BTS action"
	// ReasonService: a request@ service reply (list, doc-text, geti, …)
	// or another debbugs notice type with no bug event.
	ReasonService = "debbugs service reply or notice with no bug event (X-Debian-PR-Message: %q)"
)

// Parse returns the events of m. It claims mail that debbugs sent (headers
// or, for old mail, subject phrases) and copies of mail sent to the BTS.
func (p *Parser) Parse(m *parsers.Message) ([]parsers.Event, bool, string) {
	h := m.Header
	prMsg := strings.TrimSpace(h.Get("X-Debian-PR-Message"))
	if prMsg != "" {
		return p.parseHeader(m, prMsg)
	}
	return p.parseLegacy(m)
}

// isBTSLoop reports whether an X-Loop value is owner@bugs.debian.org.
func isBTSLoop(h parsers.Header) bool {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Key, "X-Loop") &&
			strings.EqualFold(strings.TrimSpace(f.Value), "owner@bugs.debian.org") {
			return true
		}
	}
	return false
}

// bugMail is what every debbugs event shares, read once per mail.
type bugMail struct {
	m        *parsers.Message
	typ      string // first word of X-Debian-PR-Message, or the legacy kind
	bug      int    // 0 when unknown
	packages []string
	sources  []string
	keywords []string
	title    string // Subject without "Bug#N: "
}

// newBugMail reads the shared fields of m.
func newBugMail(m *parsers.Message, typ string, bug int) *bugMail {
	h := m.Header
	b := &bugMail{
		m:        m,
		typ:      typ,
		bug:      bug,
		packages: fields(h.Get("X-Debian-PR-Package")),
		sources:  fields(h.Get("X-Debian-PR-Source")),
		keywords: fields(h.Get("X-Debian-PR-Keywords")),
	}
	if b.bug == 0 {
		b.bug, _ = subjectBug(m.Subject)
	}
	b.title = stripBugPrefix(m.Subject)
	return b
}

// base returns the payload fields shared by the bug events.
func (b *bugMail) base() map[string]any {
	p := map[string]any{
		"packages": b.packages,
		"sources":  b.sources,
		"title":    b.title,
	}
	if b.bug != 0 {
		p["bug"] = b.bug
	}
	return p
}

// fields splits s on white space and commas (a bug assigned to several
// packages lists them as "a,b"), never returning nil.
func fields(s string) []string {
	// The separators are ASCII, so a byte scan splits exactly as a rune
	// scan would. Counting first sizes the slice once; the count has no
	// branch (a word starts where a separator is followed by another
	// byte), which long package lists make worth it.
	n, prev := 0, uint8(1)
	for i := 0; i < len(s); i++ {
		cur := fieldSepBit[s[i]]
		n += int(prev &^ cur)
		prev = cur
	}
	f := make([]string, 0, n)
	start := -1
	for i := 0; i < len(s); i++ {
		if fieldSep[s[i]] {
			if start >= 0 {
				f = append(f, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		f = append(f, s[start:])
	}
	return f
}

// fieldSep marks the bytes that separate the words of fields; fieldSepBit
// is the same as 0 and 1.
var (
	fieldSep    = [256]bool{' ': true, ',': true, '\t': true, '\r': true, '\n': true}
	fieldSepBit = [256]uint8{' ': 1, ',': 1, '\t': 1, '\r': 1, '\n': 1}
)

// subjectBug finds "Bug#N" at the start of a subject (after "Re: " and
// list tags) and returns N and the rest of the subject after "Bug#N" and
// an optional colon.
func subjectBug(s string) (int, string) {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "Bug#")
	if i < 0 || i > 40 {
		return 0, s
	}
	j := i + 4
	k := j
	for k < len(s) && k-j < 10 && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k < len(s) && s[k] >= '0' && s[k] <= '9' {
		return 0, s // more than 10 digits: not a bug number
	}
	n, err := strconv.Atoi(s[j:k])
	if err != nil || n <= 0 || n > 1<<31 {
		return 0, s
	}
	rest := strings.TrimPrefix(s[k:], ":")
	return n, strings.TrimSpace(rest)
}

// stripBugPrefix removes a leading "Bug#N: " from a subject.
func stripBugPrefix(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "Bug#") {
		return s
	}
	if n, rest := subjectBug(s); n != 0 {
		return rest
	}
	return s
}

// bound cuts s to at most n bytes on a UTF-8 boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// inParens returns T when s is "<phrase> (T)" and reports whether it was.
// T may itself contain parentheses: everything between the phrase's "("
// and the final ")" is kept.
func inParens(s, phrase string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, phrase) {
		return "", false
	}
	rest := strings.TrimSpace(s[len(phrase):])
	if len(rest) < 2 || rest[0] != '(' || rest[len(rest)-1] != ')' {
		return "", false
	}
	return strings.TrimSpace(rest[1 : len(rest)-1]), true
}
