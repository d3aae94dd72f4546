package auth

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
	"github.com/emersion/go-msgauth/dkim"
)

// MaxListed bounds the signatures of one mail listed in msg.mail.auth;
// those past max_signatures (and up to MaxListed) are listed with result
// permerror, "not checked".
const MaxListed = 64

// maxName bounds a listed domain or selector (a DNS name has at most 253
// bytes); a longer one is cut.
const maxName = 253

// sigField is one DKIM-Signature header field, read the way go-msgauth
// reads it, so that the i-th sigField is the i-th signature it verifies.
type sigField struct {
	domain, selector string
	// signed counts the header field names of h=, lower case.
	signed map[string]int
	// bad is set when the tags could not be read at all.
	bad bool
}

// header is what scanHeader found in a mail's header.
type header struct {
	sigs []sigField
	// names are the field names in order, as written.
	names []string
}

// scanHeader reads the header of raw like go-msgauth does (lines end in
// LF or CRLF; a line starting with a space or tab continues the field; a
// field's name is what precedes its first colon), keeping the field names
// and the DKIM-Signature fields (at most MaxListed).
func scanHeader(raw []byte) header {
	var h header
	var field []byte // the current field's first line
	var cont [][]byte
	flush := func() {
		if field == nil {
			return
		}
		k, v, _ := bytes.Cut(field, []byte(":"))
		name := string(bytes.TrimSpace(k))
		h.names = append(h.names, name)
		if strings.EqualFold(name, "DKIM-Signature") && len(h.sigs) < MaxListed {
			val := string(v)
			for _, c := range cont {
				val += "\r\n" + string(c)
			}
			h.sigs = append(h.sigs, parseSigField(val))
		}
		field, cont = nil, cont[:0]
	}
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		var l []byte
		if i < 0 {
			l, raw = raw, nil
		} else {
			l, raw = raw[:i], raw[i+1:]
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(l) == 0 {
			break
		}
		if field != nil && (l[0] == ' ' || l[0] == '\t') {
			cont = append(cont, l)
			continue
		}
		flush()
		field = l
	}
	flush()
	return h
}

// parseSigField reads the tags of a DKIM-Signature value that matter
// here (d=, s=, h=), tolerating anything: the verification itself judges
// the syntax.
func parseSigField(v string) sigField {
	f := sigField{signed: map[string]int{}}
	seen := 0
	for _, tag := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(tag, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "d":
			f.domain = clean(strings.ToLower(stripSpace(val)))
			seen++
		case "s":
			f.selector = clean(stripSpace(val))
			seen++
		case "h":
			for _, n := range strings.Split(val, ":") {
				f.signed[strings.ToLower(stripSpace(n))]++
			}
		}
	}
	f.bad = seen == 0
	return f
}

// covers reports whether the signature vouches for what the parsers read:
// Subject and From are signed, and no field it signs also occurs unsigned
// (DKIM signs a field's last occurrences; the parsers read the first, so
// an extra copy prepended above a signed mail would otherwise pass). Both
// views of the header count: go-msgauth's (h.names) and the parsers' (m).
func (f *sigField) covers(h *header, m *parsers.Message) bool {
	if f.signed["from"] == 0 || f.signed["subject"] == 0 {
		return false
	}
	for name, n := range f.signed {
		if traceFields[name] {
			continue
		}
		c1, c2 := 0, 0
		for _, k := range h.names {
			if len(k) == len(name) && strings.EqualFold(k, name) {
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
	opts := &dkim.VerifyOptions{LookupTXT: v.keys.lookupTXT, MaxVerifications: v.maxSigs}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Raw), opts)
	out := make([]Signature, len(h.sigs))
	for i := range h.sigs {
		f := &h.sigs[i]
		s := Signature{Domain: f.domain, Selector: f.selector}
		switch {
		case i < len(verifs):
			s.Result, s.Reason = result(verifs[i].Err)
			if s.Result == ResultPass && !f.covers(h, m) {
				s.Result, s.Reason = ResultPolicy, "a signed header field also occurs unsigned, or Subject is not signed"
			}
		case i >= v.maxSigs:
			s.Result, s.Reason = ResultPermError, "not checked: more than max_signatures signatures"
		case err != nil:
			s.Result, s.Reason = ResultPermError, err.Error()
		default:
			s.Result, s.Reason = ResultPermError, "not checked"
		}
		out[i] = s
	}
	return out
}

// result maps go-msgauth's verdict on one signature.
func result(err error) (string, string) {
	switch {
	case err == nil:
		return ResultPass, ""
	case dkim.IsTempFail(err):
		return ResultTempError, err.Error()
	case dkim.IsPermFail(err), errors.Is(err, dkim.ErrTooManySignatures):
		return ResultPermError, err.Error()
	}
	return ResultFail, err.Error()
}

func stripSpace(s string) string {
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
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
	if len(s) > maxName {
		i := maxName
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}
