package journal

import (
	"slices"
	"strings"
)

// What the search indexes and the web listener read of an event: its
// packages, its topic's category and prefixes, its hour.

// maxPackages bounds the packages indexed per event: real ones name up
// to a few hundred (a control mail of a mass bug filing, a removal), a
// hostile one is found by its first maxPackages.
const maxPackages = 1000

// EventPackages returns the source packages an event is about, as the
// journal indexes them and the web listener filters them: the event's
// msg.mailgw.packages (docs/topics.md) when it has that field; for an
// event made before it existed, its payload's "source", "package" and
// "packages" fields. At most maxPackages count, each once, in first-seen
// order, and only package names as internal/meaning takes them (a letter
// or digit, then letters, digits, '+', '-' and '.'; "src:" dropped). msg
// may hold Go values or decoded JSON: a []string in msg.mailgw.packages
// is the pipeline's own list (internal/meaning makes it of such names,
// once each) and is taken as it is, which saved a replay a twentieth of
// its journal time.
func EventPackages(msg map[string]any) []string {
	if mg, ok := msg["mailgw"].(map[string]any); ok {
		if p, ok := mg["packages"]; ok {
			if l, ok := p.([]string); ok {
				return l[:min(len(l), maxPackages)]
			}
			return addPackages(nil, p)
		}
	}
	var out []string
	for _, k := range []string{"source", "package", "packages"} {
		out = addPackages(out, msg[k])
	}
	return out
}

// addPackages adds to out the package names of v: a string of names
// separated by commas or spaces, or a list of such strings.
func addPackages(out []string, v any) []string {
	ps := pkgSet{out: out}
	ps.split(v)
	return ps.out
}

// pkgSet collects package names once each. A long list is checked
// against a map: slices.Contains on each name made a control mail naming
// 450 packages cost 100,000 comparisons, a tenth of a replay's journal
// time.
type pkgSet struct {
	out  []string
	seen map[string]bool
}

func (ps *pkgSet) add(f string) {
	f = strings.TrimPrefix(f, "src:")
	if !validPackage(f) || len(ps.out) >= maxPackages {
		return
	}
	if ps.seen == nil && len(ps.out) >= 16 {
		ps.seen = make(map[string]bool, 64)
		for _, p := range ps.out {
			ps.seen[p] = true
		}
	}
	if ps.seen != nil {
		if ps.seen[f] {
			return
		}
		ps.seen[f] = true
	} else if slices.Contains(ps.out, f) {
		return
	}
	ps.out = append(ps.out, f)
}

func (ps *pkgSet) split(v any) {
	switch v := v.(type) {
	case string:
		// Split by hand: strings.FieldsFunc's allocations made this a
		// sixth of Add's CPU time in a replay.
		for len(v) > 0 {
			f := v
			if i := strings.IndexAny(v, ", "); i >= 0 {
				f, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			ps.add(f)
		}
	case []string:
		for _, s := range v {
			ps.split(s)
		}
	case []any:
		for _, s := range v {
			if s, ok := s.(string); ok {
				ps.split(s)
			}
		}
	}
}

// validPackage reports whether s is a package name as internal/meaning
// takes them: a letter or digit, then up to 99 letters, digits, '+', '-'
// and '.' (Debian Policy 5.6.1 asks for lower case; debbugs has names in
// upper case too).
func validPackage(s string) bool {
	if len(s) < 1 || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Category returns a topic's category, the service that emitted it: the
// fourth dot-separated part ("dak" in org.debian.prod.dak.package.upload),
// as datagrepper has it; "" for a topic with fewer parts.
func Category(topic string) string {
	parts := strings.SplitN(topic, ".", 5)
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// TopicHasPrefix reports whether topic starts with prefix at a boundary
// between parts: prefix is the topic, or the topic continues with "." after
// it, or prefix itself ends with ".".
func TopicHasPrefix(topic, prefix string) bool {
	if !strings.HasPrefix(topic, prefix) {
		return false
	}
	return len(topic) == len(prefix) || topic[len(prefix)] == '.' || strings.HasSuffix(prefix, ".")
}

// hourOf is the topic_hours bucket of a timestamp (floor division, so
// that times before 1970 fall into the right hour too).
func hourOf(ts int64) int64 {
	h := ts / 3600
	if ts%3600 < 0 {
		h--
	}
	return h
}
