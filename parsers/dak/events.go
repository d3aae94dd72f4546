package dak

import (
	"strings"

	"github.com/debian/mailgw/parsers"
)

// policy emits dak.package.policy: the upload was accepted into a policy
// queue (Debian-Suite "suite->queue"). The payload is the upload payload
// plus queue.
func (p *Parser) policy(c *ctx, rule string) []parsers.Event {
	pl := p.uploadPayload(c)
	queue := ""
	for _, w := range splitList(c.suite()) {
		if _, q, ok := strings.Cut(w, "->"); ok {
			queue = q
			break
		}
	}
	pl["queue"] = queue
	return []parsers.Event{event("policy", rule, pl)}
}

// newQueue emits dak.package.new for an upload held in NEW.
func (p *Parser) newQueue(c *ctx, rule string) []parsers.Event {
	dist := []string{}
	if ch := c.changes(); ch != nil {
		dist = splitList(ch.Value("Distribution"))
	}
	if len(dist) == 0 {
		dist = suiteNames(c.suite())
	}
	pl := map[string]any{
		"source":       c.source(),
		"version":      c.version(),
		"distribution": dist,
		"architecture": firstList(splitList(c.h.arch), c.subj.archs),
		"changes_file": nilIfEmpty(c.changesFile()),
		"state":        "new",
		"program":      nilIfEmpty(c.program),
	}
	return []parsers.Event{event("new", rule, pl)}
}

// reject emits dak.package.reject; reason is the body up to dak's "==="
// separator.
func (p *Parser) reject(c *ctx, rule string) []parsers.Event {
	reason := c.m.Text
	if i := strings.Index(reason, "\n===\n"); i >= 0 {
		reason = reason[:i]
	}
	rejection := c.h.rejection
	if rejection != "automatic" && rejection != "manual" {
		rejection = "unknown"
	}
	pl := map[string]any{
		"source":       c.source(),
		"version":      c.version(),
		"reason":       bound(strings.TrimSpace(reason), p.opts.MaxBody),
		"rejection":    rejection,
		"architecture": firstList(splitList(c.h.arch), c.subj.archs),
		"changes_file": nilIfEmpty(c.changesFile()),
		"program":      nilIfEmpty(c.program),
	}
	return []parsers.Event{event("reject", rule, pl)}
}

const (
	reasonStart = "------------------- Reason -------------------"
	reasonEnd   = "----------------------------------------------"
)

// remove emits dak.package.remove from a dak rm notice: the
// "name | version | archs" table, the suites from "have been removed from
// SUITES:", the reason block and the bug closed (Bug#N in the subject).
func (p *Parser) remove(c *ctx) []parsers.Event {
	text := c.m.Text
	suites := []string{}
	if i := strings.Index(text, "have been removed from "); i >= 0 {
		rest := text[i+len("have been removed from "):]
		line, _, _ := strings.Cut(rest, "\n")
		line = strings.TrimSuffix(strings.TrimSpace(line), ":")
		suites = splitList(line)
	}
	if len(suites) == 0 {
		suites = splitList(c.h.suite)
	}
	pkgs := []map[string]any{}
	reason := ""
	body := text
	if i := strings.Index(text, reasonStart); i >= 0 {
		body = text[:i]
		reason = text[i+len(reasonStart):]
		if j := strings.Index(reason, reasonEnd); j >= 0 {
			reason = reason[:j]
		}
	}
	for body != "" {
		var line string
		line, body, _ = strings.Cut(body, "\n")
		if strings.Count(line, "|") != 2 {
			continue
		}
		cols := strings.SplitN(line, "|", 3)
		name, ver := strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1])
		if name == "" || ver == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		pkgs = append(pkgs, map[string]any{"name": name, "version": ver, "architectures": splitList(cols[2])})
	}
	closes := []int{}
	if c.subj.bug > 0 {
		closes = append(closes, c.subj.bug)
	}
	suite := ""
	if len(suites) > 0 {
		suite = suites[0]
	}
	pl := map[string]any{
		"suite":    suite,
		"suites":   suites,
		"packages": pkgs,
		"reason":   bound(strings.TrimSpace(reason), p.opts.MaxBody),
		"closes":   closes,
		"sources":  splitList(c.h.source),
		"program":  nilIfEmpty(c.program),
	}
	return []parsers.Event{event("remove", "dak.rm", pl)}
}

// receive emits dak.package.receive for an upload-queue receipt
// ("Processing of FILE.changes").
func (p *Parser) receive(c *ctx, rule string) []parsers.Event {
	text := c.m.Text
	files := []string{}
	if i := strings.Index(text, "along with the files:"); i >= 0 {
		rest := text[i+len("along with the files:"):]
		rest = strings.TrimPrefix(rest, "\n")
		for rest != "" {
			var line string
			line, rest, _ = strings.Cut(rest, "\n")
			f := strings.TrimSpace(line)
			if f == "" || strings.ContainsAny(f, " \t") {
				break
			}
			files = append(files, f)
		}
	}
	host := ""
	if i := strings.Index(text, "running on host "); i >= 0 {
		host, _, _ = strings.Cut(text[i+len("running on host "):], ")")
		host = strings.TrimSpace(host)
	}
	pl := map[string]any{
		"changes_file": c.subj.changesFile,
		"source":       c.subj.source,
		"version":      c.subj.version,
		"architecture": firstList(c.subj.archs),
		"success":      strings.Contains(text, "uploaded successfully"),
		"files":        files,
		"queue_host":   nilIfEmpty(host),
	}
	return []parsers.Event{event("receive", rule, pl)}
}

// other emits dak.package.other for any other mail with dak's headers.
func (p *Parser) other(c *ctx, kind, rule string) []parsers.Event {
	pl := map[string]any{
		"source":  nilIfEmpty(firstNonEmpty(c.h.source, c.subj.source, c.h.pkg)),
		"subject": c.m.Subject,
		"kind":    kind,
		"program": nilIfEmpty(c.program),
	}
	if c.subj.version != "" {
		pl["version"] = c.subj.version
	}
	if c.subj.bug > 0 {
		pl["bug"] = c.subj.bug
	}
	if f := c.changesFile(); f != "" {
		pl["changes_file"] = f
	}
	return []parsers.Event{event("other", rule, pl)}
}
