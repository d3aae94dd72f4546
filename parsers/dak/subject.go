package dak

import (
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// subjKind is the shape of a dak subject line.
type subjKind int

const (
	subjUnknown         subjKind = iota
	subjAnnounce                 // Accepted|Installed SRC VER (ARCHS) [into SUITE]
	subjChangesAccepted          // FILE.changes ACCEPTED [into SUITE]
	subjInstalled                // FILE.changes INSTALLED [into SUITE]
	subjNew                      // FILE.changes is NEW
	subjRejected                 // FILE.changes REJECTED
	subjProcessing               // Processing of FILE.changes
	subjBugFixed                 // Bug#N: fixed in SRC VER
	subjOverride                 // SRC override disparity
	subjComments                 // Comments regarding FILE.changes
)

// subject is what a dak subject line says.
type subject struct {
	kind            subjKind
	source, version string
	archs           []string
	suite           string // "into SUITE", "" when absent
	changesFile     string
	bug             int
}

// parseSubject recognises dak's subject lines (no regexp: plain string
// tests, run once per mail).
func parseSubject(s string) subject {
	s = strings.TrimSpace(s)
	var r subject
	for _, w := range [...]string{"Accepted ", "Installed "} {
		if rest, ok := strings.CutPrefix(s, w); ok {
			open := strings.IndexByte(rest, '(')
			closing := strings.LastIndexByte(rest, ')')
			if open < 0 || closing < open {
				return r
			}
			f := strings.Fields(rest[:open])
			if len(f) != 2 {
				return r
			}
			r.kind, r.source, r.version = subjAnnounce, f[0], f[1]
			r.archs = strings.Fields(rest[open+1 : closing])
			if suite, ok := strings.CutPrefix(strings.TrimSpace(rest[closing+1:]), "into "); ok {
				r.suite = strings.TrimSpace(suite)
			}
			return r
		}
	}
	if rest, ok := strings.CutPrefix(s, "Processing of "); ok {
		if r.setChanges(strings.TrimSpace(rest)) {
			r.kind = subjProcessing
		}
		return r
	}
	if rest, ok := strings.CutPrefix(s, "Comments regarding "); ok {
		if r.setChanges(strings.TrimSpace(rest)) {
			r.kind = subjComments
		}
		return r
	}
	if rest, ok := strings.CutPrefix(s, "Bug#"); ok {
		num, tail, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(num)
		if err != nil {
			return r
		}
		r.bug = n
		if f := strings.Fields(tail); len(f) == 4 && f[0] == "fixed" && f[1] == "in" {
			r.kind, r.source, r.version = subjBugFixed, f[2], f[3]
		}
		return r
	}
	if src, ok := strings.CutSuffix(s, " override disparity"); ok && !strings.Contains(src, " ") {
		r.kind, r.source = subjOverride, src
		return r
	}
	file, verb, _ := strings.Cut(s, " ")
	if !r.setChanges(file) {
		return r
	}
	verb = strings.TrimSpace(verb)
	switch {
	case verb == "is NEW":
		r.kind = subjNew
	case verb == "REJECTED":
		r.kind = subjRejected
	case strings.HasPrefix(verb, "ACCEPTED"):
		r.kind = subjChangesAccepted
		r.suite = strings.TrimSpace(strings.TrimPrefix(verb[len("ACCEPTED"):], " into"))
	case strings.HasPrefix(verb, "INSTALLED"):
		r.kind = subjInstalled
		r.suite = strings.TrimSpace(strings.TrimPrefix(verb[len("INSTALLED"):], " into"))
	}
	return r
}

// setChanges reads a "SRC_VER_ARCH.changes" file name.
func (r *subject) setChanges(file string) bool {
	base, ok := strings.CutSuffix(file, ".changes")
	if !ok || strings.ContainsAny(base, " /") {
		return false
	}
	parts := strings.SplitN(base, "_", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return false
	}
	r.changesFile, r.source, r.version = file, parts[0], parts[1]
	if len(parts) == 3 {
		r.archs = strings.Split(parts[2], "_")
	}
	return true
}

// ctx carries what every event builder needs about one mail.
type ctx struct {
	m       *parsers.Message
	subj    subject
	h       hdrs
	program string // X-DAK program ("process-upload", "rm", …), "" if none
	parsed  bool
	loc     located
	ch      *Changes
}

// newCtx reads the subject of m; h is scanHeaders of its header.
func (p *Parser) newCtx(m *parsers.Message, h hdrs) *ctx {
	c := &ctx{m: m, subj: parseSubject(m.Subject), h: h}
	if x := c.h.xdak; x != "" {
		f := strings.Fields(x)
		if len(f) >= 2 && strings.EqualFold(f[0], "dak") {
			c.program = f[1]
		} else if len(f) == 1 && !strings.EqualFold(f[0], "dak") {
			c.program = f[0]
		}
	}
	return c
}

// changes returns the .changes found in the body, nil when there is none.
func (c *ctx) changes() *Changes {
	if !c.parsed {
		c.parsed = true
		if loc, ok := findChanges(c.m.Text); ok {
			ch := ParseChanges(loc.para)
			if len(ch.Fields) > 0 {
				c.loc, c.ch = loc, ch
			}
		}
	}
	return c.ch
}

// source, version and suite pick the best known value: the .changes, then
// dak's structured headers, then the subject.
func (c *ctx) source() string {
	if ch := c.changes(); ch != nil {
		if v := ch.Value("Source"); v != "" {
			return firstWord(v)
		}
	}
	return firstNonEmpty(c.h.source, c.subj.source, c.h.pkg)
}

func (c *ctx) version() string {
	if ch := c.changes(); ch != nil {
		if v := ch.Value("Version"); v != "" {
			return v
		}
	}
	return firstNonEmpty(c.h.version, c.subj.version)
}

// suite is where dak put the upload: Debian-Suite, else the subject's
// "into SUITE".
func (c *ctx) suite() string {
	return firstNonEmpty(c.h.suite, c.subj.suite)
}

func (c *ctx) changesFile() string {
	return firstNonEmpty(c.h.changes, c.subj.changesFile)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// firstWord returns "foo" for a Source field "foo (1.2-1)".
func firstWord(s string) string {
	if i := indexBlank(s); i >= 0 {
		return s[:i]
	}
	return s
}

// splitList splits "a, b c" into words, never nil.
func splitList(s string) []string {
	return appendWords(make([]string, 0, countWords(s)), s)
}
