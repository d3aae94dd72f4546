package bus

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

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

func appendMapAny(b []byte, m map[string]any, d int) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	kb, bad := sortedKeys(m)
	defer putKeys(kb)
	if bad {
		return appendMapSlow(b, kb.s, func(k string) any { return m[k] }, d)
	}
	b = append(b, '{')
	for i, k := range kb.s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k], d+1); err != nil {
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
		return appendMapSlow(b, kb.s, func(k string) any { return m[k] }, 0)
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
func appendMapSlow(b []byte, keys []string, get func(string) any, d int) ([]byte, error) {
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
		if b, err = appendValue(b, get(e.orig), d+1); err != nil {
			return b, atKey(err, e.fixed)
		}
	}
	return append(b, '}'), nil
}
