package parsers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
)

// FuzzReadMessage reads arbitrary input as a mail and classifies it with
// the full wiring: no panic, and whatever is read keeps the bounds and is
// valid UTF-8, and payloads hold no floats. Seeds: every golden mail plus testdata/fuzz/FuzzReadMessage.
func FuzzReadMessage(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(mailsDir, "*.eml"))
	if len(files) == 0 {
		f.Fatal("no seed mails")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	c := goldenClassifier()
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a message", err)
			}
			return
		}
		checkBounds(t, m, 0)
		evs, reason := c.Classify(m)
		if (len(evs) == 0) != (reason.Kind != "" && reason.Reason != "") {
			t.Fatalf("no events and no reason, or events and a reason")
		}
		for _, e := range evs {
			if e.Service == "" || e.Object == "" || e.EventType == "" || e.Rule == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			if strings.ContainsAny(e.Name(), " \t\n*>") || strings.Count(e.Name(), ".") != 2 {
				t.Fatalf("event name %q cannot be a topic tail", e.Name())
			}
			// The bus encodes floats now; mailgw's parsers still emit none.
			if err := checkPayloadTypes(e.Payload); err != nil {
				t.Fatalf("event %s: %v", e.Name(), err)
			}
		}
		info := parsers.MailInfo(m)
		for _, m := range info {
			if s, _ := m.Value.(string); !utf8.ValidString(s) {
				t.Fatalf("MailInfo %s not UTF-8: %q", m.Key, s)
			}
		}
	})
}

// FuzzDecodeHeader decodes arbitrary header values: the result is valid
// UTF-8 on one line, and plain printable ASCII without encoded words comes
// back as it went in (blanks trimmed).
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		"plain", "=?utf-8?q?caf=C3=A9?=", "=?ISO-8859-1?B?QW5kcuk=?=", "=?gbk?B?ts7J0LLF?=",
		"=?x-unknown?q?=E9?=", "=?utf-8?b?!!!?=", "J\xf6rg", "a\r\n\tb", "=?utf-8?q?=E2=82?=",
		"=?utf-8?B?w6l0w6k=?=\n =?utf-8?B?w6k=?=", "=??=", "=?utf-8*fr?q?x?=", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := parsers.DecodeHeader(in)
		if !utf8.ValidString(out) {
			t.Fatalf("DecodeHeader(%q) = %q: not UTF-8", in, out)
		}
		if strings.ContainsAny(in, "\r\n") && strings.Contains(out, "\n") && !strings.Contains(in, "=?") {
			t.Fatalf("DecodeHeader(%q) = %q: not unfolded", in, out)
		}
		if printableASCII(in) && !strings.Contains(in, "=?") {
			if want := strings.Trim(in, " \t"); out != want {
				t.Fatalf("DecodeHeader(%q) = %q, want %q", in, out, want)
			}
		}
	})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
