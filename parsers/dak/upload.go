package dak

import (
	"bytes"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/debian/mailgw/parsers"
)

// event makes a dak.package.<typ> event.
func event(typ, rule string, payload map[string]any) parsers.Event {
	return parsers.Event{Service: "dak", Object: "package", EventType: typ, Rule: rule, Payload: payload}
}

// upload emits dak.package.upload (plus dak.package.new with state
// "accepted" when dak process-new sent it, and the debmessenger event when
// Compat is on).
func (p *Parser) upload(c *ctx, rule string) []parsers.Event {
	// The two payloads of the same .changes share these.
	var bx boxes
	var fr fieldRows
	pl := p.uploadPayloadIn(c, &bx, &fr)
	happening := uploadHappening(c, pl)
	evs := []parsers.Event{event("upload", rule, pl)}
	if c.program == "process-new" {
		evs = append(evs, event("new", "dak.process-new.accepted", map[string]any{
			"source": pl["source"], "version": pl["version"], "distribution": pl["distribution"],
			"architecture": pl["architecture"], "changes_file": pl["changes_file"],
			"state": "accepted", "program": c.program,
		}))
	}
	if p.opts.Compat {
		if ch := c.changes(); ch != nil {
			evs = append(evs, parsers.Event{Service: "debmessenger", Object: "package",
				EventType: "upload", Rule: "debmessenger.package.upload", Payload: compatPayloadIn(ch, &bx, &fr)})
		}
	}
	year := uploadYear(pl)
	for i := range evs {
		evs[i].Happening, evs[i].HappeningYear = happening, year
	}
	return evs
}

// uploadPayload builds the dak.package.upload payload (docs/topics.md).
func (p *Parser) uploadPayload(c *ctx) map[string]any {
	var bx boxes
	var fr fieldRows
	return p.uploadPayloadIn(c, &bx, &fr)
}

// uploadPayloadIn is uploadPayload boxing its strings and sizes through bx
// and taking the list fields' words from fr. The file lists are those of
// Changes.Files and Changes.Checksums.
func (p *Parser) uploadPayloadIn(c *ctx, bx *boxes, fr *fieldRows) map[string]any {
	ch := c.changes()
	if ch == nil {
		ch = &Changes{}
	}
	files := fr.get(ch, "Files", 5)
	fl := make(parsers.Objects, len(files)/5)
	for i := range fl {
		w := files[5*i : 5*i+5]
		size, _ := strconv.ParseInt(w[1], 10, 64)
		fl[i] = parsers.Object{{Key: "md5sum", Value: w[0]}, {Key: "name", Value: bx.str(w[4])}, {Key: "priority", Value: bx.str(w[3])}, {Key: "section", Value: bx.str(w[2])}, {Key: "size", Value: bx.size(size)}}
	}
	version := c.version()
	dist := splitList(ch.Value("Distribution"))
	if len(dist) == 0 {
		dist = suiteNames(c.suite())
	}
	arch := splitList(ch.Value("Architecture"))
	if len(arch) == 0 {
		arch = firstList(splitList(c.h.arch), c.subj.archs)
	}
	pl := map[string]any{
		"source":         c.source(),
		"version":        version,
		"distribution":   dist,
		"architecture":   arch,
		"binary":         splitList(ch.Value("Binary")),
		"urgency":        ch.Value("Urgency"),
		"date":           normDate(ch.Value("Date")),
		"closes":         ch.Closes(),
		"changes":        bound(ch.Text("Changes"), p.opts.MaxBody),
		"files":          fl,
		"sha256":         checksumList(fr.get(ch, "Checksums-Sha256", 3), "sha256", bx),
		"checksums_sha1": checksumList(fr.get(ch, "Checksums-Sha1", 3), "sha1", bx),
		"format":         ch.Value("Format"),
		"suite":          nilIfEmpty(c.suite()),
		"changes_file":   nilIfEmpty(c.changesFile()),
		"program":        nilIfEmpty(c.program),
		"nmu":            isNMU(version),
		"source_only":    len(arch) == 1 && arch[0] == "source",
		"has_changes":    c.ch != nil,
		"signature":      p.signature(c.loc, func() []byte { return signedBytes(c.m) }),
	}
	parsers.PutAddress(pl, "changed_by", ch.Value("Changed-By"))
	parsers.PutAddress(pl, "maintainer", ch.Value("Maintainer"))
	if c.ch == nil {
		// katie's INSTALLED mail lists "Closing bugs: N N" instead.
		if i := strings.Index(c.m.Text, "\nClosing bugs:"); i >= 0 {
			line, _, _ := strings.Cut(c.m.Text[i+len("\nClosing bugs:"):], "\n")
			pl["closes"] = BugList(line)
		}
	}
	if v, ok := ch.Get("Launchpad-Bugs-Fixed"); ok {
		pl["launchpad_bugs_fixed"] = BugList(v)
	}
	return pl
}

