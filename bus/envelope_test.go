package bus

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestTopic(t *testing.T) {
	for _, c := range [][4]string{
		{"org.debian", "dev", "debmessenger.package.upload", "org.debian.dev.debmessenger.package.upload"},
		{"org.debian", "prod", "dak.package.upload", "org.debian.prod.dak.package.upload"},
		{"org.debian", "dev", "org.debian.stg.dak.package.new", "org.debian.stg.dak.package.new"},
		{"org.debian", "dev", "org.debianx.a", "org.debian.dev.org.debianx.a"},
	} {
		if got := Topic(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("Topic(%q, %q, %q) = %q, want %q", c[0], c[1], c[2], got, c[3])
		}
	}
}

func TestMsgID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9]{4}-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b, c := MsgID(2026, "<id@x>/upload"), MsgID(2026, "<id@x>/upload"), MsgID(2026, "<id@x>/new")
	if !re.MatchString(a) || len(a) != 41 {
		t.Errorf("MsgID %q does not match %s", a, re)
	}
	if a != b || a == c {
		t.Errorf("not deterministic per identity: %s %s %s", a, b, c)
	}
	// Pinned (Python: uuid.uuid5(Namespace, "x")): changing Namespace would change every msg_id ever published.
	if got := MsgID(7, "x"); got != "0007-5198fa55-6ea5-59b7-be1c-037ce30ebc12" {
		t.Errorf("MsgID(7, x) = %s", got)
	}
}

func TestNewEnvelopeBinding(t *testing.T) {
	msg := map[string]any{"a": 1, "mailgw": map[string]any{"rule": "dak-accepted", "replayed": false}}
	e := NewEnvelope("org.debian.dev.dak.package.upload", msg, "2026-x", 1700000000, "u")
	mg := e.Msg["mailgw"].(map[string]any)
	if mg["rule"] != "dak-accepted" || mg["replayed"] != false || mg["topic"] != e.Topic || mg["msg_id"] != "2026-x" || mg["timestamp"] != int64(1700000000) {
		t.Errorf("msg.mailgw = %v", mg)
	}
	if e := NewEnvelope("t", nil, "id", 1, ""); e.Msg["mailgw"] == nil {
		t.Errorf("nil msg not bound: %v", e.Msg)
	}
}

func TestMarshal(t *testing.T) {
	e := NewEnvelope("org.debian.dev.x.y.z", map[string]any{"k": "é"}, "2026-id", 1700000000, "root")
	got, err := e.Marshal()
	want := `{"msg":{"k":"\u00e9","mailgw":{"msg_id":"2026-id","timestamp":1700000000,"topic":"org.debian.dev.x.y.z"}},"msg_id":"2026-id","timestamp":1700000000,"topic":"org.debian.dev.x.y.z","username":"root"}`
	if err != nil || string(got) != want {
		t.Fatalf("unsigned:\n got %s, %v\nwant %s", got, err, want)
	}
	e.I, e.SeqID, e.Crypto, e.Signature = 3, 42, "gpg", "c2ln"
	got, _ = e.Marshal()
	// Marshal must equal the generic encoder on the same fields.
	generic, _ := Canonical(map[string]any{"i": 3, "seq_id": 42, "crypto": "gpg", "signature": "c2ln", "msg": e.Msg,
		"msg_id": e.MsgID, "timestamp": e.Timestamp, "topic": e.Topic, "username": e.Username})
	if string(got) != string(generic) {
		t.Fatalf("signed:\n got %s\nwant %s", got, generic)
	}
	back, err := ParseEnvelope(got)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != string(got) {
		t.Fatalf("round trip:\n got %s\nwant %s", again, got)
	}
	if got, _ := (&Envelope{}).Marshal(); string(got) != `{"msg":{},"msg_id":"","timestamp":0,"topic":"","username":""}` {
		t.Errorf("zero envelope: %s", got)
	}
}

func TestParseEnvelope(t *testing.T) {
	ok := `{"topic":"t","msg":{"n":12345678901234567890,"x":[1]},"timestamp":1,"msg_id":"m","i":2,"username":null,"headers":{"h":1}}`
	e, err := ParseEnvelope([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic != "t" || e.I != 2 || e.Msg["n"] != json.Number("12345678901234567890") {
		t.Errorf("parsed %+v", e)
	}
	for _, c := range []struct{ in, text string }{
		{`{"topic":`, "JSON"},
		{`[1]`, "JSON"},
		{`null`, "not a JSON object"},
		{`{"topic":"t","msg":{},"timestamp":1,"msg_id":"m"} {}`, "trailing data"},
		{`{"msg":{},"timestamp":1,"msg_id":"m"}`, "field topic missing"},
		{`{"topic":1,"msg":{},"timestamp":1,"msg_id":"m"}`, "field topic is a number, want a string"},
		{`{"topic":"t","timestamp":1,"msg_id":"m"}`, "field msg missing"},
		{`{"topic":"t","msg":[],"timestamp":1,"msg_id":"m"}`, "field msg is an array, want an object"},
		{`{"topic":"t","msg":{},"msg_id":"m"}`, "field timestamp missing"},
		{`{"topic":"t","msg":{},"timestamp":"1","msg_id":"m"}`, "field timestamp is a string"},
		{`{"topic":"t","msg":{},"timestamp":1.5,"msg_id":"m"}`, "field timestamp is a float, want an integer"},
		{`{"topic":"t","msg":{"a":[0,{"b":1e400}]},"timestamp":1,"msg_id":"m"}`, "msg.a[1].b: " + ErrNonFinite},
		{`{"topic":"t","msg":{},"timestamp":1}`, "field msg_id missing"},
		{`{"topic":"t","msg":{},"timestamp":1,"msg_id":"m","i":"1"}`, "field i is a string, want an integer"},
		{`{"topic":"t","msg":{},"timestamp":1,"msg_id":"m","seq_id":99999999999999999999}`, "field seq_id: 99999999999999999999 is not a 64-bit integer"},
		{`{"topic":"t","msg":{},"timestamp":1,"msg_id":"m","signature":[]}`, "field signature is an array"},
	} {
		_, err := ParseEnvelope([]byte(c.in))
		if !errors.Is(err, ErrEnvelope) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.text)
		}
	}
}

// TestEnvelopeJSON: encoding/json and Canonical use the wire form.
func TestEnvelopeJSON(t *testing.T) {
	e := NewEnvelope("a.b", map[string]any{"x": "<&>"}, "2026-i", 9, "u")
	wire, _ := e.Marshal()
	got, err := Canonical(map[string]any{"env": e})
	if err != nil || string(got) != `{"env":`+string(wire)+`}` {
		t.Fatalf("Canonical: %s, %v", got, err)
	}
	js, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Envelope
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := back.Marshal(); string(again) != string(wire) {
		t.Fatalf("json round trip: %s, want %s", again, wire)
	}
	if err := json.Unmarshal([]byte(`{"topic":"t"}`), &back); !errors.Is(err, ErrEnvelope) {
		t.Fatalf("UnmarshalJSON: %v", err)
	}
}
