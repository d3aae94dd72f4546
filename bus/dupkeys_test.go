package bus

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCheckDuplicateKeys: a key twice in one object is found at any depth
// and named with its path; the same key in different objects is fine.
func TestCheckDuplicateKeys(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`: "",
		`{"msg":{"x":1},"msg":{"x":2}}`:             `duplicate key "msg"`,
		`{"msg":{"mail":{"from":"a","from":"b"}}}`:  `duplicate key "msg.mail.from"`,
		`{"a":[1,{"k":1,"k":1}]}`:                   `duplicate key "a[1].k"`,
		`[{"x":1},{"x":2,"y":3,"x":4}]`:             `duplicate key "[1].x"`,
	} {
		err := CheckDuplicateKeys([]byte(in))
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
		var v any
		json.Unmarshal([]byte(in), &v)
		if got := hasDuplicateKeys([]byte(in), v); got != (want != "") {
			t.Errorf("%s: hasDuplicateKeys = %v", in, got)
		}
	}
	// Colons and escaped quotes inside strings are not keys.
	in := `{"a\":b":"x:y\"z:","c":["::"]}`
	var v any
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if hasDuplicateKeys([]byte(in), v) {
		t.Errorf("%s: colons in strings taken for keys", in)
	}
}

// TestParseEnvelopeDuplicateKeys: ParseEnvelope (verify, tail, gap
// filling) refuses an envelope with a duplicate key.
func TestParseEnvelopeDuplicateKeys(t *testing.T) {
	good := `{"msg":{"a":1},"msg_id":"2026-x","timestamp":1,"topic":"t"}`
	if _, err := ParseEnvelope([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"msg":{"a":1},"msg":{"a":2},"msg_id":"2026-x","timestamp":1,"topic":"t"}`,
		`{"msg":{"a":1,"a":2},"msg_id":"2026-x","timestamp":1,"topic":"t"}`,
		`{"msg":{"a":1},"msg_id":"2026-x","timestamp":1,"topic":"t","topic":"u"}`,
	} {
		if _, err := ParseEnvelope([]byte(bad)); err == nil || !strings.Contains(err.Error(), "duplicate key") {
			t.Errorf("%s: %v, want a duplicate key error", bad, err)
		}
	}
}

func BenchmarkCheckDuplicateKeys(b *testing.B) {
	body := []byte(`{"crypto":"gpg","i":1,"msg":{"bug":476920,"packages":["xulrunner"],"sources":["xulrunner"],"title":"xulrunner: FTBFS on sparc","submitter":"a <a@b>","severity":"serious","tags":[],"body":"` + strings.Repeat("x", 3000) + `","mail":{"message_id":"m","date":"2008-06-01T00:00:00Z","from":"a","subject":"s"},"mailgw":{"rule":"r","topic":"t","msg_id":"2008-x","timestamp":1,"replayed":false}},"msg_id":"2008-x","seq_id":5,"signature":"` + strings.Repeat("A", 200) + `","timestamp":1,"topic":"t","username":"u"}`)
	b.Run("ParseEnvelope", func(b *testing.B) {
		for b.Loop() {
			ParseEnvelope(body)
		}
	})
	b.Run("CheckDuplicateKeys", func(b *testing.B) {
		for b.Loop() {
			CheckDuplicateKeys(body)
		}
	})
	env, _ := ParseEnvelope(body)
	_ = env
	var raw map[string]any
	json.Unmarshal(body, &raw)
	b.Run("hasDuplicateKeys", func(b *testing.B) {
		for b.Loop() {
			hasDuplicateKeys(body, raw)
		}
	})
}
