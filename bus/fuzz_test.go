package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzCanonical feeds arbitrary bytes to Canonical twice: as a string
// value and map key, and, when the bytes are JSON, as the parsed value
// (a number beyond a double's range is the only error). The output must be ASCII, parse back (encoding/json) to
// the input (strings repaired to valid UTF-8, integers equal), and be a
// fixed point of Canonical. Seeds: f.Add below and testdata/fuzz.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		``, `"é😀\u007f\u001f\n\t\"\\/<>&\u2028"`, `{"b":1,"B":2,"a":3,"é":4,"z":5,"_":6,"1":7}`,
		`[1,-0,18446744073709551616,true,null,{"":[]}]`, "\xff\xfe", "a\x00b", `{"a":{"b":[{"c":"\ud83d\ude00"}]}}`,
		`{"\uffff":1,"\ud800\udc00":2}`, `1.5`, `{"n":1e3}`, "\U0010ffff\u2029",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		checkRoundTrip(t, map[string]any{s: s, "k": []any{s}}, map[string]any{fixUTF8(s): fixUTF8(s), "k": []any{fixUTF8(s)}})
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		if _, err := Canonical(v); err != nil {
			var ce *CanonicalError
			if !errors.As(err, &ce) || ce.Reason != ErrNonFinite {
				t.Fatalf("parsed JSON %q: unexpected error %v", data, err)
			}
			return
		}
		checkRoundTrip(t, v, v)
	})
}

// checkRoundTrip encodes in and checks the output against want.
func checkRoundTrip(t *testing.T, in, want any) {
	t.Helper()
	out, err := Canonical(in)
	if err != nil {
		t.Fatalf("Canonical(%#v): %v", in, err)
	}
	for _, c := range out {
		if c >= utf8.RuneSelf || c < 0x20 {
			t.Fatalf("output not printable ASCII: %q", out)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var back any
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("output %q does not parse: %v", out, err)
	}
	if !reflect.DeepEqual(normNumbers(back), normNumbers(want)) {
		t.Fatalf("round trip:\n  in %#v\n out %s\nback %#v", want, out, back)
	}
	again, err := Canonical(back)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not a fixed point: %s -> %s (%v)", out, again, err)
	}
}

// normNumbers replaces json.Numbers with their integer value as text, or
// with the double a float reads as (1.50 and 1.5 are one value).
func normNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, ok := new(big.Int).SetString(string(x), 10)
		if !ok {
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return string(x)
			}
			return math.Float64bits(f)
		}
		return n.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normNumbers(e)
		}
		return out
	}
	return v
}
