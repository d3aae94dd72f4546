package amqpout

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/schemas"
)

// envelopeOf rebuilds the fedmsg envelope from an AMQP message the way a
// consumer does (docs/amqp.md): topic the routing key, msg the body,
// msg_id the message_id, the rest from mailgw's headers.
func envelopeOf(t testing.TB, routingKey string, p amqp.Publishing) *bus.Envelope {
	t.Helper()
	env, err := bus.ParseEnvelope([]byte(fmt.Sprintf(`{"topic":%q,"msg":%s,"msg_id":%q,"i":%d,"timestamp":%d,"seq_id":%d,"username":%q,"crypto":%q,"signature":%q}`,
		routingKey, p.Body, p.MessageId, p.Headers[hdrI], p.Headers[hdrTimestamp], p.Headers[hdrSeqID],
		p.Headers[hdrUsername], p.Headers[hdrCrypto], p.Headers[hdrSignature])))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestMessageWireFormat: every corpus event becomes a message with
// fedora-messaging's properties and headers (names and types as its
// message.py writes them), a body that is byte for byte the signed
// canonical msg (the detached signature in mailgw_signature verifies
// over it), and headers from which the journaled envelope is rebuilt
// byte for byte.
func TestMessageWireFormat(t *testing.T) {
	j, pubFile := corpusJournal(t)
	kr, err := bus.LoadKeyring(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(mustRead(t, pubFile)))
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, j)
	if len(es) < 150 {
		t.Fatalf("only %d corpus events", len(es))
	}
	severities := map[int64]int{}
	var users, pkgs int
	for i := range es {
		e := &es[i]
		m, err := NewMessage(e, int64(i+1))
		if err != nil {
			t.Fatalf("seq_id %d: %v", e.SeqID, err)
		}
		p := m.Publishing
		if m.RoutingKey != e.Topic || p.MessageId != e.MsgID || p.ContentType != "application/json" ||
			p.ContentEncoding != "utf-8" || p.DeliveryMode != amqp.Persistent || p.Priority != 0 {
			t.Fatalf("seq_id %d: routing key %q, properties %+v", e.SeqID, m.RoutingKey, p)
		}
		env, err := bus.ParseEnvelope(e.Body)
		if err != nil {
			t.Fatal(err)
		}
		canon, _ := bus.Canonical(env.Msg)
		if !bytes.Equal(p.Body, canon) {
			t.Fatalf("seq_id %d: body is not the canonical msg\n%s\n%s", e.SeqID, p.Body, canon)
		}
		sig, err := base64.StdEncoding.DecodeString(p.Headers[hdrSignature].(string))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openpgp.CheckDetachedSignature(keys, bytes.NewReader(p.Body), bytes.NewReader(sig), nil); err != nil {
			t.Fatalf("seq_id %d: signature over the body: %v", e.SeqID, err)
		}
		back := envelopeOf(t, m.RoutingKey, p)
		if _, err := kr.Verify(back, nil); err != nil {
			t.Fatalf("seq_id %d: rebuilt envelope: %v", e.SeqID, err)
		}
		if back.I != int64(i+1) {
			t.Fatalf("seq_id %d: i %d, want %d", e.SeqID, back.I, i+1)
		}
		back.I = 0 // the journal keeps no i
		if b, _ := back.Marshal(); !bytes.Equal(b, e.Body) {
			t.Fatalf("seq_id %d: rebuilt envelope differs from the journal's\n%s\n%s", e.SeqID, b, e.Body)
		}
		h := p.Headers
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			hdrSchema:        schemas.EntryPoint(e.Topic),
			hdrSchemaPackage: SchemaPackage,
			hdrSentAt:        time.Unix(e.Timestamp, 0).UTC().Format("2006-01-02T15:04:05") + "+00:00",
			hdrPriority:      int64(0),
			hdrTimestamp:     e.Timestamp,
			hdrSeqID:         e.SeqID,
			hdrUsername:      "mailgw",
			hdrCrypto:        "gpg",
		}
		for k, v := range want {
			if h[k] != v {
				t.Fatalf("seq_id %d: header %s = %#v, want %#v", e.SeqID, k, h[k], v)
			}
		}
		sev, ok := h[hdrSeverity].(int64)
		if !ok || (sev != SeverityInfo && sev != SeverityWarning) {
			t.Fatalf("seq_id %d: severity %#v", e.SeqID, h[hdrSeverity])
		}
		severities[sev]++
		for k, v := range h {
			if strings.HasPrefix(k, hdrUserPrefix) || strings.HasPrefix(k, hdrPackagePrefix) {
				if v != true {
					t.Fatalf("seq_id %d: %s = %#v, want true", e.SeqID, k, v)
				}
				if strings.HasPrefix(k, hdrUserPrefix) {
					users++
				} else {
					pkgs++
				}
			}
		}
	}
	if severities[SeverityWarning] == 0 || users == 0 || pkgs == 0 {
		t.Fatalf("severities %v, %d user and %d package headers: the corpus should have some of each", severities, users, pkgs)
	}
	t.Logf("%d events: severities %v, %d user and %d package headers", len(es), severities, users, pkgs)
}

