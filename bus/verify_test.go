package bus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// keyFiles generates an Ed25519 key and returns a signer and a keyring
// file holding its public half.
func keyFiles(t testing.TB) (*OpenPGPSigner, string) {
	t.Helper()
	sec, pub, _, err := GenerateKey("mailgw test", "mailgw@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "pub.asc")
	if err := os.WriteFile(f, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return writeSigner(t, sec), f
}

func signedEnv(t testing.TB, s Signer) *Envelope {
	t.Helper()
	env := NewEnvelope("org.debian.dev.dak.package.upload", testMsg(), MsgID(2026, "mail-1/upload"), 1790000000, "mailgw")
	if err := Sign(env, s); err != nil {
		t.Fatal(err)
	}
	return env
}

// reparse sends env over the wire form and back, as a consumer sees it.
func reparse(t testing.TB, env *Envelope) *Envelope {
	t.Helper()
	body, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyGoSignature(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, err := LoadKeyring(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	env := reparse(t, signedEnv(t, s))
	fpr, err := kr.Verify(env, &Policy{Prefixes: map[string][]string{"org.debian.dev.dak": {s.Fingerprint()}}, Nitpicky: true})
	if err != nil || fpr != s.Fingerprint() {
		t.Fatalf("Verify: %q, %v; want %s", fpr, err, s.Fingerprint())
	}
	// 2013-era framing: wrapped at 76 columns with a final newline.
	raw, _ := base64.StdEncoding.DecodeString(env.Signature)
	env.Signature = wrap76(raw)
	if _, err := kr.Verify(env, nil); err != nil {
		t.Fatalf("wrapped base64: %v", err)
	}
}

// TestVerifyRejects: each kind of bad envelope fails with its own error.
func TestVerifyRejects(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, _ := LoadKeyring(pubFile)
	other, _ := keyFiles(t)
	expired := expiredSigner(t)
	krExp := &Keyring{}
	krExp.Add(expired.entity)

	cases := []struct {
		name   string
		kr     *Keyring
		mutate func(e *Envelope)
		policy *Policy
		want   error
		text   string
	}{
		{"unsigned", kr, func(e *Envelope) { e.Signature, e.Crypto = "", "" }, nil, ErrUnsigned, "no signature"},
		{"not base64", kr, func(e *Envelope) { e.Signature = "!!!" }, nil, ErrBadEncoding, "not base64"},
		{"not a signature", kr, func(e *Envelope) { e.Signature = base64.StdEncoding.EncodeToString([]byte("hello")) }, nil, ErrBadEncoding, "OpenPGP"},
		{"x509", kr, func(e *Envelope) { e.Crypto = "x509" }, nil, ErrBadEncoding, `crypto "x509"`},
		{"changed msg", kr, func(e *Envelope) { e.Msg["source"] = "evil" }, nil, ErrBadSignature, s.Fingerprint()},
		{"other bytes", kr, func(e *Envelope) { e.Signature = sigOver(t, s, []byte(`{"other":1}`)) }, nil, ErrBadSignature, "does not match"},
		{"unknown key", kr, func(e *Envelope) { Sign(e, other) }, nil, ErrUnknownKey, other.Fingerprint()},
		{"expired key", krExp, func(e *Envelope) { Sign(e, expired) }, nil, ErrKeyExpired, "has expired"},
		{"topic", kr, func(e *Envelope) { e.Topic = "org.debian.prod.dak.package.upload" }, nil, ErrBindingMismatch, "topic"},
		{"msg_id", kr, func(e *Envelope) { e.MsgID = "2026-0" }, nil, ErrBindingMismatch, "msg_id"},
		{"timestamp", kr, func(e *Envelope) { e.Timestamp++ }, nil, ErrBindingMismatch, "timestamp"},
		{"stripped binding", kr, func(e *Envelope) { delete(e.Msg, "mailgw") }, nil, ErrBadSignature, "does not match"},
		{"unbound own topic", kr, func(e *Envelope) { delete(e.Msg, "mailgw"); Sign(e, s) }, &Policy{RequireBinding: []string{"org.debian.*.dak"}},
			ErrBindingMismatch, `msg.mailgw is missing, but topics under "org.debian.*.dak" must be bound`},
		{"binding not an object", kr, func(e *Envelope) { e.Msg["mailgw"] = "x"; Sign(e, s) }, nil, ErrBindingMismatch, "msg.mailgw is a string, want an object"},
		{"policy", kr, nil, &Policy{Prefixes: map[string][]string{
			"org.debian":         {s.Fingerprint()},
			"org.debian.dev.dak": {other.Fingerprint()},
		}}, ErrPolicy, `may not sign topic "org.debian.dev.dak.package.upload" (prefix "org.debian.dev.dak")`},
		{"nitpicky", kr, nil, &Policy{Prefixes: map[string][]string{"org.debian.dev.debbugs": {s.Fingerprint()}}, Nitpicky: true},
			ErrPolicy, "not covered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := reparse(t, signedEnv(t, s))
			if c.mutate != nil {
				c.mutate(env)
			}
			_, err := c.kr.Verify(env, c.policy)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v; want %v containing %q", err, c.want, c.text)
			}
		})
	}
}

// TestPolicyMatching: longest prefix wins, prefixes match at dots, and
// fingerprints compare without case, spaces or 0x; long key IDs match.
func TestPolicyMatching(t *testing.T) {
	const a, b = "AAAA1111AAAA1111AAAA1111AAAA1111AAAA1111", "BBBB2222BBBB2222BBBB2222BBBB2222BBBB2222"
	p := &Policy{Prefixes: map[string][]string{
		"org.debian":         {a},
		"org.debian.dev.dak": {strings.ToLower(b[:20]) + " " + b[20:]},
		"org.debian.prod.":   {"0x" + a[24:]},
	}, Nitpicky: true}
	for _, c := range []struct {
		topic, fpr string
		ok         bool
	}{
		{"org.debian.dev.dak.package.upload", b, true},
		{"org.debian.dev.dak.package.upload", a, false},
		{"org.debian.dev.dakx.package", a, true},
		{"org.debian.prod.debbugs.bug.report", a, true},
		{"org.debianx.dev.x", a, false},
		{"org.debian", a, true},
	} {
		if err := p.check(c.topic, c.fpr); (err == nil) != c.ok {
			t.Errorf("%s by %s: %v, want ok=%v", c.topic, c.fpr[:4], err, c.ok)
		}
	}
}

// expiredSigner makes an Ed25519 key created two days ago that expired an
// hour after creation.
func expiredSigner(t testing.TB) *OpenPGPSigner {
	t.Helper()
	cfg, _ := KeyConfig(0)
	past := time.Now().Add(-48 * time.Hour)
	cfg.Time = func() time.Time { return past }
	cfg.KeyLifetimeSecs = 3600
	sec, _, _, err := GenerateKeyWithConfig("expired", "old@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(sec))
	if err != nil {
		t.Fatal(err)
	}
	if f := filepath.Join(t.TempDir(), "sec.asc"); os.WriteFile(f, sec, 0o600) == nil {
		if _, err := LoadSigner(f, ""); err == nil {
			t.Fatal("LoadSigner accepted an expired key")
		}
	}
	return NewSigner(el[0], el[0].PrivateKey)
}

func sigOver(t testing.TB, s Signer, data []byte) string {
	t.Helper()
	sig, err := s.SignDetached(data)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// TestSignMarshal: the one-pass body equals Sign followed by Marshal (up
// to the signature, which is salted) and verifies.
func TestSignMarshal(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, _ := LoadKeyring(pubFile)
	env := NewEnvelope("org.debian.dev.x.y.z", testMsg(), "2026-a", 5, "u")
	env.I, env.SeqID = 7, 9
	body, err := SignMarshal(env, s)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := env.Marshal()
	if string(body) != string(want) {
		t.Fatalf("SignMarshal:\n got %s\nwant %s", body, want)
	}
	if _, err := kr.Verify(reparse(t, env), nil); err != nil {
		t.Fatal(err)
	}
	env.Msg["bad"] = math.NaN()
	if _, err := SignMarshal(env, s); err == nil || err.Error() != "msg.bad: "+ErrNonFinite {
		t.Fatalf("NaN: %v", err)
	}
}

// TestVerifyClockSkew: a signature from a publisher whose clock is a
// minute ahead verifies; one from an hour ahead does not.
func TestVerifyClockSkew(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, _ := LoadKeyring(pubFile)
	s.now = func() time.Time { return time.Now().Add(time.Minute) }
	if _, err := kr.Verify(reparse(t, signedEnv(t, s)), nil); err != nil {
		t.Fatalf("1 minute ahead: %v", err)
	}
	s.now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := kr.Verify(reparse(t, signedEnv(t, s)), nil); !errors.Is(err, ErrFutureSignature) || !strings.Contains(err.Error(), "clock skew") {
		t.Fatalf("1 hour ahead: %v", err)
	}
}

// TestVerifyUnbound: an envelope without msg.mailgw (as fedmsg publishes
// them) verifies when its signature over msg does, whether or not a
// policy requires binding elsewhere; it is reported unbound, and its
// unsigned topic may change (as in fedmsg) while its msg may not.
func TestVerifyUnbound(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, _ := LoadKeyring(pubFile)
	env := NewEnvelope("org.fedoraproject.prod.bodhi.update.request", map[string]any{"update": "x", "karma": 1.5}, "2026-foreign", 1790000002, "fedmsg")
	delete(env.Msg, "mailgw")
	if err := Sign(env, s); err != nil {
		t.Fatal(err)
	}
	pol := &Policy{RequireBinding: []string{"org.debian.*.dak", "org.fedoraproject.prod.fas"}}
	for _, p := range []*Policy{nil, pol} {
		got := reparse(t, env)
		if fpr, err := kr.Verify(got, p); err != nil || fpr != s.Fingerprint() {
			t.Fatalf("policy %v: %q, %v", p, fpr, err)
		}
		if got.Bound() {
			t.Fatal("reported bound")
		}
	}
	moved := reparse(t, env)
	moved.Topic, moved.MsgID, moved.Timestamp = "org.fedoraproject.prod.other", "2026-other", 1
	if _, err := kr.Verify(moved, pol); err != nil {
		t.Fatalf("unsigned fields of an unbound envelope: %v", err)
	}
	moved.Topic = "org.fedoraproject.prod.fas.user.create"
	if _, err := kr.Verify(moved, pol); !errors.Is(err, ErrBindingMismatch) {
		t.Fatalf("moved under a prefix that must be bound: %v", err)
	}
	changed := reparse(t, env)
	changed.Msg["karma"] = json.Number("2.5")
	if _, err := kr.Verify(changed, pol); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed msg: %v", err)
	}
	if !reparse(t, signedEnv(t, s)).Bound() {
		t.Fatal("mailgw's own envelope reported unbound")
	}
}

func TestPatternMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, topic string
		ok             bool
	}{
		{"org.debian.*.dak", "org.debian.prod.dak.package.upload", true},
		{"org.debian.*.dak", "org.debian.dev.dak", true},
		{"org.debian.*.dak", "org.debian.dev.dakx.package", false},
		{"org.debian.*.dak", "org.debian.dev", false},
		{"org.debian.*.dak.", "org.debian.stg.dak.x", true},
		{"org.debian.prod", "org.debian.prod.x", true},
		{"org.debian.prod", "org.debian.production", false},
		{"*", "anything.at.all", true},
		{"", "x", true},
	} {
		if got := patternMatches(c.pattern, c.topic); got != c.ok {
			t.Errorf("patternMatches(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.ok)
		}
	}
}
