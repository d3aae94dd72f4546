package web

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/debian/mailgw/internal/journal"
)

// filter is the live view's selection (docs/web.md), kept in its URL:
// topic prefixes ("prefix"), source packages ("package") and free text
// ("text"); each list matches when any of its values does, and all given
// lists must match. It means what the same journal.Query fields mean, so
// the page, the stream and /v2/search agree.
type filter struct {
	Prefix, Package, Text []string
}

// Bounds of a filter's values.
const (
	maxValues   = 10
	maxValueLen = 200
)

// parseFilter reads a filter from v (empty values, which a form with
// empty fields sends, are no filter).
func parseFilter(v url.Values) (filter, error) {
	var f filter
	for _, a := range []struct {
		name string
		dst  *[]string
	}{{"prefix", &f.Prefix}, {"package", &f.Package}, {"text", &f.Text}} {
		vals, err := values(v, a.name)
		if err != nil {
			return f, err
		}
		for _, s := range vals {
			if a.name == "package" {
				s = strings.TrimPrefix(s, "src:")
			}
			*a.dst = append(*a.dst, s)
		}
	}
	return f, nil
}

// values returns the non-empty values of argument name, checked against
// the bounds.
func values(v url.Values, name string) ([]string, error) {
	var out []string
	for _, s := range v[name] {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if len(s) > maxValueLen {
			return nil, fmt.Errorf("%s: longer than %d bytes", name, maxValueLen)
		}
		out = append(out, s)
	}
	if len(out) > maxValues {
		return nil, fmt.Errorf("%s: more than %d values", name, maxValues)
	}
	return out, nil
}

// query returns the journal query of f.
func (f filter) query() journal.Query {
	return journal.Query{TopicPrefixes: f.Prefix, Packages: f.Package, Contains: f.Text}
}

// match reports whether f lets e through.
func (f filter) match(e *liveEvent) bool {
	if len(f.Prefix) > 0 && !slices.ContainsFunc(f.Prefix, func(p string) bool { return journal.TopicHasPrefix(e.topic, p) }) {
		return false
	}
	if len(f.Package) > 0 && !slices.ContainsFunc(f.Package, func(p string) bool { return slices.Contains(e.pkgs, p) }) {
		return false
	}
	if len(f.Text) > 0 && !slices.ContainsFunc(f.Text, func(t string) bool { return e.text != nil && bytes.Contains(e.text, []byte(t)) }) {
		return false
	}
	return true
}

// values returns f as URL arguments.
func (f filter) values() url.Values {
	v := url.Values{}
	for _, p := range f.Prefix {
		v.Add("prefix", p)
	}
	for _, p := range f.Package {
		v.Add("package", p)
	}
	for _, t := range f.Text {
		v.Add("text", t)
	}
	return v
}

// first returns the first value of l, "" if none (the form's fields).
func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}
