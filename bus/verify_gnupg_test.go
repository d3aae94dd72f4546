//go:build e2e

package bus

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/gpgtest"
)

// TestVerifyGnuPGSignature: signatures made by real GnuPG (Ed25519 and
// RSA keys from gpg --quick-gen-key) verify in Keyring.Verify, single-line
// and wrapped.
func TestVerifyGnuPGSignature(t *testing.T) {
	for _, algo := range []string{"ed25519", "rsa2048"} {
		t.Run(algo, func(t *testing.T) {
			home, fpr, pub := gpgtest.Key(t, algo)
			kf := filepath.Join(t.TempDir(), "pub.gpg") // binary keyring
			os.WriteFile(kf, pub, 0o644)
			kr, err := LoadKeyring(kf)
			if err != nil {
				t.Fatal(err)
			}
			env := NewEnvelope("org.debian.dev.debbugs.bug.report", testMsg(), MsgID(2026, "b"), 1790000001, "gpg")
			data, _ := Canonical(env.Msg)
			sig := gpgtest.Sign(t, home, fpr, data)
			env.Crypto, env.Signature = "gpg", base64.StdEncoding.EncodeToString(sig)
			got, err := kr.Verify(reparse(t, env), &Policy{Prefixes: map[string][]string{"org.debian": {fpr}}})
			if err != nil || got != fpr {
				t.Fatalf("Verify: %q, %v; want %s", got, err, fpr)
			}
			env.Signature = wrap76(sig)
			if _, err := kr.Verify(reparse(t, env), nil); err != nil {
				t.Fatalf("wrapped: %v", err)
			}
		})
	}
}

// TestVerifyRelayReencoded is fedmsg.md test 7: a relay re-encodes the
// body with plain json.dumps (", " and ": " separators, original key
// order); the parsed value still verifies.
func TestVerifyRelayReencoded(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, _ := LoadKeyring(pubFile)
	body, err := signedEnv(t, s).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", "import json,sys; d=json.load(sys.stdin); sys.stdout.write(json.dumps(dict(reversed(list(d.items())))))")
	cmd.Stdin = bytes.NewReader(body)
	relayed, err := cmd.Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3: %v", err)
	}
	if bytes.Equal(relayed, body) || !bytes.Contains(relayed, []byte(`": `)) {
		t.Fatalf("python did not re-encode: %s", relayed)
	}
	env, err := ParseEnvelope(relayed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(env, nil); err != nil {
		t.Fatalf("relayed body: %v", err)
	}
}

// TestVerifySHA1: a signature real GnuPG made with --digest-algo SHA1 is
// refused by default and accepted with AllowSHA1; the same key's SHA-256
// signature is accepted either way.
func TestVerifySHA1(t *testing.T) {
	home, fpr, pub := gpgtest.Key(t, "rsa2048")
	kf := filepath.Join(t.TempDir(), "pub.gpg")
	os.WriteFile(kf, pub, 0o644)
	kr, err := LoadKeyring(kf)
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnvelope("org.debian.dev.debbugs.bug.report", testMsg(), MsgID(2013, "sha1"), 1370000000, "gpg")
	data, _ := Canonical(env.Msg)
	sign := func(args ...string) string {
		return base64.StdEncoding.EncodeToString(gpgtest.Sign(t, home, fpr, data, args...))
	}
	env.Crypto = "gpg"
	env.Signature = sign("--digest-algo", "SHA1")
	_, err = kr.Verify(reparse(t, env), nil)
	if !errors.Is(err, ErrWeakHash) || !strings.Contains(err.Error(), "SHA-1") || !strings.Contains(err.Error(), "allow_sha1_signatures") {
		t.Fatalf("SHA-1 by default: %v", err)
	}
	kr.AllowSHA1 = true
	if got, err := kr.Verify(reparse(t, env), nil); err != nil || got != fpr {
		t.Fatalf("SHA-1 allowed: %q, %v", got, err)
	}
	kr.AllowSHA1 = false
	env.Signature = sign("--digest-algo", "SHA256")
	if _, err := kr.Verify(reparse(t, env), nil); err != nil {
		t.Fatalf("SHA-256: %v", err)
	}
}
