package bus

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// pair is one map entry; a map is encoded from its entries sorted by key,
// which spares a lookup per key.
type pair[V any] struct {
	k string
	v V
}

// pairBuf is a reusable slice of entries; pooling it saves an allocation
// per map on the hot path.
type pairBuf[V any] struct{ s []pair[V] }

var (
	anyPairs    = sync.Pool{New: func() any { return new(pairBuf[any]) }}
	stringPairs = sync.Pool{New: func() any { return new(pairBuf[string]) }}
)

// sortedPairs fills a pooled buffer from pool with m's entries in code
// point order of their keys (give it back with putPairs).
func sortedPairs[V any](pool *sync.Pool, m map[string]V) *pairBuf[V] {
	pb := pool.Get().(*pairBuf[V])
	ps := pb.s[:0]
	for k, v := range m {
		ps = append(ps, pair[V]{k, v})
	}
	sortPairs(ps)
	pb.s = ps
	return pb
}

func putPairs[V any](pool *sync.Pool, pb *pairBuf[V]) {
	clear(pb.s)
	pb.s = pb.s[:0]
	pool.Put(pb)
}

// sortPairs sorts entries by key (keys are distinct): an insertion sort
// for the small maps of event payloads, which compares first bytes
// before calling into the runtime.
func sortPairs[V any](ps []pair[V]) {
	if len(ps) > 16 {
		slices.SortFunc(ps, func(a, b pair[V]) int { return strings.Compare(a.k, b.k) })
		return
	}
	for i := 1; i < len(ps); i++ {
		e := ps[i]
		j := i
		for j > 0 && keyLess(e.k, ps[j-1].k) {
			ps[j] = ps[j-1]
			j--
		}
		ps[j] = e
	}
}

// keyLess is a < b, deciding on the first byte when it differs.
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// appendKey writes an object key, or reports false (writing nothing) for
// a key that is not valid UTF-8, which needs the slow path.
func appendKey(b []byte, k string) ([]byte, bool) {
	for i := 0; i < len(k); i++ {
		if !asciiSafe[k[i]] {
			if k[i] >= utf8.RuneSelf && !utf8.ValidString(k[i:]) {
				return b, false
			}
			return appendString(b, k), true
		}
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"'), true
}

// validKeys reports whether every key of ps is valid UTF-8.
func validKeys[V any](ps []pair[V]) bool {
	for _, p := range ps {
		if !utf8.ValidString(p.k) {
			return false
		}
	}
	return true
}

func appendMapAny(b []byte, m map[string]any, d int) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	pb := sortedPairs[any](&anyPairs, m)
	defer putPairs(&anyPairs, pb)
	out, ok, err := appendPairsAny(b, pb.s, d)
	if !ok || (err != nil && !validKeys(pb.s)) {
		// A key is invalid UTF-8: start again on the slow path (an
		// error found before that key is the slow path's to report).
		return appendMapSlow(b, pb.s, d)
	}
	return out, err
}

// appendPairsAny writes the object of sorted entries ps; ok is false when
// it stopped at a key that is invalid UTF-8.
func appendPairsAny(b []byte, ps []pair[any], d int) (out []byte, ok bool, err error) {
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendKey(b, p.k); !ok {
			return b, false, nil
		}
		b = append(b, ':')
		if b, err = appendValue(b, p.v, d+1); err != nil {
			return b, true, atKey(err, p.k)
		}
	}
	return append(b, '}'), true, nil
}

func appendMapString(b []byte, m map[string]string) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	pb := sortedPairs[string](&stringPairs, m)
	defer putPairs(&stringPairs, pb)
	start := len(b)
	b = append(b, '{')
	for i, p := range pb.s {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendKey(b, p.k); !ok {
			ps := make([]pair[any], len(pb.s))
			for i, p := range pb.s {
				ps[i] = pair[any]{p.k, p.v}
			}
			return appendMapSlow(b[:start], ps, 0)
		}
		b = append(b, ':')
		b = appendString(b, p.v)
	}
	return append(b, '}'), nil
}

// appendMapSlow handles maps with invalid UTF-8 keys: keys are repaired
// first, then sorted, and collisions are refused. ps is sorted by the
// original keys.
func appendMapSlow(b []byte, ps []pair[any], d int) ([]byte, error) {
	type kv struct {
		fixed string
		v     any
	}
	fixed := make([]kv, len(ps))
	for i, p := range ps {
		fixed[i] = kv{fixUTF8(p.k), p.v}
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
		if b, err = appendValue(b, e.v, d+1); err != nil {
			return b, atKey(err, e.fixed)
		}
	}
	return append(b, '}'), nil
}
