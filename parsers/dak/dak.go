package dak

import (
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/debian/mailgw/parsers"
)

// Options configures a Parser.
type Options struct {
	// Compat also emits debmessenger.package.upload for every upload.
	Compat bool
	// Keyring verifies uploaders' signatures; nil means none configured
	// (signature.valid is then null).
	Keyring openpgp.KeyRing
	// KeyringName is reported as signature.keyring when a signature
	// verifies (e.g. "debian-keyring").
	KeyringName string
	// MaxBody bounds free text copied into payloads (reject reasons,
	// changelog text); 0 means parsers.MaxText.
	MaxBody int
}

// Parser is the dak mail parser; it implements parsers.Parser and is safe
// for concurrent use.
type Parser struct {
	opts Options
}

// New returns a dak Parser.
func New(opts Options) *Parser {
	if opts.MaxBody <= 0 {
		opts.MaxBody = parsers.MaxText
	}
	return &Parser{opts: opts}
}

// Name returns "dak".
func (p *Parser) Name() string { return "dak" }

var _ parsers.Parser = (*Parser)(nil)

// hdrs are the header fields the parser reads, gathered in one pass.
type hdrs struct {
	debbugs                                                             bool // X-Debian-PR-Message or X-Loop: owner@bugs.debian.org
	dak                                                                 bool // any of dak's headers
	action, xdak, rejection, source, version, suite, changes, arch, pkg string
}

// scanHeaders reads h once (header lookups by name would each walk all
// the Received lines).
func scanHeaders(h *parsers.Header) hdrs {
	var r hdrs
	for _, f := range h.Fields {
		k := f.Key
		if len(k) < 5 {
			continue
		}
		switch k[0] | 0x20 {
		case 'x':
			switch {
			case strings.EqualFold(k, "X-DAK"):
				r.dak, r.xdak = true, strings.TrimSpace(f.Value)
			case strings.EqualFold(k, "X-Katie"):
				r.dak = true
			case strings.EqualFold(k, "X-Debian"):
				r.dak = r.dak || strings.EqualFold(strings.TrimSpace(f.Value), "DAK")
			case strings.EqualFold(k, "X-DAK-Rejection"):
				r.rejection = strings.ToLower(strings.TrimSpace(f.Value))
			case strings.EqualFold(k, "X-Debian-Package"):
				r.pkg = strings.TrimSpace(f.Value)
			case strings.EqualFold(k, "X-Debian-PR-Message"):
				r.debbugs = true
			case strings.EqualFold(k, "X-Loop"):
				r.debbugs = r.debbugs || strings.EqualFold(strings.TrimSpace(f.Value), "owner@bugs.debian.org")
			}
		case 'd':
			v := strings.TrimSpace(f.Value)
			switch {
			case strings.EqualFold(k, "Debian"):
				r.dak = r.dak || strings.EqualFold(v, "DAK")
			case strings.EqualFold(k, "Debian-Archive-Action"):
				r.dak, r.action = true, strings.ToLower(v)
			case strings.EqualFold(k, "Debian-Source"):
				r.source = v
			case strings.EqualFold(k, "Debian-Version"):
				r.version = v
			case strings.EqualFold(k, "Debian-Suite"):
				r.suite = v
			case strings.EqualFold(k, "Debian-Changes"):
				r.changes = v
			case strings.EqualFold(k, "Debian-Architecture"):
				r.arch = v
			}
		}
	}
	return r
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(m *parsers.Message) ([]parsers.Event, bool, string) {
	h := scanHeaders(&m.Header)
	if h.debbugs {
		return nil, false, "" // checked before the subject is parsed
	}
	c := p.newCtx(m, h)
	if !c.h.dak {
		return p.fallback(c)
	}
	action := c.h.action
	s := c.subj
	switch {
	case s.kind == subjBugFixed:
		return p.other(c, "bug-close", "dak.subject.bug-fixed"), true, ""
	case action == "remove" || c.program == "rm":
		return p.remove(c), true, ""
	case action == "accept":
		return p.upload(c, "dak.header.accept"), true, ""
	case action == "policy":
		return p.policy(c, "dak.header.policy"), true, ""
	case action == "new":
		return p.newQueue(c, "dak.header.new"), true, ""
	case action == "reject":
		return p.reject(c, "dak.header.reject"), true, ""
	}
	switch s.kind {
	case subjProcessing:
		return p.receive(c, "dak.subject.processing"), true, ""
	case subjAnnounce:
		return p.upload(c, "dak.subject.accepted"), true, ""
	case subjChangesAccepted:
		if strings.Contains(s.suite, "->") {
			return p.policy(c, "dak.subject.policy"), true, ""
		}
		return p.upload(c, "dak.subject.changes-accepted"), true, ""
	case subjInstalled:
		return p.upload(c, "dak.subject.installed"), true, ""
	case subjNew:
		return p.newQueue(c, "dak.subject.new"), true, ""
	case subjRejected:
		return p.reject(c, "dak.subject.rejected"), true, ""
	case subjOverride:
		return p.other(c, "override-disparity", "dak.subject.override-disparity"), true, ""
	case subjComments:
		return p.other(c, "comments", "dak.subject.comments"), true, ""
	}
	return p.other(c, "other", "dak.header.other"), true, ""
}

// fallback applies the subject and body rules for old mail that carries
// none of dak's headers: the subject must match and the body must agree.
func (p *Parser) fallback(c *ctx) ([]parsers.Event, bool, string) {
	switch c.subj.kind {
	case subjAnnounce, subjChangesAccepted, subjInstalled:
		ch := c.changes()
		if ch == nil || !strings.EqualFold(firstWord(ch.Value("Source")), c.subj.source) {
			return nil, false, ""
		}
		return p.upload(c, "dak.fallback.accepted"), true, ""
	case subjProcessing:
		if strings.Contains(c.m.Text, "queue daemon") {
			return p.receive(c, "dak.fallback.processing"), true, ""
		}
	}
	return nil, false, ""
}
