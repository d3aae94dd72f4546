package parsers

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// DecodeTransfer undoes a Content-Transfer-Encoding (the header's value:
// base64, quoted-printable or an identity encoding), producing at most
// limit bytes. Identity encodings return a sub-slice of body (no copy).
// Malformed input is decoded leniently: invalid base64 characters are
// skipped and a stray "=" in quoted-printable is kept as it is. cut reports
// that the output was bounded; defect names an encoding that was not
// understood ("" otherwise).
func DecodeTransfer(cte string, body []byte, limit int) (out []byte, cut bool, defect string) {
	switch strings.ToLower(cte) {
	case "", "7bit", "8bit", "binary":
	case "base64":
		out, cut = decodeBase64(body, limit)
		return out, cut, ""
	case "quoted-printable":
		out, cut = decodeQP(body, limit)
		return out, cut, ""
	default:
		defect = "unknown Content-Transfer-Encoding " + quoteShort(cte) + "; body taken as is"
	}
	if len(body) > limit {
		return body[:limit], true, defect
	}
	return body, false, defect
}

// b64 maps a base64 alphabet byte to its value plus one (0: not base64).
var b64 = func() (t [256]byte) {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i + 1)
	}
	return t
}()

// decodeBase64 decodes base64 leniently: line breaks and any other byte
// outside the alphabet are skipped, "=" padding ends a group, and a
// trailing partial group is dropped.
func decodeBase64(body []byte, limit int) ([]byte, bool) {
	// Fast path: well-formed lines of standard base64.
	n := base64.StdEncoding.DecodedLen(len(body))
	if n > limit {
		n = limit + 3
	}
	out := make([]byte, 0, n)
	var acc uint32
	k := 0
	for _, c := range body {
		v := b64[c]
		if v == 0 {
			if c == '=' && k > 0 {
				// Padding: flush the partial group.
				switch k {
				case 2:
					out = append(out, byte(acc>>4))
				case 3:
					out = append(out, byte(acc>>10), byte(acc>>2))
				}
				acc, k = 0, 0
			}
			continue
		}
		acc = acc<<6 | uint32(v-1)
		k++
		if k == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, k = 0, 0
			if len(out) >= limit {
				return out[:limit], true
			}
		}
	}
	switch k {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// unhex returns the value of a hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

// decodeQP decodes quoted-printable leniently: "=XX" is a byte, "=" at
// the end of a line (trailing blanks allowed) is a soft line break, and any
// other "=" is kept literally.
func decodeQP(body []byte, limit int) ([]byte, bool) {
	n := len(body)
	if n > limit {
		n = limit
	}
	out := make([]byte, 0, n)
	for i := 0; i < len(body); i++ {
		if len(out) >= limit {
			return out[:limit], true
		}
		c := body[i]
		if c != '=' {
			// Copy the run up to the next "=" in one go.
			j := bytes.IndexByte(body[i:], '=')
			if j < 0 {
				j = len(body) - i
			}
			if room := limit - len(out); j > room {
				j = room
			}
			out = append(out, body[i:i+j]...)
			i += j - 1
			continue
		}
		if i+2 < len(body) && unhex(body[i+1]) >= 0 && unhex(body[i+2]) >= 0 {
			out = append(out, byte(unhex(body[i+1])<<4|unhex(body[i+2])))
			i += 2
			continue
		}
		// Soft line break: "=" then optional blanks then CRLF or LF.
		j := i + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\t') {
			j++
		}
		if j < len(body) && body[j] == '\r' {
			j++
		}
		if j < len(body) && body[j] == '\n' {
			i = j
			continue
		}
		if j == len(body) {
			break
		}
		out = append(out, c)
	}
	return out, false
}
