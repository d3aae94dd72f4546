package auth

import (
	"strings"

	"github.com/debian/mailgw/parsers"
	"github.com/emersion/go-msgauth/authres"
)

// maxAuthResults bounds the Authentication-Results fields read per mail.
const maxAuthResults = 32

// authResultsPass returns the DKIM domains that an Authentication-Results
// field of a trusted verifier (trusted_authserv_ids) reports as pass, in
// order. Fields of any other authserv-id are ignored: anyone can write
// such a field into a mail, and RFC 8601 section 5 has the site's border
// MTA remove copies that claim its own id.
func (v *Verifier) authResultsPass(m *parsers.Message) []string {
	if len(v.authserv) == 0 {
		return nil
	}
	var out []string
	n := 0
	for _, f := range m.Header.Fields {
		if !strings.EqualFold(f.Key, "Authentication-Results") {
			continue
		}
		if n++; n > maxAuthResults {
			break
		}
		id, results, err := ParseAuthResults(f.Value)
		if err != nil || !v.authserv[strings.ToLower(id)] {
			continue
		}
		for _, r := range results {
			if d, ok := r.(*authres.DKIMResult); ok && d.Value == authres.ResultPass && d.Domain != "" {
				out = append(out, strings.ToLower(d.Domain))
			}
		}
	}
	return out
}

// ParseAuthResults parses an Authentication-Results field value (RFC
// 8601): the authserv-id and the results. Comments, which real verifiers
// put anywhere ("dkim=pass (2048-bit key; unprotected) header.d=…"), are
// removed first; go-msgauth's authres parses the rest.
func ParseAuthResults(v string) (string, []authres.Result, error) {
	return authres.Parse(stripComments(v))
}

// stripComments removes RFC 5322 comments (nested parentheses, with
// backslash escapes) outside quoted strings, replacing each by a space.
// An unclosed comment runs to the end.
func stripComments(s string) string {
	if !strings.ContainsRune(s, '(') {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (depth > 0 || quoted):
			if depth == 0 {
				b.WriteByte(c)
				if i+1 < len(s) {
					b.WriteByte(s[i+1])
				}
			}
			i++
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '(':
			if depth == 0 {
				b.WriteByte(' ')
			}
			depth++
		case depth > 0:
			if c == ')' {
				depth--
			}
		case c == '"':
			quoted = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
