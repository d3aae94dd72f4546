package auth

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
)

// MaxListed bounds the signatures of one mail listed in msg.mail.auth;
// those past max_signatures (and up to MaxListed) are listed with result
// permerror, "not checked".
const MaxListed = 64

// maxName bounds a listed domain or selector (a DNS name has at most 253
// bytes); a longer one is cut.
const maxName = 253

// hfield is one header field as written.
type hfield struct {
	// name is what precedes the field's first colon, without surrounding
	// white space.
	name []byte
	// raw is the whole field, its continuation lines included, each line
	// with its line end (LF or CRLF) as in the mail.
	raw []byte
}

// sigField is one DKIM-Signature header field and its tags.
type sigField struct {
	// field is the index of the field in header.fields.
	field int
	tags  sigTags
	// domain and selector are d= and s= as listed (cleaned, d= lower
	// case).
	domain, selector string
	// signed lists the header field names of h=, lower case.
	signed []string
}

// header is a mail's header as DKIM reads it, and its body.
type header struct {
	fields []hfield
	// sigs are the DKIM-Signature fields, at most MaxListed.
	sigs []sigField
	// body is what follows the empty line that ends the header (empty
	// when there is none).
	body []byte
}

// scanHeader reads the header of raw (lines end in LF or CRLF; a line
// starting with a space or tab continues the field; a field's name is
// what precedes its first colon), keeping every field as a view of raw
// and reading the tags of the DKIM-Signature fields (at most MaxListed).
func scanHeader(raw []byte) header {
	h := header{fields: make([]hfield, 0, 32)}
	start := -1 // the current field's first byte
	flush := func(end int) {
		if start < 0 {
			return
		}
		f := raw[start:end]
		k, _, _ := bytes.Cut(f, []byte(":"))
		h.fields = append(h.fields, hfield{name: bytes.TrimSpace(k), raw: f})
		start = -1
	}
	pos := 0
	for pos < len(raw) {
		next := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		l := bytes.TrimSuffix(bytes.TrimSuffix(raw[pos:next], []byte("\n")), []byte("\r"))
		if len(l) == 0 {
			flush(pos)
			h.body = raw[next:]
			break
		}
		if start < 0 || (l[0] != ' ' && l[0] != '\t') {
			flush(pos)
			start = pos
		}
		pos = next
	}
	if start >= 0 {
		flush(len(raw))
	}
	for i := range h.fields {
		if len(h.sigs) == MaxListed {
			break
		}
		if f := &h.fields[i]; bytes.EqualFold(f.name, []byte("DKIM-Signature")) {
			_, v, _ := bytes.Cut(f.raw, []byte(":"))
			h.sigs = append(h.sigs, newSigField(i, string(v)))
		}
	}
	return h
}

// newSigField reads the tags of the DKIM-Signature field i with value v,
// tolerating anything: the verification judges the syntax.
func newSigField(i int, v string) sigField {
	f := sigField{field: i}
	f.tags.parse(v)
	f.domain = clean(strings.ToLower(stripSpace(f.tags.d)))
	f.selector = clean(stripSpace(f.tags.s))
	if f.tags.has(tagH) {
		for n := range strings.SplitSeq(f.tags.h, ":") {
			f.signed = append(f.signed, strings.ToLower(stripSpace(n)))
		}
	}
	return f
}

// covers reports whether the signature vouches for what the parsers read:
// Subject and From are signed, and no field it signs also occurs unsigned
// (DKIM signs a field's last occurrences; the parsers read the first, so
// an extra copy prepended above a signed mail would otherwise pass). Both
// views of the header count: the verification's (h.fields) and the
// parsers' (m).
func (f *sigField) covers(h *header, m *parsers.Message) bool {
	if f.count("from") == 0 || f.count("subject") == 0 {
		return false
	}
	for i, name := range f.signed {
		if traceFields[name] || f.index(name) < i {
			continue // counted at its first mention
		}
		n := f.count(name)
		c1, c2 := 0, 0
		for _, fl := range h.fields {
			if len(fl.name) == len(name) && bytes.EqualFold(fl.name, []byte(name)) {
				c1++
			}
		}
		for _, fl := range m.Header.Fields {
			if len(fl.Key) == len(name) && strings.EqualFold(fl.Key, name) {
				c2++
			}
		}
		if c1 > n || c2 > n {
			return false
		}
	}
	return true
}

// count is how many times h= names name.
func (f *sigField) count(name string) int {
	n := 0
	for _, s := range f.signed {
		if s == name {
			n++
		}
	}
	return n
}

// index is the position of name's first mention in h=.
func (f *sigField) index(name string) int {
	for i, s := range f.signed {
		if s == name {
			return i
		}
	}
	return -1
}

// traceFields are added to a mail on its way (RFC 5321 trace fields,
// signatures and verification results, delivery headers): more copies
// below a signed one are normal, and no event is made from them.
var traceFields = map[string]bool{
	"received": true, "return-path": true, "dkim-signature": true, "authentication-results": true,
	"arc-seal": true, "arc-message-signature": true, "arc-authentication-results": true,
	"delivered-to": true, "x-original-to": true,
}

// verifyDKIM checks the signatures of m (at most maxSigs; the others up
// to MaxListed are listed as not checked) and returns one Signature per
// listed field.
func (v *Verifier) verifyDKIM(m *parsers.Message, h *header) []Signature {
	out := make([]Signature, len(h.sigs))
	var bodies bodyHashes
	for i := range h.sigs {
		f := &h.sigs[i]
		s := Signature{Domain: f.domain, Selector: f.selector}
		if i >= v.maxSigs {
			s.Result, s.Reason = ResultPermError, "not checked: more than max_signatures signatures"
		} else {
			s.Result, s.Reason = v.verifySig(h, f, &bodies)
			if s.Result == ResultPass && !f.covers(h, m) {
				s.Result, s.Reason = ResultPolicy, "a signed header field also occurs unsigned, or Subject is not signed"
			}
		}
		out[i] = s
	}
	return out
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// clean bounds a name taken from a signature for the payload: valid
// UTF-8 with control characters replaced by '?', at most maxName bytes.
func clean(s string) string {
	if !plain(s) {
		s = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f || r == utf8.RuneError {
				return '?'
			}
			return r
		}, s)
	}
	if len(s) > maxName {
		i := maxName
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// plain reports whether s is printable ASCII, which clean keeps as it is.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
