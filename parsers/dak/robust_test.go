package dak

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
)

// checkPayloads fails when a payload does not encode as JSON or holds a
// string that is not valid UTF-8.
func checkPayloads(t *testing.T, evs []parsers.Event) {
	t.Helper()
	for _, e := range evs {
		b, err := json.Marshal(e.Payload)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if !utf8.Valid(b) {
			t.Errorf("%s: invalid UTF-8 in payload", e.Name())
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if !utf8.ValidString(x) {
					t.Errorf("%s: invalid UTF-8 string %q", e.Name(), x)
				}
			case map[string]any:
				for _, y := range x {
					walk(y)
				}
			case []map[string]any:
				for _, y := range x {
					walk(y)
				}
			case []string:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(e.Payload)
	}
}

// TestHostileMail: NUL bytes, invalid UTF-8, a huge body and many parts
// neither panic nor leak invalid text into payloads.
func TestHostileMail(t *testing.T) {
	head := "From: x@example.org\nX-DAK: dak process-upload\nX-Debian: DAK\nDebian-Archive-Action: accept\n" +
		"Subject: foo_1.0_source.changes ACCEPTED into unstable\n"
	changes := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nFormat: 1.8\nSource: f\xffo\x00o\n" +
		"Version: 1.0\nChanged-By: \xc3\x28 <a@b>\nChanges:\n f\xe9o \x00\n .\n" +
		"Files:\n 00 1 a b c\n" + "-----BEGIN PGP SIGNATURE-----\n\n\xff\xfe\n-----END PGP SIGNATURE-----\n"
	var many strings.Builder
	many.WriteString(head + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&many, "--b\nContent-Type: text/plain\n\n%s\n", changes)
	}
	many.WriteString("--b--\n")
	mails := map[string]string{
		"8bit no charset": head + "\n" + changes,
		"utf-8 declared":  head + "Content-Type: text/plain; charset=utf-8\n\n" + changes,
		"huge":            head + "\n" + changes + strings.Repeat("Closes: 1 2 3\n", 4<<20),
		"10000 parts":     many.String(),
		"empty":           head + "\n",
	}
	p := New(Options{Compat: true, Keyring: nil})
	for name, raw := range mails {
		m, err := parsers.ReadMessage([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		evs, claimed, _ := p.Parse(m)
		if !claimed || len(evs) == 0 || evs[0].Name() != "dak.package.upload" {
			t.Errorf("%s: %v %v", name, claimed, names(evs))
		}
		checkPayloads(t, evs)
	}
}
