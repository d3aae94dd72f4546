package bus

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// TestLoadSignerPassphrase: a passphrase-protected key (made by go-crypto)
// loads with the right passphrase file, and fails clearly without one or
// with a wrong one.
func TestLoadSignerPassphrase(t *testing.T) {
	cfg, _ := KeyConfig(0)
	e, err := openpgp.NewEntity("p", "", "p@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EncryptPrivateKeys([]byte("correct horse"), cfg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivateWithoutSigning(w, cfg); err != nil {
		t.Fatal(err)
	}
	w.Close()
	dir := t.TempDir()
	keyFile, good, bad := filepath.Join(dir, "k.asc"), filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(keyFile, buf.Bytes(), 0o600)
	os.WriteFile(good, []byte("correct horse\n"), 0o600)
	os.WriteFile(bad, []byte("wrong\n"), 0o600)

	if _, err := LoadSigner(keyFile, ""); err == nil || !strings.Contains(err.Error(), "passphrase-protected") {
		t.Errorf("no passphrase: %v", err)
	}
	if _, err := LoadSigner(keyFile, bad); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	s, err := LoadSigner(keyFile, good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != Fingerprint(e) {
		t.Errorf("fingerprint %s, want %s", s.Fingerprint(), Fingerprint(e))
	}
	kr := &Keyring{}
	kr.Add(e)
	if _, err := kr.Verify(signedEnv(t, s), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(filepath.Join(dir, "missing"), ""); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	pubOnly := filepath.Join(dir, "pub.asc")
	_, pub, _, _ := GenerateKey("x", "x@example.org", 0)
	os.WriteFile(pubOnly, pub, 0o644)
	if _, err := LoadSigner(pubOnly, ""); err == nil || !strings.Contains(err.Error(), "no usable secret signing key") {
		t.Errorf("public key as signing key: %v", err)
	}
}

// TestVerifyRevokedKey: a signature by a key that has since been revoked
// is refused.
func TestVerifyRevokedKey(t *testing.T) {
	cfg, _ := KeyConfig(0)
	e, err := openpgp.NewEntity("r", "", "r@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(e, e.PrivateKey)
	env := reparse(t, signedEnv(t, s))
	if err := e.RevokeKey(packet.KeyCompromised, "test", cfg); err != nil {
		t.Fatal(err)
	}
	// Round-trip the public key so the revocation comes from the file.
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "revoked.gpg")
	os.WriteFile(f, buf.Bytes(), 0o644)
	kr, err := LoadKeyring(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(env, nil); !errors.Is(err, ErrKeyRevoked) || !strings.Contains(err.Error(), Fingerprint(e)) {
		t.Fatalf("got %v, want key revoked", err)
	}
}

// TestLoadKeyringErrors: unreadable, empty and garbage keyrings fail with
// the file's name; several armored blocks in one file all load.
func TestLoadKeyringErrors(t *testing.T) {
	dir := t.TempDir()
	empty, junk, multi := filepath.Join(dir, "empty"), filepath.Join(dir, "junk"), filepath.Join(dir, "multi.asc")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(junk, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n-----END PGP PUBLIC KEY BLOCK-----\n"), 0o644)
	_, a, fa, _ := GenerateKey("a", "a@example.org", 0)
	_, b, fb, _ := GenerateKey("b", "b@example.org", 0)
	os.WriteFile(multi, append(append([]byte("comment line\n"), a...), b...), 0o644)
	for _, f := range []string{filepath.Join(dir, "missing"), empty, junk} {
		if _, err := LoadKeyring(f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: %v", f, err)
		}
	}
	kr, err := LoadKeyring(multi)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kr.Fingerprints(), ","); got != fa+","+fb {
		t.Errorf("fingerprints %s, want %s,%s", got, fa, fb)
	}
}

// TestConcurrentSignVerify: one signer and one keyring shared by several
// goroutines (run with -race).
func TestConcurrentSignVerify(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, err := LoadKeyring(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 20 {
				env := NewEnvelope("org.debian.dev.a.b", map[string]any{"g": g, "i": i, "s": "é"}, MsgID(2026, "c"), 1, "u")
				body, err := SignMarshal(env, s)
				if err == nil {
					var e *Envelope
					if e, err = ParseEnvelope(body); err == nil {
						_, err = kr.Verify(e, nil)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// testMsg is a payload with non-ASCII text, nesting and lists.
func testMsg() map[string]any {
	return map[string]any{
		"source":  "hello",
		"version": "2.12-1",
		"changes": "é 😀 <tag> & \"quoted\"\n\ttab",
		"closes":  []any{123456, 654321},
		"files":   []any{map[string]any{"name": "hello_2.12-1.dsc", "size": 1234}},
	}
}

// writeSigner stores an armored secret key and loads it with LoadSigner.
func writeSigner(t testing.TB, sec []byte) *OpenPGPSigner {
	t.Helper()
	f := filepath.Join(t.TempDir(), "sec.asc")
	if err := os.WriteFile(f, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(f, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wrap76 is Python 2's str.encode('base64'): lines of 76 characters, each
// ending in a newline (fedmsg 0.7.x).
func wrap76(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(s) > 76 {
		sb.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	sb.WriteString(s + "\n")
	return sb.String()
}
