package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// CanonicalError is returned by Canonical for a value that has no canonical
// form (a NaN or an infinity, an unsupported type, a non-string map key). Path locates
// the value, e.g. "msg.files[2].size"; it is empty for the top-level value.
type CanonicalError struct {
	Path   string
	Reason string
}

// Error returns "path: reason", or the reason alone at the top level.
func (e *CanonicalError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// atKey prefixes err's path with the object key k.
func atKey(err error, k string) error {
	var ce *CanonicalError
	if errors.As(err, &ce) {
		switch {
		case ce.Path == "":
			ce.Path = k
		case ce.Path[0] == '[':
			ce.Path = k + ce.Path
		default:
			ce.Path = k + "." + ce.Path
		}
		ce.Path = clipPath(ce.Path)
	}
	return err
}

// maxPath bounds the error path of a deep (or cyclic) value; the outer
// part is kept.
const maxPath = 512

func clipPath(p string) string {
	if len(p) <= maxPath {
		return p
	}
	return strings.ToValidUTF8(p[:maxPath-3], "") + "..."
}

// atIndex prefixes err's path with the array index i.
func atIndex(err error, i int) error {
	var ce *CanonicalError
	if errors.As(err, &ce) {
		idx := "[" + strconv.Itoa(i) + "]"
		switch {
		case ce.Path == "" || ce.Path[0] == '[':
			ce.Path = idx + ce.Path
		default:
			ce.Path = idx + "." + ce.Path
		}
		ce.Path = clipPath(ce.Path)
	}
	return err
}

// Canonical returns v as fedmsg's canonical JSON: exactly the bytes of
// Python's json.dumps(v, sort_keys=True, separators=(',', ':')) with its
// default ensure_ascii=True. Keys are sorted by code point, every non-ASCII
// character is written as a lowercase \uXXXX escape (a surrogate pair above
// the BMP), '"', '\\', \n, \r, \t, \b and \f use short escapes, other
// control characters and DEL are \u00XX, and '/', '<', '>' and '&' are left
// alone. The output is pure ASCII.
//
// Floats (float32, float64, and json.Number values with a fraction or an
// exponent) are written as Python's repr writes the double (appendFloat:
// 0.1, 1e-05, 1e+16, 100000000.0, -0.0); NaN and infinities, which have no
// JSON form, are refused with a *CanonicalError naming their path. Integer
// json.Numbers of any size are written as Python writes the int it reads
// from them. Invalid UTF-8 in
// strings and keys is replaced by U+FFFD (written \ufffd), as Go's
// encoding/json does; keys that collide after that replacement are an
// error. Besides the common map, slice and scalar types, values are
// encoded through reflection (structs with json tags, other slices and maps
// with string keys, pointers); json.Marshaler values are encoded from their
// MarshalJSON output.
func Canonical(v any) ([]byte, error) {
	// Encoded into a pooled buffer, then copied once at its exact size:
	// cheaper than growing a fresh buffer from a guess.
	bp := bufPool.Get().(*[]byte)
	defer putBuf(bp)
	b, err := AppendCanonical((*bp)[:0], v)
	*bp = b[:0]
	if err != nil {
		return []byte{}, err
	}
	return bytes.Clone(b), nil
}

// AppendCanonical appends the canonical JSON of v to dst (see Canonical).
// On error it returns dst unchanged, with the error.
func AppendCanonical(dst []byte, v any) ([]byte, error) {
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// selfAppender is a value that encodes itself canonically, given the
// encoders for its keys and values: parsers.Object and parsers.Objects, the small
// objects of fixed shape of the payloads, whose members come in order
// (bus does not import parsers). An error it returns that is not a
// *CanonicalError is made one.
type selfAppender interface {
	AppendCanonical(b []byte, d int, key func([]byte, string) []byte, value func([]byte, any, int) ([]byte, error)) ([]byte, error)
}

// maxDepth bounds nesting, so that a cyclic Go value is an error rather
// than a stack overflow (encoding/json's decoder stops at 10000 levels).
const maxDepth = 10000

func appendValue(b []byte, v any, d int) ([]byte, error) {
	if d > maxDepth {
		return b, &CanonicalError{Reason: "nested too deeply (a cycle?)"}
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case map[string]any:
		return appendMapAny(b, x, d)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, d+1); err != nil {
				return b, atIndex(err, i)
			}
		}
		return append(b, ']'), nil
	case map[string]string:
		return appendMapString(b, x)
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']'), nil
	case []map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendMapAny(b, e, d+1); err != nil {
				return b, atIndex(err, i)
			}
		}
		return append(b, ']'), nil
	case []int:
		return appendInts(b, x), nil
	case []int64:
		return appendInts(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case json.Number:
		return appendNumber(b, x)
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case *Envelope:
		if x == nil {
			return append(b, "null"...), nil
		}
		return x.appendBody(b, nil)
	case selfAppender:
		out, err := x.AppendCanonical(b, d, appendString, appendValue)
		if err != nil {
			var ce *CanonicalError
			if !errors.As(err, &ce) {
				err = &CanonicalError{Reason: err.Error()}
			}
		}
		return out, err
	}
	return appendReflect(b, v, d)
}

func appendInts[T int | int64](b []byte, x []T) []byte {
	if x == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(e), 10)
	}
	return append(b, ']')
}

// appendNumber writes a json.Number the way Python writes what its
// json.loads makes of it: an integer as the int (so "-0" becomes "0"), a
// number with a fraction or an exponent as the float (appendFloatNumber);
// anything that is not a JSON number is refused.
func appendNumber(b []byte, n json.Number) ([]byte, error) {
	s := string(n)
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return b, &CanonicalError{Reason: "invalid number " + strconv.Quote(s)}
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c == '.' || c == 'e' || c == 'E' {
			return appendFloatNumber(b, s)
		}
		if c < '0' || c > '9' {
			return b, &CanonicalError{Reason: "invalid number " + strconv.Quote(s)}
		}
	}
	trimmed := strings.TrimLeft(digits, "0")
	if trimmed == "" {
		return append(b, '0'), nil
	}
	if len(s) > len(digits) {
		b = append(b, '-')
	}
	return append(b, trimmed...), nil
}
