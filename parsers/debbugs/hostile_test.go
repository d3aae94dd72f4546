package debbugs

import (
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// TestHostileMail feeds the parser the shapes issue 3 names: a 50 MiB
// mail, 10,000 MIME parts, nesting 100 deep, NUL bytes and invalid UTF-8.
// Each must parse without panic into bounded, well-formed events.
func TestHostileMail(t *testing.T) {
	hdr := "X-Loop: owner@bugs.debian.org\r\nX-Debian-PR-Package: foo\r\n"
	var parts, nest strings.Builder
	for i := 0; i < 10000; i++ {
		parts.WriteString("--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: part\r\n\r\nVersion: 1\r\n")
	}
	for i := 0; i < 100; i++ {
		nest.WriteString("Content-Type: multipart/mixed; boundary=n" + strings.Repeat("x", i) + "\r\n\r\n--n" + strings.Repeat("x", i) + "\r\n")
	}
	cases := map[string]string{
		"50MiB transcript": hdr + "X-Debian-PR-Message: transcript\r\nSubject: Processed: big\r\n\r\n" +
			strings.Repeat("> tags 1 + patch\r\nAdded tag(s) patch.\r\n", 50<<20/40),
		"10000 parts": hdr + "X-Debian-PR-Message: closed 5\r\nSubject: Bug#5: marked as done (t)\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts.String() + "--b--\r\n",
		"nested 100":        hdr + "X-Debian-PR-Message: report 6\r\nSubject: Bug#6: deep\r\n" + nest.String() + "Package: foo\r\n",
		"NUL and bad UTF-8": hdr + "X-Debian-PR-Message: followup 7\r\nSubject: Bug#7: \x00\xff\xfe title\r\n\r\n\x00\xc3\x28 body\r\n",
	}
	p := New(Options{Compat: true, MaxBody: 1 << 16})
	for name, raw := range cases {
		m, err := parsers.ReadMessage([]byte(raw))
		if err != nil {
			t.Fatalf("%s: ReadMessage: %v", name, err)
		}
		evs, claimed, reason := p.Parse(m)
		if !claimed || len(evs) != 2 {
			t.Errorf("%s: claimed=%v events=%d reason=%q", name, claimed, len(evs), reason)
			continue
		}
		for _, e := range evs {
			checkEvent(t, e, 1<<16)
		}
		if name == "50MiB transcript" && evs[0].Payload["truncated"] != true {
			t.Errorf("50 MiB transcript: actions not truncated at %d", maxActions)
		}
	}
}
