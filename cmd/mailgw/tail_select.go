package main

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/debian/mailgw/bus"
)

// tailSelect says which messages tail keeps, beyond the --topic
// prefixes that the subscription itself filters on.
type tailSelect struct {
	include, exclude []*regexp.Regexp
	packages         []string
	trustedOnly      bool
}

// newTailSelect compiles the --include and --exclude expressions; a bad
// one is a usage error.
func newTailSelect(o tailOptions) (*tailSelect, error) {
	s := &tailSelect{packages: o.packages, trustedOnly: o.trustedOnly}
	for _, l := range []struct {
		flag string
		in   []string
		out  *[]*regexp.Regexp
	}{{"--include", o.include, &s.include}, {"--exclude", o.exclude, &s.exclude}} {
		for _, expr := range l.in {
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %v", l.flag, expr, err)
			}
			*l.out = append(*l.out, re)
		}
	}
	return s, nil
}

// keep reports whether m is selected: its topic matches an --include
// expression (any, when none is given) and no --exclude one, one of its
// msg.mailgw.packages is a --package name (when any is given), and its
// msg.mail.auth.trusted is true (with --trusted-only).
func (s *tailSelect) keep(m bus.Message) bool {
	topic := m.Env.Topic
	if len(s.include) > 0 && !slices.ContainsFunc(s.include, func(re *regexp.Regexp) bool { return re.MatchString(topic) }) {
		return false
	}
	if slices.ContainsFunc(s.exclude, func(re *regexp.Regexp) bool { return re.MatchString(topic) }) {
		return false
	}
	if len(s.packages) > 0 && !slices.ContainsFunc(eventPackages(m.Env), func(p string) bool { return slices.Contains(s.packages, p) }) {
		return false
	}
	return !s.trustedOnly || isTrusted(m.Env.Msg)
}

// eventPackages returns msg.mailgw.packages.
func eventPackages(env *bus.Envelope) []string {
	mg, _ := env.Msg["mailgw"].(map[string]any)
	l, _ := mg["packages"].([]any)
	out := make([]string, 0, len(l))
	for _, p := range l {
		if s, ok := p.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// eventSummary returns msg.mailgw.summary, "" when the message has none
// (another publisher's).
func eventSummary(env *bus.Envelope) string {
	mg, _ := env.Msg["mailgw"].(map[string]any)
	s, _ := mg["summary"].(string)
	return s
}
