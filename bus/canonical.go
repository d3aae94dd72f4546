package bus

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// CanonicalError is returned by Canonical for a value that has no canonical
// form (a float, an unsupported type, a non-string map key). Path locates
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

// ErrFloat is the Reason of a CanonicalError for a floating-point value.
const ErrFloat = "float not allowed"

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
	}
	return err
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
// Floats (float32, float64, and json.Number values that are not integers)
// are refused with a *CanonicalError naming their path. Invalid UTF-8 in
// strings and keys is replaced by U+FFFD (written \ufffd), as Go's
// encoding/json does; keys that collide after that replacement are an
// error. Besides the common map, slice and scalar types, values are
// encoded through reflection (structs with json tags, other slices and maps
// with string keys, pointers); json.Marshaler values are encoded from their
// MarshalJSON output.
func Canonical(v any) ([]byte, error) {
	return AppendCanonical(make([]byte, 0, 512), v)
}

// AppendCanonical appends the canonical JSON of v to dst (see Canonical).
// On error it returns dst unchanged, with the error.
func AppendCanonical(dst []byte, v any) ([]byte, error) {
	out, err := appendValue(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendValue(b []byte, v any) ([]byte, error) {
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
		return appendMapAny(b, x)
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
			if b, err = appendValue(b, e); err != nil {
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
			if b, err = appendMapAny(b, e); err != nil {
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
	case float64, float32:
		return b, &CanonicalError{Reason: ErrFloat}
	}
	return appendReflect(b, v)
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

// appendNumber writes an integer json.Number the way Python writes the int
// it parses to (so "-0" becomes "0"); anything else is refused.
func appendNumber(b []byte, n json.Number) ([]byte, error) {
	s := string(n)
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return b, &CanonicalError{Reason: "invalid number " + strconv.Quote(s)}
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c == '.' || c == 'e' || c == 'E' {
			return b, &CanonicalError{Reason: ErrFloat}
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

// keyBuf is a reusable slice for sorting a map's keys; pooling it saves
// an allocation per map on the hot path.
type keyBuf struct{ s []string }

var keyPool = sync.Pool{New: func() any { return new(keyBuf) }}

// sortedKeys returns m's keys in code point order in a pooled buffer (give
// it back with putKeys), and whether any key is invalid UTF-8 (and so
// needs the slow path).
func sortedKeys[V any](m map[string]V) (*keyBuf, bool) {
	kb := keyPool.Get().(*keyBuf)
	keys := kb.s[:0]
	bad := false
	for k := range m {
		keys = append(keys, k)
		if !bad && !utf8.ValidString(k) {
			bad = true
		}
	}
	slices.Sort(keys)
	kb.s = keys
	return kb, bad
}

func putKeys(kb *keyBuf) {
	clear(kb.s)
	kb.s = kb.s[:0]
	keyPool.Put(kb)
}

func appendMapAny(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	kb, bad := sortedKeys(m)
	defer putKeys(kb)
	if bad {
		return appendMapSlow(b, kb.s, func(k string) any { return m[k] })
	}
	b = append(b, '{')
	for i, k := range kb.s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return b, atKey(err, k)
		}
	}
	return append(b, '}'), nil
}

func appendMapString(b []byte, m map[string]string) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	kb, bad := sortedKeys(m)
	defer putKeys(kb)
	if bad {
		return appendMapSlow(b, kb.s, func(k string) any { return m[k] })
	}
	b = append(b, '{')
	for i, k := range kb.s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}'), nil
}

// appendMapSlow handles maps with invalid UTF-8 keys: keys are repaired
// first, then sorted, and collisions are refused.
func appendMapSlow(b []byte, keys []string, get func(string) any) ([]byte, error) {
	type kv struct{ fixed, orig string }
	fixed := make([]kv, len(keys))
	for i, k := range keys {
		fixed[i] = kv{fixUTF8(k), k}
	}
	slices.SortFunc(fixed, func(a, c kv) int { return strings.Compare(a.fixed, c.fixed) })
	b = append(b, '{')
	for i, e := range fixed {
		if i > 0 {
			if fixed[i-1].fixed == e.fixed {
				return b, &CanonicalError{Path: e.fixed, Reason: "duplicate key after replacing invalid UTF-8"}
			}
			b = append(b, ',')
		}
		b = appendString(b, e.fixed)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, get(e.orig)); err != nil {
			return b, atKey(err, e.fixed)
		}
	}
	return append(b, '}'), nil
}
