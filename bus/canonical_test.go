package bus

import (
	"encoding/json"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCanonicalGolden checks the golden vectors of fedmsg.md "Tests…" item
// 4, verified there against Python 3.11.
func TestCanonicalGolden(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"deployment envelope", map[string]any{
			"i": 1, "msg": map[string]any{"log": "Hello world"},
			"msg_id":    "2014-f1c49f0b-5caf-49e6-b79a-cc54bcfac602",
			"timestamp": int64(1393878837), "topic": "org.fedoraproject.dev.logger.log", "username": "root",
		}, `{"i":1,"msg":{"log":"Hello world"},"msg_id":"2014-f1c49f0b-5caf-49e6-b79a-cc54bcfac602","timestamp":1393878837,"topic":"org.fedoraproject.dev.logger.log","username":"root"}`},
		{"escapes", map[string]any{"s": "é😀\x7f\x1f\n\t\"\\/<>&\u2028"},
			`{"s":"\u00e9\ud83d\ude00\u007f\u001f\n\t\"\\/<>&\u2028"}`},
		{"key order", map[string]any{"b": 1, "B": 2, "a": 3, "é": 4, "z": 5, "_": 6, "1": 7},
			`{"1":7,"B":2,"_":6,"a":3,"b":1,"z":5,"\u00e9":4}`},
		{"short escapes", "\b\f\r\x00\x01", `"\b\f\r\u0000\u0001"`},
		{"invalid utf8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"typed slices", map[string]any{"a": []string{"x"}, "b": []int{1, -2}, "c": []int64{3}, "d": []map[string]any{{"k": nil}}},
			`{"a":["x"],"b":[1,-2],"c":[3],"d":[{"k":null}]}`},
		{"scalars", []any{true, false, nil, uint8(255), int8(-8), uint64(18446744073709551615), json.Number("-0"), json.Number("123456789012345678901234567890")},
			`[true,false,null,255,-8,18446744073709551615,0,123456789012345678901234567890]`},
		{"map string", map[string]string{"z": "1", "a": "\u0100"}, `{"a":"\u0100","z":"1"}`},
		{"empty", map[string]any{"a": map[string]any{}, "b": []any{}, "c": ""}, `{"a":{},"b":[],"c":""}`},
		{"nil map", map[string]any(nil), `null`},
	}
	for _, c := range cases {
		got, err := Canonical(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

type inner struct {
	Z int `json:"z"`
}

type sample struct {
	inner
	Name    string            `json:"name"`
	Skip    string            `json:"-"`
	Empty   []string          `json:"empty,omitempty"`
	Ptr     *inner            `json:"ptr"`
	Tags    map[string]string `json:"tags,omitempty"`
	Arr     [2]uint16         `json:"arr"`
	Plain   bool
	private int
}

type named string

// TestCanonicalReflect covers the reflection fallback: structs with json
// tags, embedded structs, named types, arrays, and errors.
func TestCanonicalReflect(t *testing.T) {
	s := sample{inner: inner{Z: 9}, Name: "<n>", Skip: "x", Arr: [2]uint16{1, 2}, private: 3}
	got, err := Canonical(s)
	want := `{"Plain":false,"arr":[1,2],"name":"<n>","ptr":null,"z":9}`
	if err != nil || string(got) != want {
		t.Errorf("struct: got %s, %v; want %s", got, err, want)
	}
	got, err = Canonical(map[named][]named{"b": {"x"}, "a": nil})
	if err != nil || string(got) != `{"a":null,"b":["x"]}` {
		t.Errorf("named map: got %s, %v", got, err)
	}
	if _, err := Canonical(map[int]string{1: "a"}); err == nil || !strings.Contains(err.Error(), "keys must be strings") {
		t.Errorf("int keys: got %v", err)
	}
	if _, err := Canonical(map[string]any{"c": make(chan int)}); err == nil || !strings.HasPrefix(err.Error(), "c: unsupported type") {
		t.Errorf("chan: got %v", err)
	}
	if _, err := Canonical(struct{ F []float64 }{[]float64{1, math.Inf(-1)}}); err == nil || err.Error() != "F[1]: "+ErrNonFinite {
		t.Errorf("infinite field: got %v", err)
	}
	raw := json.RawMessage(`{"b":1,"a":[2]}`)
	if got, err := Canonical(raw); err != nil || string(got) != `{"a":[2],"b":1}` {
		t.Errorf("json.Marshaler: got %s, %v", got, err)
	}
}

// TestCanonicalDuplicateRepairedKeys: two invalid-UTF-8 keys that repair
// to the same text cannot both be written.
func TestCanonicalDuplicateRepairedKeys(t *testing.T) {
	_, err := Canonical(map[string]any{"\xff": 1, "\xfe": 2})
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("got %v", err)
	}
	_, err = Canonical(map[string]string{"\xff": "1", "\xfe": "2"})
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("got %v", err)
	}
	got, err := Canonical(map[string]string{"\xff": "v", "a": "\xfe"})
	if err != nil || string(got) != `{"a":"\ufffd","\ufffd":"v"}` {
		t.Errorf("got %s, %v", got, err)
	}
}

func TestAppendCanonicalKeepsDstOnError(t *testing.T) {
	dst := []byte("prefix")
	out, err := AppendCanonical(dst, map[string]any{"a": "x", "b": math.NaN()})
	if err == nil || string(out) != "prefix" {
		t.Errorf("got %q, %v", out, err)
	}
	out, err = AppendCanonical(dst, "x")
	if err != nil || string(out) != `prefix"x"` {
		t.Errorf("got %q, %v", out, err)
	}
}

// TestCanonicalCycle: a cyclic value is an error, not a stack overflow.
func TestCanonicalCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	if _, err := Canonical(m); err == nil || !strings.HasPrefix(err.Error(), "self.self.") || !strings.HasSuffix(err.Error(), "...: nested too deeply (a cycle?)") || len(err.Error()) > 600 {
		t.Errorf("map cycle: %v", err)
	}
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	if _, err := Canonical(n); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("pointer cycle: %v", err)
	}
}

// TestUnsafe8 checks the eight-byte test of appendString against the
// byte table, for every byte in every lane next to safe and unsafe bytes:
// the lowest lane it marks must be the first byte to escape.
func TestUnsafe8(t *testing.T) {
	check := func(buf [8]byte) {
		want := 8
		for i, x := range buf {
			if !asciiSafe[x] {
				want = i
				break
			}
		}
		got := bits.TrailingZeros64(unsafe8(load64(string(buf[:])))) >> 3
		if got != want {
			t.Fatalf("first unsafe byte of %q: got %d, want %d", buf, got, want)
		}
	}
	for _, fill := range []byte{'a', ' ', '~', 0x21, 0x5d, 0x7e, 0x1f, 0x80, 0xff, '"', 0} {
		for lane := range 8 {
			for c := range 256 {
				var buf [8]byte
				for i := range buf {
					buf[i] = fill
				}
				buf[lane] = byte(c)
				check(buf)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var buf [8]byte
		for i := range buf {
			buf[i] = byte(r.Uint32())
			if r.IntN(2) == 0 {
				buf[i] = byte(0x20 + r.IntN(0x5f)) // mostly printable ASCII
			}
		}
		check(buf)
	}
}