// suiteNames turns dak's suite text ("unstable", "a, b",
// "bookworm->stable-new") into suite names.
func suiteNames(s string) []string {
	out := []string{}
	for _, w := range splitList(s) {
		name, _, _ := strings.Cut(w, "->")
		if name != "" && name != "(none)" {
			out = append(out, name)
		}
	}
	return out
}

func firstList(ls ...[]string) []string {
	for _, l := range ls {
		if len(l) > 0 {
			return l
		}
	}
	return []string{}
}

// checksumList turns the rows of a Checksums-* field ("sum size name",
// see fieldRows) into payload objects, names and sizes boxed through bx;
// key (sha1 or sha256) sorts between "name" and "size".
func checksumList(rows []string, key string, bx *boxes) parsers.Objects {
	out := make(parsers.Objects, len(rows)/3)
	for i := range out {
		w := rows[3*i : 3*i+3]
		size, _ := strconv.ParseInt(w[1], 10, 64)
		out[i] = parsers.Object{{Key: "name", Value: bx.str(w[2])}, {Key: key, Value: w[0]}, {Key: "size", Value: bx.size(size)}}
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// bound cuts s to at most n bytes on a UTF-8 boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// normDate returns an RFC 2822 date as RFC 3339 (offset kept); a date it
// cannot read is returned as it is.
func normDate(s string) string {
	if s == "" {
		return ""
	}
	// dpkg writes RFC 1123 with a numeric zone; try that before the
	// lenient (and slower) RFC 5322 parser.
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		if t, err = mail.ParseDate(s); err != nil {
			return s
		}
	}
	return t.Format(time.RFC3339)
}

// isNMU reports a non-maintainer upload by its version: a Debian revision
// with a dot ("2.1") or a native version with "+nmu".
func isNMU(v string) bool {
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		rev := v[i+1:]
		if j := strings.IndexAny(rev, "~+"); j >= 0 {
			rev = rev[:j]
		}
		return strings.Contains(rev, ".")
	}
	return strings.Contains(v, "+nmu")
}

// signedBytes returns the clearsigned text as received: the decoded bytes
// of the part that holds it, before charset decoding, so a signature over
// Latin-1 text still verifies.
func signedBytes(m *parsers.Message) []byte {
	marker := []byte(beginSigned)
	for i := range m.Parts {
		if bytes.Contains(m.Parts[i].Raw, marker) {
			return m.Parts[i].Raw
		}
	}
	// A single-part mail: its body from the raw bytes.
	raw := m.Raw
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		raw = raw[i+2:]
	} else if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		raw = raw[i+4:]
	}
	// The same transfer decoding as the message's parts (parsers'), no
	// second decoder: a decoded body is never longer than the encoded one.
	raw, _, _ = parsers.DecodeTransfer(strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding")), raw, len(raw))
	if bytes.Contains(raw, marker) {
		return raw
	}
	return []byte(m.Text)
}
