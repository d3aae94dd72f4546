package parsers_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
)

const hostileHeader = "From: Mallory <m@example.org>\nSubject: Bug#1060001: hostile\n" +
	"Message-ID: <hostile@example.org>\nX-Loop: owner@bugs.debian.org\n" +
	"X-Debian-PR-Message: followup 1060001\nX-Debian-PR-Package: hello\n"

// hostileMails builds the inputs of TestHostileMails.
func hostileMails() map[string][]byte {
	const big = 50 << 20
	mails := map[string][]byte{}

	var b bytes.Buffer
	b.WriteString(hostileHeader + "Content-Type: text/plain\n\n")
	line := strings.Repeat("x", 99) + "\n"
	for b.Len() < big {
		b.WriteString(line)
	}
	mails["50MiB text body"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Transfer-Encoding: base64\n\n")
	for b.Len() < big {
		b.WriteString("QUJDRA==QUJD\x00RA\xff\n")
	}
	b.WriteString("--B\nContent-Transfer-Encoding: quoted-printable\n\n=C3=A9=\n")
	mails["50MiB base64 and unterminated multipart"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader + "Subject: ")
	for b.Len() < big {
		b.WriteString("=?utf-8?q?=C3=A9?= \xff\x00")
	}
	b.WriteString("\n\nbody\n")
	mails["50MiB header field"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=P\n\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "--P\nContent-Type: text/plain; charset=x-%d\n\npart %d \xe9\x00\n", i, i)
	}
	b.WriteString("--P--\n")
	mails["10000 parts"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader + "Content-Type: multipart/mixed; boundary=n0\n\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "--n%d\nContent-Type: multipart/mixed; boundary=n%d\n\n", i, i+1)
	}
	b.WriteString("--n100\n\ndeep\n")
	mails["multipart nested 100 deep"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "Content-Type: message/rfc822\n\nSubject: level %d\n", i+1)
	}
	b.WriteString("\ninnermost\n")
	mails["message/rfc822 nested 100 deep"] = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(hostileHeader)
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, "X-Filler-%d: \x00\xff\xfe value\n", i)
	}
	b.WriteString("\n\x00\x00\xff\xfe\xc3\x28 body\n")
	mails["100000 header fields, NUL and invalid UTF-8"] = bytes.Clone(b.Bytes())
	return mails
}

// TestHostileMails feeds ReadMessage and the full classifier mail built to
// hurt: they must not panic, must keep within the documented bounds, and
// must not allocate in proportion to the input beyond what it costs to
// look at it once.
func TestHostileMails(t *testing.T) {
	c := goldenClassifier()
	for name, raw := range hostileMails() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			m, err := parsers.ReadMessage(raw)
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			evs, reason := c.Classify(m)
			runtime.ReadMemStats(&after)
			if (len(evs) == 0) != (reason.Kind != "" && reason.Reason != "") {
				t.Errorf("no events and no reason, or events and a reason")
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d MiB in, %d KiB allocated", len(raw)>>20, alloc>>10)
			if alloc > 48<<20 {
				t.Errorf("allocated %d MiB for a %d MiB mail", alloc>>20, len(raw)>>20)
			}
			checkBounds(t, m, 0)
			if !anyDefect(m) {
				t.Errorf("hostile mail read without a defect")
			}
		})
	}
}

// checkBounds verifies the limits of ReadMessage on m and its attachments.
func checkBounds(t *testing.T, m *parsers.Message, depth int) {
	t.Helper()
	if depth > parsers.MaxAttachDepth {
		t.Fatalf("attachments parsed %d deep", depth)
	}
	if len(m.Parts) > parsers.MaxParts || len(m.Header.Fields) > parsers.MaxFields {
		t.Errorf("%d parts, %d fields kept", len(m.Parts), len(m.Header.Fields))
	}
	if len(m.Text) > parsers.MaxText || !utf8.ValidString(m.Text) {
		t.Errorf("Text: %d bytes, valid UTF-8 %v", len(m.Text), utf8.ValidString(m.Text))
	}
	for _, f := range m.Header.Fields {
		if len(f.Value) > 4*parsers.MaxText || !utf8.ValidString(f.Value) || !utf8.ValidString(f.Key) {
			t.Errorf("field %.40q: %d bytes, valid %v", f.Key, len(f.Value), utf8.ValidString(f.Value))
		}
	}
	for _, p := range m.Parts {
		if len(p.Text) > parsers.MaxText || len(p.Raw) > parsers.MaxText || !utf8.ValidString(p.Text) {
			t.Errorf("part %s: Text %d, Raw %d bytes", p.ContentType, len(p.Text), len(p.Raw))
		}
	}
	for _, a := range m.Attached {
		checkBounds(t, a, depth+1)
	}
}

// anyDefect reports whether m or anything attached to it has a defect.
func anyDefect(m *parsers.Message) bool {
	if len(m.Defects) > 0 {
		return true
	}
	for _, a := range m.Attached {
		if anyDefect(a) {
			return true
		}
	}
	return false
}
