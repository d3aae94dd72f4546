// Package pts parses mail forwarded by Debian's package trackers: the old
// Package Tracking System at packages.qa.debian.org (X-PTS-Package,
// X-PTS-Keyword) and its successor tracker.debian.org
// (X-Distro-Tracker-Package, X-Distro-Tracker-Keyword, X-Loop:
// dispatch@tracker.debian.org; it also keeps the X-PTS-* headers for
// compatibility).
//
// Each forward becomes pts.package.<keyword> or tracker.package.<keyword>
// with the package, the keyword (normalised the way the tracker does:
// katie-other→archive, buildd→build, cvs→vcs, ddtp→translation), the
// subject and sender. A forward keeps the original mail's headers, so when
// the forwarded mail is itself a dak or debbugs mail, the parsers given to
// New read it too and the payload carries their event under "event".
package pts

import (
	"strings"

	"github.com/debian/mailgw/parsers"
)

// Parser is the PTS/tracker forward parser; it implements parsers.Parser
// and is safe for concurrent use when its inner parsers are.
type Parser struct {
	inner []parsers.Parser
}

// New returns a Parser. inner are the parsers (dak, debbugs) tried, in
// order, on a forwarded mail to fill the payload's "event".
func New(inner ...parsers.Parser) *Parser {
	return &Parser{inner: inner}
}

// Name returns "pts".
func (p *Parser) Name() string { return "pts" }

var _ parsers.Parser = (*Parser)(nil)

// MaxPackages bounds the packages one forward fans out to.
const MaxPackages = 50

// legacyKeywords maps old keywords to the tracker's current ones.
var legacyKeywords = map[string]string{
	"katie-other": "archive",
	"buildd":      "build",
	"cvs":         "vcs",
	"ddtp":        "translation",
}

// NormalizeKeyword lower-cases a PTS/tracker keyword and maps the legacy
// ones (katie-other→archive, buildd→build, cvs→vcs, ddtp→translation);
// an empty keyword is "default". ok is false when the result is not a
// keyword that can stand in a topic (letters, digits and "-", at most 40
// bytes).
func NormalizeKeyword(k string) (kw string, ok bool) {
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "" {
		return "default", true
	}
	if n, legacy := legacyKeywords[k]; legacy {
		return n, true
	}
	if len(k) > 40 {
		return k, false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return k, false
		}
	}
	return k, true
}

// Parse claims mail that carries a tracker's package header and returns
// one event per package named there (normally one). A tracker team
// forward without a package is claimed with no event, so the copy is not
// taken for the original dak or debbugs mail.
func (p *Parser) Parse(m *parsers.Message) ([]parsers.Event, bool, string) {
	h := &m.Header
	service, pkgHdr, kwHdr := "", "", ""
	switch {
	case h.Has("X-Distro-Tracker-Package"):
		service, pkgHdr, kwHdr = "tracker", h.Get("X-Distro-Tracker-Package"), h.Get("X-Distro-Tracker-Keyword")
		if kwHdr == "" {
			kwHdr = h.Get("X-PTS-Keyword")
		}
	case h.Has("X-PTS-Package"):
		service, pkgHdr, kwHdr = "pts", h.Get("X-PTS-Package"), h.Get("X-PTS-Keyword")
		if trackerLoop(h) {
			service = "tracker"
		}
	case h.Has("X-Distro-Tracker-Team"):
		return nil, true, "tracker team forward (X-Distro-Tracker-Team: " + clip(h.Get("X-Distro-Tracker-Team")) + ") names no package"
	default:
		return nil, false, ""
	}
	kw, ok := NormalizeKeyword(kwHdr)
	if !ok {
		return nil, true, "PTS/tracker forward whose keyword " + quote(kwHdr) + " is not a tracker keyword"
	}
	pkgs := packageNames(pkgHdr)
	if len(pkgs) == 0 {
		return nil, true, "PTS/tracker forward whose package header " + quote(pkgHdr) + " names no valid Debian package"
	}
	nested, happening, year := p.nested(m)
	rule := service + ".header.keyword"
	evs := make([]parsers.Event, 0, len(pkgs))
	for _, pkg := range pkgs {
		pl := map[string]any{
			"package": pkg,
			"keyword": kw,
			"subject": m.Subject,
		}
		parsers.PutAddress(pl, "from", m.From)
		if raw := strings.ToLower(strings.TrimSpace(kwHdr)); raw != "" && raw != kw {
			pl["original_keyword"] = raw
		}
		if nested != nil {
			pl["event"] = nested
		}
		evs = append(evs, parsers.Event{
			Service: service, Object: "package", EventType: kw,
			Rule: rule, Payload: pl, Key: pkg, Happening: happening, HappeningYear: year,
		})
	}
	return evs, true, ""
}

// nested runs the inner parsers on m and returns the first event of the
// first one that claims it (a debmessenger compatibility event only when
// there is nothing else), as {topic, rule, payload[, key]}; nil when none.
// happening and year identify the forward (parsers.Event.Happening,
// HappeningYear) by the nested event's kind and happening, so that
// forwards of two copies of one happening (say dak's maintainer copy and
// its announce) are one happening too; "" when the nested event has none.
func (p *Parser) nested(m *parsers.Message) (nested map[string]any, happening string, year int) {
	for _, ip := range p.inner {
		evs, claimed, _ := ip.Parse(m)
		if !claimed {
			continue
		}
		if len(evs) == 0 {
			return nil, "", 0
		}
		e := evs[0]
		for _, c := range evs {
			if c.Service != "debmessenger" {
				e = c
				break
			}
		}
		out := map[string]any{"topic": e.Name(), "rule": e.Rule, "payload": e.Payload}
		if e.Key != "" {
			out["key"] = e.Key
		}
		if e.Happening != "" {
			happening = "forward\x00" + e.Name() + "\x00" + e.Key + "\x00" + e.Happening
		}
		return out, happening, e.HappeningYear
	}
	return nil, "", 0
}

// trackerLoop reports whether the mail went through tracker.debian.org's
// dispatch (X-Loop: dispatch@tracker.debian.org).
func trackerLoop(h *parsers.Header) bool {
	for _, v := range h.Values("X-Loop") {
		if strings.EqualFold(strings.TrimSpace(v), "dispatch@tracker.debian.org") {
			return true
		}
	}
	return false
}
