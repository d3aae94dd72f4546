package auth

import (
	"bytes"
	"context"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/parsers"
	"github.com/emersion/go-msgauth/dkim"
)

// captureHash is a hash.Hash that keeps what is written to it, so that
// the tests read the canonical forms themselves.
type captureHash struct{ bytes.Buffer }

func (c *captureHash) Sum(b []byte) []byte { return append(b, c.Bytes()...) }
func (c *captureHash) Size() int           { return 0 }
func (c *captureHash) BlockSize() int      { return 1 }

var _ hash.Hash = (*captureHash)(nil)

func canonical(f func(w *hashWriter)) string {
	c := &captureHash{}
	w := &hashWriter{h: c}
	f(w)
	w.flush()
	return c.String()
}

// The example of RFC 6376 section 3.4.5, both canonicalizations, and
// the same with LF line ends (which count as CRLF).
func TestCanonicalRFCExample(t *testing.T) {
	head := "A: X\r\nB : Y\t\r\n\tZ  \r\n"
	body := " C \r\nD \t E\r\n\r\n\r\n"
	for _, lf := range []bool{false, true} {
		h, b := head, body
		if lf {
			h, b = strings.ReplaceAll(h, "\r\n", "\n"), strings.ReplaceAll(b, "\r\n", "\n")
		}
		hd := scanHeader([]byte(h + "\r\n" + b))
		if len(hd.fields) != 2 || string(hd.body) != b {
			t.Fatalf("lf %v: fields %d, body %q", lf, len(hd.fields), hd.body)
		}
		fields := func(relaxed bool) string {
			return canonical(func(w *hashWriter) {
				for _, f := range hd.fields {
					canonField(w, f.raw, relaxed, true)
				}
			})
		}
		if got, want := fields(true), "a:X\r\nb:Y Z\r\n"; got != want {
			t.Errorf("lf %v: relaxed header %q, want %q", lf, got, want)
		}
		if got, want := fields(false), head; got != want {
			t.Errorf("lf %v: simple header %q, want %q", lf, got, want)
		}
		if got, want := canonical(func(w *hashWriter) { relaxedBody(w, hd.body) }), " C\r\nD E\r\n"; got != want {
			t.Errorf("lf %v: relaxed body %q, want %q", lf, got, want)
		}
		if got, want := canonical(func(w *hashWriter) { simpleBody(w, hd.body) }), " C \r\nD \t E\r\n"; got != want {
			t.Errorf("lf %v: simple body %q, want %q", lf, got, want)
		}
	}
	// Empty bodies: "" relaxed, one CRLF simple.
	for _, b := range []string{"", "\r\n", "\n\n \t\r\n"} {
		if got := canonical(func(w *hashWriter) { relaxedBody(w, []byte(b)) }); got != "" {
			t.Errorf("relaxed %q: %q", b, got)
		}
	}
	if got := canonical(func(w *hashWriter) { simpleBody(w, []byte("\r\n\r\n")) }); got != "\r\n" {
		t.Errorf("simple empty: %q", got)
	}
}

