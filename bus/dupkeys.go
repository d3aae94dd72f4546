package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Duplicate keys. JSON leaves an object with the same key twice
// undefined (RFC 8259 4), and decoders disagree on it: Go's and Python's
// keep the last copy, others the first. A signed envelope with two "msg"
// keys (or two keys anywhere inside) could then be verified over one copy
// and acted on through the other, so mailgw refuses such JSON wherever it
// reads envelopes or requests (verify, tail, gap filling, the replay
// endpoint), as I-JSON (RFC 7493 2.3) requires.

// hasDuplicateKeys reports whether the JSON text data, already decoded
// into v (maps, slices, scalars), had a key twice in one object: decoding
// keeps one copy, so v then has fewer keys than data has. In valid JSON a
// ':' outside strings follows a key and nothing else, so counting them is
// counting keys; this costs a byte loop instead of a second decode
// (CheckDuplicateKeys, run only to name the key, took twice as long as
// ParseEnvelope itself with json.Decoder.Token).
func hasDuplicateKeys(data []byte, v any) bool {
	n, in := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if in {
			if c == '\\' {
				i++
			} else if c == '"' {
				in = false
			}
			continue
		}
		if c == '"' {
			in = true
		} else if c == ':' {
			n++
		}
	}
	return n != countKeys(v)
}

// countKeys counts the keys of every object in a decoded JSON value.
func countKeys(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		n = len(x)
		for _, e := range x {
			n += countKeys(e)
		}
	case []any:
		for _, e := range x {
			n += countKeys(e)
		}
	}
	return n
}

// CheckDuplicateKeys returns an error naming the first key that appears
// twice in one object of the JSON text data, at any depth ("msg.mail"),
// or nil. data must be valid JSON (it is decoded anyway).
func CheckDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dupKeys(dec, "")
}

// dupKeys walks one value from dec.
func dupKeys(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			at := key
			if path != "" {
				at = path + "." + key
			}
			if seen[key] {
				return fmt.Errorf("duplicate key %q", at)
			}
			seen[key] = true
			if err := dupKeys(dec, at); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := dupKeys(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}
