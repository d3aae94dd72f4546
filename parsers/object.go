package parsers

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Member is one member of an Object.
type Member struct {
	Key   string
	Value any
}

// Object is a JSON object whose members come in canonical order: keys
// sorted by their bytes (which is code point order, the order of
// fedmsg's sort_keys), each key once. The parsers build the many small
// objects of a fixed shape in their payloads (the files and checksums of
// an upload, the actions of a control transcript) as Objects instead of
// maps: one allocation each and no sorting when encoded, which took 3 %
// off a signed replay's CPU time (docs/benchmarks.md). An Object
// encodes exactly like the map with the same members, with bus's
// canonical encoder (AppendCanonical) and with encoding/json
// (MarshalJSON).
type Object []Member

// Objects is a JSON array of Objects; nil encodes as null.
type Objects []Object

// Get returns the value of key, nil when o has no such member.
func (o Object) Get(key string) any {
	for _, m := range o {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// AppendCanonical appends o as a JSON object to b, encoding each key with
// key and each value with value (bus's canonical encoder passes its own;
// d is the nesting depth it tracks). It fails when the keys are not in
// canonical order.
func (o Object) AppendCanonical(b []byte, d int, key func([]byte, string) []byte, value func([]byte, any, int) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	var err error
	for i, m := range o {
		if i > 0 {
			if m.Key <= o[i-1].Key {
				return b, fmt.Errorf("object key %q after %q: keys not in canonical order", m.Key, o[i-1].Key)
			}
			b = append(b, ',')
		}
		b = append(key(b, m.Key), ':')
		if b, err = value(b, m.Value, d+1); err != nil {
			return b, fmt.Errorf("%s: %w", m.Key, err)
		}
	}
	return append(b, '}'), nil
}

// AppendCanonical appends l as a JSON array of objects (see
// Object.AppendCanonical).
func (l Objects) AppendCanonical(b []byte, d int, key func([]byte, string) []byte, value func([]byte, any, int) ([]byte, error)) ([]byte, error) {
	if l == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, o := range l {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = o.AppendCanonical(b, d+1, key, value); err != nil {
			return b, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return append(b, ']'), nil
}

// MarshalJSON encodes o as a JSON object with its members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(m.Key); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(m.Value); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
