package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/dnsq"
	"github.com/debian/mailgw/parsers"
)

// fixedResolver answers every TXT lookup with one record, or a temporary
// failure for names starting with "temp".
type fixedResolver struct{ record string }

func (r fixedResolver) TXT(_ context.Context, name string) ([]string, time.Duration, error) {
	if strings.HasPrefix(name, "temp") {
		return nil, 0, &dnsq.TempError{Err: errors.New("down")}
	}
	return []string{r.record}, time.Minute, nil
}

var validResults = map[string]bool{ResultPass: true, ResultFail: true, ResultPolicy: true, ResultTempError: true, ResultPermError: true}

// FuzzDKIMSignature feeds arbitrary DKIM-Signature values: every one
// gets a valid result, names stay bounded and valid UTF-8, nothing
// panics.
func FuzzDKIMSignature(f *testing.F) {
	key := authtest.RSAKey(f)
	signed := authtest.Sign(f, []byte(testMail), "bugs.example.org", "sel1", key)
	sig, _, _ := strings.Cut(string(signed), "\r\nFrom:")
	f.Add(strings.TrimPrefix(sig, "DKIM-Signature:"))
	for _, s := range []string{
		"", "v=1", "v=1; a=rsa-sha256; d=; s=; h=; bh=; b=",
		"v=1; a=ed25519-sha256; d=x.example; s=temp; h=from:subject; bh=AA==; b=AA==",
		"v=1; a=rsa-sha256; q=dns/txt; c=relaxed/relaxed; d=a.example; s=s; h=From:Subject; bh=AA==; b=AA==; l=3",
		"v=1; d=a.example; s=s; x=1; t=2; i=@b.example",
		"v=1;;;;=;==;d==;s=\x00\xff",
	} {
		f.Add(s)
	}
	tc := trustConfig("127.0.0.1:9")
	v, err := New(tc, fixedResolver{record: key.Record})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		raw := []byte("DKIM-Signature: " + value + "\r\n" + testMail)
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			return
		}
		d := v.Check(m, Intake{}, debbugsEvents)
		if !strings.ContainsAny(value, "\r\n") && len(d.DKIM) == 0 {
			t.Fatalf("no result for %q", value)
		}
		for _, s := range d.DKIM {
			if !validResults[s.Result] || len(s.Domain) > maxName || len(s.Selector) > maxName || !utf8.ValidString(s.Domain+s.Selector) {
				t.Fatalf("%q: %+v", value, s)
			}
		}
	})
}

// FuzzAuthResults feeds arbitrary Authentication-Results values to the
// parser and to the trust decision: nothing panics, and a value without
// comments is parsed as it stands.
func FuzzAuthResults(f *testing.F) {
	for _, s := range []string{
		"mx.example.net; dkim=pass (2048-bit key; unprotected) header.d=bugs.example.org header.i=@bugs.example.org header.b=\"abc\"",
		"mx.example.net 1; spf=none smtp.mailfrom=x; dmarc=none (p=none dis=none) header.from=bugs.debian.org",
		"mx.example.net; none", "mx.example.net 2; dkim=pass", "; ; ;", "(((", "a \"b (c\" (d", "x; arc=pass header.oldest-pass=0",
	} {
		f.Add(s)
	}
	tc := trustConfig("127.0.0.1:9")
	tc.DKIM = false
	tc.TrustedAuthservIDs = []string{"mx.example.net"}
	v := newVerifier(f, tc)
	f.Fuzz(func(t *testing.T, value string) {
		if !strings.ContainsRune(value, '(') && stripComments(value) != value {
			t.Fatalf("comment-free %q changed", value)
		}
		if len(stripComments(value)) > len(value) {
			t.Fatalf("stripComments grew %q", value)
		}
		ParseAuthResults(value)
		raw := []byte("Authentication-Results: " + value + "\r\n" + testMail)
		if m, err := parsers.ReadMessage(raw); err == nil {
			if d := v.Check(m, Intake{}, debbugsEvents); d.Trusted {
				t.Fatalf("%q: trusted without a signature", value)
			}
		}
	})
}
