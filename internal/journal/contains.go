package journal

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MsgContains reports whether the JSON text of the msg of the envelope
// body (canonical JSON, docs/wire.md) contains one of terms, case
// sensitively: the text as the body has it, but with every character
// outside ASCII as itself rather than a \u escape, so that "Jörg" finds
// "J\u00f6rg". Keys, strings and numbers of msg are all in its text, as
// in datagrepper's "contains".
func MsgContains(body []byte, terms []string) bool {
	text := MsgText(body)
	for _, t := range terms {
		if bytes.Contains(text, []byte(t)) {
			return true
		}
	}
	return false
}

// MsgText returns the JSON text of the msg of an envelope body with the
// \u escapes of characters outside ASCII decoded (MsgContains); nil when
// the body has no msg.
func MsgText(body []byte) []byte {
	var e struct {
		Msg json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	raw := []byte(e.Msg)
	if !bytes.Contains(raw, []byte(`\u`)) {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			out = append(out, c)
			continue
		}
		if raw[i+1] != 'u' {
			out = append(out, c, raw[i+1]) // \" \\ \n …: kept escaped
			i++
			continue
		}
		r, n := unicodeEscape(raw[i:])
		if n == 0 || r < utf8.RuneSelf {
			out = append(out, raw[i:i+6]...) // control characters stay escaped
			i += 5
			continue
		}
		out = utf8.AppendRune(out, r)
		i += n - 1
	}
	return out
}

// unicodeEscape decodes the \uXXXX escape (with its low surrogate, when it
// is a high one) at the start of b: the rune and the bytes it took, 0 for
// a malformed escape.
func unicodeEscape(b []byte) (rune, int) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex(b)
	if !ok {
		return 0, 0
	}
	if utf16.IsSurrogate(r) {
		if r2, ok := hex(b[6:]); ok {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12
			}
		}
		return utf8.RuneError, 6
	}
	return r, 6
}