// The b= value goes, wherever the tag is and however it is folded.
func TestWithoutB(t *testing.T) {
	for in, want := range map[string]string{
		"DKIM-Signature: v=1; b=abc\r\n\tdef; bh=xyz\r\n": "DKIM-Signature: v=1; b=; bh=xyz\r\n",
		"DKIM-Signature: v=1; bh=xyz; b=abc\r\n def\r\n":  "DKIM-Signature: v=1; bh=xyz; b=\r\n",
		"DKIM-Signature: v=1; bh=xb=; b = abc\n":          "DKIM-Signature: v=1; bh=xb=; b =\n",
		"DKIM-Signature: v=1; bh=xyz\r\n":                 "DKIM-Signature: v=1; bh=xyz\r\n",
	} {
		if got := string(withoutB([]byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// txtResolver answers the one key record it holds for every name.
type txtResolver string

func (r txtResolver) TXT(context.Context, string) ([]string, time.Duration, error) {
	return []string{string(r)}, time.Hour, nil
}

// agree checks raw with this package's verifier and with go-msgauth's,
// the same key record answering both, and fails the test when they do not
// both pass or both not pass.
func agree(t *testing.T, v *Verifier, record string, raw []byte, what string) bool {
	t.Helper()
	theirs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{record}, nil },
	})
	theirPass := err == nil && len(theirs) > 0 && theirs[0].Err == nil
	h := scanHeader(raw)
	if len(h.sigs) == 0 {
		if theirPass {
			t.Errorf("%s: go-msgauth passes a signature this verifier does not see", what)
		}
		return false
	}
	var bodies bodyHashes
	res, why := v.verifySig(&h, &h.sigs[0], &bodies)
	if (res == ResultPass) != theirPass {
		var theirErr error = err
		if err == nil && len(theirs) > 0 {
			theirErr = theirs[0].Err
		}
		t.Errorf("%s: this verifier %s (%s), go-msgauth %v", what, res, why, theirErr)
	}
	return res == ResultPass
}

// Every corpus mail, signed afresh by go-msgauth's signer with each
// canonicalization (CRLF and LF line ends alike), then changed in ways
// that keep or break each canonicalization: this verifier and
// go-msgauth's agree on every one, and the unchanged ones pass.
func TestVerifyAgreesWithGoMsgauth(t *testing.T) {
	files, err := filepath.Glob("../../testdata/mails/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	key := authtest.Ed25519Key(t)
	rsaKey := authtest.RSAKey(t)
	vs := map[*authtest.Key]*Verifier{}
	for _, k := range []*authtest.Key{key, rsaKey} {
		v, err := New(trustConfig("127.0.0.1:9"), txtResolver(k.Record))
		if err != nil {
			t.Fatal(err)
		}
		vs[k] = v
	}
	changes := []struct {
		name string
		f    func([]byte) []byte
	}{
		{"trailing space on a body line", func(b []byte) []byte { return bytes.Replace(b, []byte("\n\n"), []byte("\n\n \t"), 1) }},
		{"doubled space in the body", func(b []byte) []byte {
			i := bytes.Index(b, []byte("\n\n"))
			j := bytes.IndexByte(b[i+2:], ' ')
			if j < 0 {
				return nil
			}
			return append(append(append([]byte(nil), b[:i+2+j]...), ' '), b[i+2+j:]...)
		}},
		{"empty lines appended", func(b []byte) []byte { return append(append([]byte(nil), b...), "\n\n\n"...) }},
		{"line appended", func(b []byte) []byte { return append(append([]byte(nil), b...), "x\n"...) }},
		{"Subject refolded", func(b []byte) []byte { return bytes.Replace(b, []byte("\nSubject: "), []byte("\nSubject:\n\t  "), 1) }},
		{"From name changed", func(b []byte) []byte { return bytes.Replace(b, []byte("\nFrom: "), []byte("\nFrom: X"), 1) }},
		{"Subject name in upper case", func(b []byte) []byte { return bytes.Replace(b, []byte("\nSubject:"), []byte("\nSUBJECT:"), 1) }},
	}
	passed := 0
	for n, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsers.ReadMessage(raw); err != nil {
			continue
		}
		k := key
		if n%8 == 0 {
			k = rsaKey // RSA signing is slow: one mail in eight
		}
		for _, c := range []dkim.Canonicalization{dkim.CanonicalizationRelaxed, dkim.CanonicalizationSimple} {
			for _, lf := range []bool{false, true} {
				m := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
				if !lf {
					m = bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
				}
				signed := signWith(t, m, c, k)
				what := filepath.Base(file) + " " + string(c)
				if lf {
					what += " LF"
				}
				if !agree(t, vs[k], k.Record, signed, what) {
					t.Errorf("%s: does not pass", what)
				}
				passed++
				for _, ch := range changes {
					if changed := ch.f(signed); changed != nil {
						agree(t, vs[k], k.Record, changed, what+", "+ch.name)
					}
				}
			}
		}
	}
	if passed < 400 {
		t.Errorf("only %d signed mails", passed)
	}
}

func signWith(t testing.TB, raw []byte, c dkim.Canonicalization, k *authtest.Key) []byte {
	t.Helper()
	if bytes.HasPrefix(raw, []byte("From ")) {
		raw = raw[bytes.IndexByte(raw, '\n')+1:]
	}
	raw = authtest.StripField(raw, "DKIM-Signature")
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: "bugs.example.org", Selector: "sel1", Signer: k.Signer,
		HeaderCanonicalization: c, BodyCanonicalization: c,
		HeaderKeys: []string{"From", "Subject", "Date", "To", "Message-ID", "Subject"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// FuzzCanonicalAgree signs arbitrary header values and bodies with
// go-msgauth's signer (both canonicalizations, Ed25519) and checks that
// this verifier passes them: both read the canonical forms alike.
func FuzzCanonicalAgree(f *testing.F) {
	key := authtest.Ed25519Key(f)
	v, err := New(trustConfig("127.0.0.1:9"), txtResolver(key.Record))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bug#1: x", " C \r\nD \t E\r\n\r\n\r\n", false)
	f.Add("a\r\n\t b  ", "\n\n \tx\r\r\n\t\n", true)
	f.Add("", "", false)
	f.Add(" ", "\r", true)
	f.Fuzz(func(t *testing.T, subject, body string, simple bool) {
		if strings.ContainsAny(subject, "\r\n") && !validFolding(subject) {
			return
		}
		raw := []byte("From: a@bugs.example.org\r\nSubject: " + subject + "\r\nTo: b@example.net\r\n\r\n" + body)
		c := dkim.Canonicalization(dkim.CanonicalizationRelaxed)
		if simple {
			c = dkim.CanonicalizationSimple
		}
		var out bytes.Buffer
		err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
			Domain: "bugs.example.org", Selector: "sel1", Signer: key.Signer,
			HeaderCanonicalization: c, BodyCanonicalization: c,
		})
		if err != nil {
			return
		}
		agree(t, v, key.Record, out.Bytes(), "fuzz")
	})
}

// validFolding reports whether every line break of a header value s is
// CRLF followed by white space (a folded field).
func validFolding(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+2 >= len(s) || s[i+1] != '\n' || (s[i+2] != ' ' && s[i+2] != '\t') {
				return false
			}
		case '\n':
			if i == 0 || s[i-1] != '\r' {
				return false
			}
		}
	}
	return true
}
