package parsers

import (
	"bytes"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// splitMultipart cuts a multipart body at the delimiter lines of
// boundary. It returns at most max parts (preamble and epilogue dropped),
// whether the closing delimiter was seen and whether any delimiter was.
// The line end before each delimiter belongs to the delimiter.
func splitMultipart(body []byte, boundary string, max int) (parts [][]byte, closed, found bool) {
	delim := []byte("--" + boundary)
	start := -1
	pos := 0
	for pos <= len(body) {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		after := i + len(delim)
		if i > 0 && body[i-1] != '\n' {
			pos = after
			continue
		}
		isClose := bytes.HasPrefix(body[after:], []byte("--"))
		eol := bytes.IndexByte(body[after:], '\n')
		lineEnd := len(body)
		if eol >= 0 {
			lineEnd = after + eol + 1
		}
		if !isClose && !isBlank(body[after:lineEnd]) {
			// A longer boundary that merely starts with ours.
			pos = after
			continue
		}
		found = true
		if start >= 0 {
			end := i
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			parts = append(parts, body[start:end])
			if len(parts) >= max {
				return parts, false, true
			}
		}
		if isClose {
			return parts, true, true
		}
		start = lineEnd
		pos = lineEnd
		if pos == len(body) {
			break
		}
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts, false, found
}

// parseContentType parses a Content-Type value leniently. A missing value
// means text/plain (message/rfc822 inside multipart/digest).
func parseContentType(v string, inDigest bool) (mt string, params map[string]string, defect string) {
	if strings.TrimSpace(v) == "" {
		if inDigest {
			return "message/rfc822", nil, ""
		}
		return "text/plain", nil, ""
	}
	mt, params, err := parseMediaType(v)
	if err != nil {
		mt, params = lenientMediaType(v)
		defect = "malformed Content-Type " + quoteShort(v) + " read leniently"
	}
	if mt == "" || strings.IndexByte(mt, '/') <= 0 {
		return "text/plain", params, "Content-Type " + quoteShort(v) + " has no media type; text/plain assumed"
	}
	return mt, params, defect
}

// lenientMediaType splits "type/sub; k=v; k2="v2"" without failing.
func lenientMediaType(v string) (string, map[string]string) {
	fields := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	params := map[string]string{}
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' {
			if j := strings.IndexByte(val[1:], '"'); j >= 0 {
				val = val[1 : j+1]
			} else {
				val = val[1:]
			}
		}
		if k != "" {
			if _, dup := params[k]; !dup {
				params[k] = val
			}
		}
	}
	return mt, params
}

// disposition returns the lower-cased disposition and the file name
// (Content-Disposition filename, else the Content-Type name parameter).
func disposition(cd string, ctParams map[string]string) (string, string) {
	var disp, name string
	if strings.TrimSpace(cd) != "" {
		d, p, err := parseMediaType(cd)
		if err != nil {
			d, p = lenientMediaType(cd)
		}
		disp, name = d, p["filename"]
	}
	if name == "" {
		name = ctParams["name"]
	}
	if strings.Contains(name, "=?") {
		name = DecodeHeader(name)
	}
	return disp, strings.ToValidUTF8(name, "\uFFFD")
}

// messageID extracts the first <id> of a Message-ID value, without the
// angle brackets; a value without brackets is taken whole (trimmed).
func messageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
		return strings.TrimSpace(v[i+1:])
	}
	return v
}

// parseDate parses an RFC 5322 date, also the obsolete forms seen in old
// archives (two-digit years, zone names, trailing comments, no weekday).
func parseDate(v string) (time.Time, bool) {
	if t, ok := fastDate(v); ok {
		return t, true
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t, true
	}
	s := v
	if i := strings.IndexByte(s, '('); i > 0 {
		s = s[:i]
	}
	s = strings.Join(strings.Fields(s), " ")
	if t, err := mail.ParseDate(s); err == nil {
		return t, true
	}
	for _, layout := range []string{
		"Mon, 2 Jan 2006 15:04:05 -0700 MST",
		"Mon, 2 Jan 2006 15:04 -0700",
		"2 Jan 2006 15:04:05 -0700",
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 MST 2006",
		"Mon, 2 Jan 06 15:04:05 MST",
		time.RFC3339,
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// crlfToLF turns CRLF line ends into LF.
func crlfToLF(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// boundText cuts s to at most n bytes at a rune boundary.
func boundText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
