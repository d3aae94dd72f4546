package dak

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/debian/mailgw/parsers"
)

// FuzzParseChanges feeds arbitrary text to the .changes reader and its
// accessors; seeds are the .changes of the golden dak mails.
func FuzzParseChanges(f *testing.F) {
	f.Add(sampleChanges)
	f.Add(testChanges)
	f.Add("Files:\n \n Closes: 1\n- -----BEGIN\n")
	files, _ := filepath.Glob(filepath.Join(mailsDir, "0[0-9][0-9]-*.eml"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if loc, ok := findChanges(string(raw)); ok {
			f.Add(loc.para)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		loc, _ := findChanges(text)
		for _, s := range []string{text, loc.para} {
			ch := ParseChanges(s)
			for _, fl := range ch.Fields {
				if fl.Name == "" {
					t.Fatal("empty field name")
				}
			}
			_ = ch.Text("Changes")
			_ = ch.Files()
			_ = ch.Checksums("Checksums-Sha256")
			_ = compatPayloadIn(ch, &boxes{}, &fieldRows{})
			cl := ch.Closes()
			for i := 1; i < len(cl); i++ {
				if cl[i] <= cl[i-1] {
					t.Fatalf("Closes not sorted and unique: %v", cl)
				}
			}
		}
		_, _ = readSigInfo(loc.armor)
	})
}

// FuzzDak runs the shared decoder and the dak parser over arbitrary mail;
// seeds are the golden dak mails (testdata/mails/0NN-*.eml).
func FuzzDak(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(mailsDir, "0[0-9][0-9]-*.eml"))
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
	key := newKey(f, "fuzz")
	p := New(Options{Compat: true})
	pk := New(Options{Compat: true, Keyring: openpgp.EntityList{key}})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parsers.ReadMessage(raw)
		if err != nil || m == nil {
			return
		}
		for _, parser := range []*Parser{p, pk} {
			evs, claimed, _ := parser.Parse(m)
			if !claimed && len(evs) > 0 {
				t.Fatal("events from an unclaimed mail")
			}
			for _, e := range evs {
				if e.Payload == nil || e.Rule == "" {
					t.Fatalf("incomplete event %+v", e)
				}
			}
		}
	})
}
