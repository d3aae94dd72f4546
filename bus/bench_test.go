package bus

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// msg4K is a payload like a dak upload event, about 4 KiB of canonical
// JSON with some non-ASCII text.
func msg4K() map[string]any {
	files := make([]any, 0, 8)
	for i := range 8 {
		files = append(files, map[string]any{
			"name": fmt.Sprintf("hello_2.12-%d_amd64.deb", i), "size": 123456 + i,
			"section": "devel", "priority": "optional", "md5sum": strings.Repeat("0123456789abcdef", 2),
		})
	}
	m := map[string]any{
		"source": "hello", "version": "2.12-1", "distribution": []string{"unstable"},
		"architecture": []string{"source", "amd64"}, "binary": []string{"hello"},
		"changed_by": "Jörg Müller <joerg@example.org>", "maintainer": "Debian QA <qa@debian.org>",
		"urgency": "medium", "date": "Fri, 27 Nov 2026 10:00:00 +0000", "closes": []int{123456, 654321},
		"files": files,
		"mail":  map[string]any{"message_id": "<E1abc@fasolo.debian.org>", "from": "dak", "subject": "Accepted hello 2.12-1"},
	}
	b, _ := Canonical(m)
	m["changes"] = strings.Repeat("  * Fixed a bug — ça marche <ok> & done.\n", (4096-len(b))/44)
	return NewEnvelope("org.debian.dev.dak.package.upload", m, MsgID(2026, "bench"), 1790000000, "mailgw").Msg
}

func BenchmarkCanonical4K(b *testing.B) {
	m := msg4K()
	out, _ := Canonical(m)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	buf := make([]byte, 0, 8192)
	for b.Loop() {
		var err error
		if buf, err = AppendCanonical(buf[:0], m); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSign is canonical encode + sign of an envelope with a 4 KiB msg,
// and the wire body made from the same encoding (SignMarshal): what the
// publisher does per event.
func benchSign(b *testing.B, rsaBits int) {
	sec, _, _, err := GenerateKey("bench", "bench@example.org", rsaBits)
	if err != nil {
		b.Fatal(err)
	}
	s := writeSigner(b, sec)
	m := msg4K()
	b.ReportAllocs()
	for b.Loop() {
		env := &Envelope{Topic: "org.debian.dev.dak.package.upload", Msg: m, MsgID: "2026-x", Timestamp: 1790000000}
		if _, err := SignMarshal(env, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSignEd25519_4K(b *testing.B) { benchSign(b, 0) }

func BenchmarkSignRSA3072_4K(b *testing.B) { benchSign(b, 3072) }

// BenchmarkVerifyEd25519_4K is parse + verify of a signed 4 KiB envelope.
func BenchmarkVerifyEd25519_4K(b *testing.B) {
	s, pubFile := keyFiles(b)
	kr, err := LoadKeyring(pubFile)
	if err != nil {
		b.Fatal(err)
	}
	env := NewEnvelope("org.debian.dev.dak.package.upload", msg4K(), "2026-x", 1790000000, "mailgw")
	if err := Sign(env, s); err != nil {
		b.Fatal(err)
	}
	body, _ := env.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		e, err := ParseEnvelope(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kr.Verify(e, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// corpusMsgs builds the envelopes' msg objects of the golden corpus the
// way the pipeline does (parse, classify, payload plus "mail" and
// "mailgw"): the payloads the publisher encodes in a replay.
func corpusMsgs(b *testing.B) []map[string]any {
	files, _ := filepath.Glob("../testdata/mails/*.eml")
	if len(files) == 0 {
		b.Fatal("no golden mails")
	}
	d := dak.New(dak.Options{Compat: true})
	bb := debbugs.New(debbugs.Options{Compat: true})
	c := parsers.NewClassifier(pts.New(d, bb), d, bb)
	var out []map[string]any
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, e := range evs {
			msg := maps.Clone(e.Payload)
			msg["mail"] = parsers.MailInfo(m)
			msg["mailgw"] = map[string]any{"rule": e.Rule, "replayed": false}
			out = append(out, NewEnvelope("org.debian.dev."+e.Name(), msg, MsgID(2026, e.Rule), 1790000000, "mailgw").Msg)
		}
	}
	return out
}

// BenchmarkCanonicalCorpus encodes the msg of every golden-corpus event
// round-robin; one op is one msg.
func BenchmarkCanonicalCorpus(b *testing.B) {
	msgs := corpusMsgs(b)
	var size int64
	for _, m := range msgs {
		out, err := Canonical(m)
		if err != nil {
			b.Fatal(err)
		}
		size += int64(len(out))
	}
	b.SetBytes(size / int64(len(msgs)))
	b.ReportAllocs()
	buf := make([]byte, 0, 64<<10)
	i := 0
	for b.Loop() {
		var err error
		if buf, err = AppendCanonical(buf[:0], msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCanonicalCorpusAlloc is BenchmarkCanonicalCorpus through
// Canonical, which returns a buffer of its own (the pipeline's check of a
// msg when it does not sign).
func BenchmarkCanonicalCorpusAlloc(b *testing.B) {
	msgs := corpusMsgs(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Canonical(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
