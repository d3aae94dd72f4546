package parsers

import (
	"bytes"
	"strings"
)

// Header is a mail's header fields in order, values decoded.
type Header struct {
	Fields []Field
}

// Get returns the first value of the field named key (case-insensitive),
// or "".
func (h Header) Get(key string) string {
	for _, f := range h.Fields {
		if len(f.Key) == len(key) && strings.EqualFold(f.Key, key) { // field names are ASCII
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the field named key, in order.
func (h Header) Values(key string) []string {
	var vs []string
	for _, f := range h.Fields {
		if len(f.Key) == len(key) && strings.EqualFold(f.Key, key) { // field names are ASCII
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Has reports whether the header has a field named key.
func (h Header) Has(key string) bool {
	for _, f := range h.Fields {
		if len(f.Key) == len(key) && strings.EqualFold(f.Key, key) { // field names are ASCII
			return true
		}
	}
	return false
}

// MaxFields bounds the header fields kept per header block; the rest are
// dropped with a Defect.
const MaxFields = 1000

// maxKey bounds a field name; a longer "name" is not a header field.
const maxKey = 256

// rawField is one header field as found in the mail: the key and the
// value with its folding still in place (both sub-slices of the input).
type rawField struct {
	key, value []byte
}

// splitHeader reads the header block at the start of b, appending its
// fields to dst (callers pass a stack array's slice, so the usual header
// costs no allocation). It returns the fields, the body (what follows the blank line, or what follows the last
// header line when the header is cut short by a line that is no header
// field), and the defects found. The first line must be a header field for
// any field to be returned; a block that starts with a blank line has no
// fields and its body starts after that line.
func splitHeader(dst []rawField, b []byte, maxFields int) (fields []rawField, body []byte, defects []string) {
	pos := 0
	dropped := false // fields beyond maxFields are being skipped
	fields = dst[:0]
	for pos < len(b) {
		end := bytes.IndexByte(b[pos:], '\n')
		next := len(b)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(b)
		}
		line := b[pos:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			return fields, b[next:], defects
		}
		if line[0] == ' ' || line[0] == '\t' {
			if pos == 0 {
				return nil, b, append(defects, "header starts with a continuation line")
			}
			if !dropped && len(fields) > 0 {
				f := &fields[len(fields)-1]
				// The value runs on to the end of this line; it is a
				// contiguous sub-slice of b, folding included.
				start := cap(b) - cap(f.value)
				f.value = b[start:end]
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		var key []byte
		if colon > 0 {
			key = trimRightBlank(line[:colon])
		}
		if colon <= 0 || colon > maxKey || !validKey(key) {
			if pos == 0 {
				return nil, b, append(defects, "first line is not a header field")
			}
			return fields, b[pos:], append(defects, "header ends without a blank line (line is not a header field)")
		}
		switch {
		case len(fields) < maxFields:
			fields = append(fields, rawField{key: key, value: line[colon+1:]})
		case !dropped:
			dropped = true
			defects = append(defects, "more than "+itoa(maxFields)+" header fields; the rest dropped")
		}
		pos = next
	}
	return fields, nil, defects
}

// trimRightBlank removes trailing spaces and tabs.
func trimRightBlank(b []byte) []byte {
	j := len(b)
	for j > 0 && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return b[:j]
}

// validKey reports whether k is a non-empty RFC 5322 field name.
func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// unfold joins a folded raw value into one line: each physical line is
// trimmed of surrounding blanks and the lines are joined with one space.
// A value that is already one line is returned as a sub-slice.
func unfold(v []byte) []byte {
	if bytes.IndexByte(v, '\n') < 0 {
		return trimBlank(v)
	}
	return appendUnfolded(make([]byte, 0, len(v)), v)
}

// appendUnfolded appends v unfolded to dst.
func appendUnfolded(dst, v []byte) []byte {
	first := true
	for len(v) > 0 {
		i := bytes.IndexByte(v, '\n')
		var line []byte
		if i < 0 {
			line, v = v, nil
		} else {
			line, v = v[:i], v[i+1:]
		}
		line = trimBlank(line)
		if len(line) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, line...)
	}
	return dst
}

// appendUnfoldedTo is appendUnfolded writing into a strings.Builder.
func appendUnfoldedTo(sb *strings.Builder, v []byte) {
	first := true
	for len(v) > 0 {
		i := bytes.IndexByte(v, '\n')
		var line []byte
		if i < 0 {
			line, v = v, nil
		} else {
			line, v = v[:i], v[i+1:]
		}
		line = trimBlank(line)
		if len(line) == 0 {
			continue
		}
		if !first {
			sb.WriteByte(' ')
		}
		first = false
		sb.Write(line)
	}
}

// trimBlank removes spaces, tabs and CR on both ends.
func trimBlank(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\r') {
		j--
	}
	return b[i:j]
}

// itoa formats a small non-negative int without strconv's allocation
// for the common case.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// asciiEqualFold compares a field name with key, ignoring ASCII case.
func asciiEqualFold(b []byte, key string) bool {
	if len(b) != len(key) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, k := b[i], key[i]
		if c == k {
			continue
		}
		if l := c | 0x20; l != k|0x20 || l < 'a' || l > 'z' {
			return false
		}
	}
	return true
}
