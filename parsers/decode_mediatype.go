package parsers

import (
	"mime"
	"strings"
)

// parseMediaType is mime.ParseMediaType with a fast path for the values
// nearly every mail carries ("text/plain; charset=utf-8",
// `multipart/signed; boundary="…"; protocol="…"`): plain ASCII, tokens and
// quoted strings without escapes, no RFC 2231 parameters, no duplicates.
// Those are read with no allocation beyond the map (quoted values are
// sub-strings of v, where mime copies them byte by byte). Anything else is
// handed to mime.ParseMediaType, so the results are always the same.
func parseMediaType(v string) (string, map[string]string, error) {
	if mt, params, ok := fastMediaType(v); ok {
		return mt, params, nil
	}
	return mime.ParseMediaType(v)
}

// fastMediaType parses the simple forms; ok is false for anything it does
// not handle, errors included.
func fastMediaType(v string) (mt string, params map[string]string, ok bool) {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return "", nil, false // Unicode spaces and case: mime's job
		}
	}
	base, rest, semi := strings.Cut(v, ";")
	base = trimASCIISpace(base)
	typ, after := consumeToken(base)
	if typ == "" {
		return "", nil, false
	}
	if after != "" {
		if after[0] != '/' {
			return "", nil, false
		}
		sub, end := consumeToken(after[1:])
		if sub == "" || end != "" {
			return "", nil, false
		}
	}
	mt = strings.ToLower(base)
	params = make(map[string]string)
	if !semi {
		return mt, params, true
	}
	// rest follows the first ";": parameters "key=value" separated by ";",
	// a trailing ";" allowed.
	for {
		rest = trimASCIISpace(rest)
		if rest == "" {
			return mt, params, true
		}
		key, r := consumeToken(rest)
		if key == "" || strings.IndexByte(key, '*') >= 0 {
			return "", nil, false
		}
		key = strings.ToLower(key)
		r = trimASCIISpace(r)
		if r == "" || r[0] != '=' {
			return "", nil, false
		}
		r = trimASCIISpace(r[1:])
		var val string
		switch {
		case r == "":
			return "", nil, false
		case r[0] == '"':
			end := strings.IndexAny(r[1:], "\"\\\r\n")
			if end < 0 || r[1+end] != '"' {
				return "", nil, false
			}
			val, r = r[1:1+end], r[2+end:]
		default:
			val, r = consumeToken(r)
			if val == "" {
				return "", nil, false
			}
		}
		if _, dup := params[key]; dup {
			return "", nil, false
		}
		params[key] = val
		r = trimASCIISpace(r)
		if r == "" {
			return mt, params, true
		}
		if r[0] != ';' {
			return "", nil, false
		}
		rest = r[1:]
	}
}

// consumeToken splits v after its leading RFC 2045 token.
func consumeToken(v string) (token, rest string) {
	for i := 0; i < len(v); i++ {
		if !tokenChar[v[i]] {
			return v[:i], v[i:]
		}
	}
	return v, ""
}

// tokenChar marks the bytes of an RFC 2045 token: printable ASCII except
// space and tspecials.
var tokenChar = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
	}
	return t
}()

// trimASCIISpace removes ASCII white space (as unicode.IsSpace sees it)
// on both ends.
func trimASCIISpace(s string) string {
	i, j := 0, len(s)
	for i < j && asciiSpace(s[i]) {
		i++
	}
	for j > i && asciiSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