func mustRead(t testing.TB, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSplitNotCanonical: a body that is not in canonical form (a journal
// written by hand, say) still gives the canonical msg.
func TestSplitNotCanonical(t *testing.T) {
	msg := map[string]any{"source": "bash", "z": []any{1, "é"}, "a": map[string]any{"msg_id": "x"}}
	env := bus.NewEnvelope("org.debian.dev.dak.package.upload", msg, "2008-x", 1790000000, "u")
	canon, _ := bus.Canonical(env.Msg)
	var v any
	body, _ := env.Marshal()
	json.Unmarshal(body, &v)
	pretty, _ := json.MarshalIndent(v, "", "  ")
	for _, b := range [][]byte{body, pretty} {
		e := &journal.Entry{SeqID: 0, MsgID: "2008-x", Topic: env.Topic, Timestamp: env.Timestamp, Body: b}
		got, f, err := split(e)
		if err != nil || !bytes.Equal(got, canon) || f.Username != "u" {
			t.Fatalf("split(%s) = %s %+v %v, want %s", b, got, f, err, canon)
		}
	}
}

// TestSubjectHeaders: the headers come from msg.mailgw's packages and
// people; many, or names too long for a header, are bounded; fields of
// an unexpected type are left out, not fatal.
func TestSubjectHeaders(t *testing.T) {
	var many []any
	for i := range 200 {
		many = append(many, fmt.Sprintf("pkg%d", i))
	}
	cases := []struct {
		topic   string
		msg     map[string]any
		users   []string
		pkgs    int
		warning bool
	}{
		{"org.debian.prod.dak.package.upload", map[string]any{"source": "bash",
			"mailgw": map[string]any{"packages": []any{"bash"}, "people": []any{"doko@debian.org"}}}, []string{"doko@debian.org"}, 1, false},
		{"org.debian.prod.debbugs.bug.report", map[string]any{"severity": "grave",
			"mailgw": map[string]any{"packages": many, "people": []any{}}}, nil, maxSubjectHeaders, true},
		{"org.debian.prod.debbugs.bug.report", map[string]any{"severity": 7,
			"mailgw": map[string]any{"packages": []any{strings.Repeat("x", 300)}, "people": "a@b.c"}}, nil, 0, false},
		{"org.debian.prod.dak.package.reject", map[string]any{"source": "bash"}, nil, 0, true},
	}
	for i, c := range cases {
		env := bus.NewEnvelope(c.topic, c.msg, fmt.Sprintf("2026-%d", i), 1, "u")
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMessage(&journal.Entry{MsgID: env.MsgID, Topic: env.Topic, Timestamp: 1, Body: body}, 1)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var users []string
		pkgs := 0
		for k := range m.Publishing.Headers {
			if u, ok := strings.CutPrefix(k, hdrUserPrefix); ok {
				users = append(users, u)
			}
			if strings.HasPrefix(k, hdrPackagePrefix) {
				pkgs++
			}
		}
		if fmt.Sprint(users) != fmt.Sprint(c.users) || pkgs != c.pkgs {
			t.Errorf("case %d: users %v, %d packages; want %v, %d", i, users, pkgs, c.users, c.pkgs)
		}
		if got := m.Publishing.Headers[hdrSeverity] == int64(SeverityWarning); got != c.warning {
			t.Errorf("case %d: severity %v", i, m.Publishing.Headers[hdrSeverity])
		}
	}
}

// TestSchemaName: the schema's entry-point name, or fedora-messaging's
// base schema for a topic mailgw has none for.
func TestSchemaName(t *testing.T) {
	for topic, want := range map[string]string{
		"org.debian.prod.dak.package.upload":           "mailgw.dak.package.upload.v2",
		"org.debian.dev.debmessenger.bug.report":       "mailgw.debmessenger.bug.report.v2",
		"org.debian.stg.tracker.package.upload-source": "mailgw.tracker.package.upload-source.v2",
		"org.fedoraproject.prod.bodhi.update.comment":  "base.message",
	} {
		if got := schemaName(topic); got != want {
			t.Errorf("schemaName(%s) = %s, want %s", topic, got, want)
		}
	}
}

// TestMessageTooLong: a topic longer than an AMQP routing key may be is
// refused before anything is written (the outlet skips and logs it).
func TestMessageTooLong(t *testing.T) {
	topic := "org.debian.dev.pts.package." + strings.Repeat("k", 250)
	env := bus.NewEnvelope(topic, map[string]any{}, "2026-long", 1, "u")
	body, _ := env.Marshal()
	_, err := NewMessage(&journal.Entry{MsgID: env.MsgID, Topic: topic, Body: body}, 1)
	if !errors.Is(err, errTooLong) {
		t.Fatalf("Message with a %d-byte topic: %v", len(topic), err)
	}
}

// strList reads what encoding/json reads into a []string, on the fast
// path and off it.
func TestStrList(t *testing.T) {
	for _, v := range []string{`[]`, `["a"]`, `["a","b c","d"]`, `[ "a" ]`, `["a\"b","c"]`, `["a",1]`, `"a"`, `{}`, `[`, `["a",]`, `["a"`, `null`, `["é","\u00e9"]`} {
		var want []string
		json.Unmarshal([]byte(v), &want)
		var got []string
		for _, b := range strList([][]byte{[]byte("before")}, []byte(v))[1:] {
			got = append(got, string(b))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %#v, want %#v", v, got, want)
		}
	}
}

// TestScanMsg: the builder's one pass (scanMsg) reads what split and the
// walk over msg's members read, for every corpus event and for msgs with
// mailgw keys in nested objects and in strings, before and after msg's
// own; an envelope it cannot be sure of is left to split.
func TestScanMsg(t *testing.T) {
	type result struct {
		msg        string
		f          envFields
		pkgs, ppl  string
		sev        string
		fastWanted bool
	}
	read := func(e *journal.Entry) (fast, slow result, ok bool) {
		var s subjects
		var f envFields
		var in interned
		msg, ok := scanMsg(e, &s, &f, &in)
		f.matched = 0
		fast = result{string(msg), f, fmt.Sprintf("%q", s.packages), fmt.Sprintf("%q", s.people), s.sev, false}
		m, f2, err := split(e)
		if err != nil {
			t.Fatal(err)
		}
		var s2 subjects
		if err := s2.scan(m); err != nil {
			t.Fatal(err)
		}
		f2.matched = 0
		slow = result{string(m), f2, fmt.Sprintf("%q", s2.packages), fmt.Sprintf("%q", s2.people), s2.sev, false}
		return fast, slow, ok
	}
	j, _ := corpusJournal(t)
	for _, e := range entries(t, j) {
		fast, slow, ok := read(&e)
		if !ok || fast != slow {
			t.Fatalf("seq_id %d: one pass %v %+v, split and walk %+v", e.SeqID, ok, fast, slow)
		}
	}
	y := map[string]any{"packages": []any{"y"}, "people": []any{"p@q.org"}}
	x := map[string]any{"packages": []any{"x"}, "people": []any{"evil@q.org"}}
	for i, c := range []struct {
		msg  map[string]any
		fast bool // scanMsg reads it
	}{
		{map[string]any{"mailgw": y, "severity": "grave"}, true},
		{map[string]any{"a": map[string]any{"mailgw": x}, "mailgw": y, "severity": "grave"}, true},
		{map[string]any{"a": []any{map[string]any{"mailgw": x, "msg_id": "2026-0"}}, "mailgw": y}, true},
		{map[string]any{"a": map[string]any{"mailgw": x, "signature": "evil", "crypto": "x", "timestamp": 1}, "mailgw": y}, true},
		{map[string]any{"body": `say "mailgw":{"packages":["x"]}`, "mailgw": y}, true},
		{map[string]any{"mailgw": y, "z": map[string]any{"mailgw": x}}, true},
	} {
		env := bus.NewEnvelope("org.debian.dev.debbugs.bug.report", c.msg, fmt.Sprintf("2026-%d", i), 1790000000, "mailgw")
		env.SeqID, env.Crypto, env.Signature = int64(i+1), "gpg", "c2lnbmF0dXJl"
		body, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e := &journal.Entry{SeqID: env.SeqID, MsgID: env.MsgID, Topic: env.Topic, Timestamp: env.Timestamp, Body: body}
		fast, slow, ok := read(e)
		if ok != c.fast || (ok && fast != slow) {
			t.Errorf("case %d %s: one pass %v %+v, split and walk %+v", i, body, ok, fast, slow)
		}
		// The builder reads the same either way.
		m, err := NewMessage(e, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Publishing.Body) != slow.msg || m.Publishing.Headers[hdrSignature] != "c2lnbmF0dXJl" ||
			(c.fast && m.Publishing.Headers[hdrUserPrefix+"p@q.org"] != true) || m.Publishing.Headers[hdrUserPrefix+"evil@q.org"] != nil {
			t.Errorf("case %d: message %s %v", i, m.Publishing.Body, m.Publishing.Headers)
		}
	}
	// Without a mailgw member of msg itself, split reads the envelope
	// (bus.NewEnvelope always adds one: these are written out).
	for i, msg := range []string{`{"a":{"mailgw":{"packages":["x"]}}}`, `{"b":[{"mailgw":{"people":["evil@q.org"]}}]}`,
		`{"source":"bash"}`, `{"a":"\"mailgw\":{\"packages\":[\"x\"]}"}`} {
		e := &journal.Entry{SeqID: 1, MsgID: "2026-n", Topic: "org.debian.dev.debbugs.bug.report", Timestamp: 1,
			Body: []byte(`{"crypto":"gpg","msg":` + msg + `,"msg_id":"2026-n","seq_id":1,"signature":"c2ln","timestamp":1,` +
				`"topic":"org.debian.dev.debbugs.bug.report","username":"mailgw"}`)}
		_, slow, ok := read(e)
		if ok || slow.msg != msg || slow.pkgs != "[]" || slow.ppl != "[]" {
			t.Errorf("no mailgw %d: one pass %v, split and walk %+v", i, ok, slow)
		}
		m, err := NewMessage(e, 1)
		if err != nil || string(m.Publishing.Body) != msg || m.Publishing.Headers[hdrSignature] != "c2ln" || len(m.Publishing.Headers) != 11 {
			t.Errorf("no mailgw %d: %v %+v", i, err, m)
		}
	}
	// A body whose members after msg do not match the row is not read
	// by the one pass (split then says so, or parses it the slow way).
	env := bus.NewEnvelope("org.debian.dev.debbugs.bug.report", map[string]any{"mailgw": y}, "2026-x", 1, "mailgw")
	env.SeqID = 7
	body, _ := env.Marshal()
	for _, e := range []journal.Entry{{SeqID: 8, MsgID: "2026-x", Topic: env.Topic, Body: body},
		{SeqID: 7, MsgID: "2026-y", Topic: env.Topic, Body: body}, {SeqID: 7, MsgID: "2026-x", Topic: "org.x", Body: body}} {
		var s subjects
		var f envFields
		if _, ok := scanMsg(&e, &s, &f, nil); ok {
			t.Errorf("%+v read by the one pass", e)
		}
	}
}
