//go:build e2e

package bus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/gpgtest"
)

// gpgVerify writes sig and data to files and runs gpg --verify on them.
func gpgVerify(t *testing.T, home string, sig, data []byte) (int, string) {
	t.Helper()
	dir := t.TempDir()
	sf, df := filepath.Join(dir, "sig"), filepath.Join(dir, "data")
	os.WriteFile(sf, sig, 0o644)
	os.WriteFile(df, data, 0o644)
	return gpgtest.Run(t, home, nil, "--verify", sf, df)
}

// TestGPGVerifiesGoSignatures: a key made by GenerateKey imports into
// GnuPG 2.2 and gpg --verify accepts the signature over the canonical msg
// and rejects it over a changed msg.
func TestGPGVerifiesGoSignatures(t *testing.T) {
	for _, c := range []struct {
		name string
		bits int
	}{{"ed25519", 0}, {"rsa2048", 2048}, {"rsa3072", 3072}} {
		t.Run(c.name, func(t *testing.T) {
			sec, pub, fpr, err := GenerateKey("mailgw test", "mailgw@example.org", c.bits)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sec, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) ||
				!bytes.HasPrefix(pub, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) || len(fpr) != 40 {
				t.Fatalf("bad key output: fpr %q", fpr)
			}
			home := gpgtest.Home(t)
			if rc, out := gpgtest.Run(t, home, pub, "--import"); rc != 0 {
				t.Fatalf("gpg --import: rc %d\n%s", rc, out)
			}
			// Trust is irrelevant to --verify's exit code, but GnuPG must
			// list the key under the fingerprint GenerateKey reported.
			if rc, out := gpgtest.Run(t, home, nil, "--with-colons", "--fingerprint", fpr); rc != 0 || !strings.Contains(out, "fpr:::::::::"+fpr+":") {
				t.Fatalf("gpg does not know %s: rc %d\n%s", fpr, rc, out)
			}
			s := writeSigner(t, sec)
			env := NewEnvelope("org.debian.dev.dak.package.upload", testMsg(), MsgID(2026, "x"), 1790000000, "mailgw")
			if err := Sign(env, s); err != nil {
				t.Fatal(err)
			}
			if env.Crypto != "gpg" || strings.ContainsAny(env.Signature, "\n ") {
				t.Fatalf("crypto %q signature %q", env.Crypto, env.Signature)
			}
			sig, err := base64.StdEncoding.DecodeString(env.Signature)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := Canonical(env.Msg)
			if rc, out := gpgVerify(t, home, sig, data); rc != 0 || !strings.Contains(out, "Good signature") {
				t.Fatalf("gpg --verify: rc %d\n%s", rc, out)
			}
			env.Msg["source"] = "hellO"
			changed, _ := Canonical(env.Msg)
			if rc, out := gpgVerify(t, home, sig, changed); rc != 1 || !strings.Contains(out, "BAD signature") {
				t.Fatalf("gpg --verify on a changed msg: rc %d, want 1\n%s", rc, out)
			}
		})
	}
}

// fedmsgValidate does what fedmsg.crypto.gpg.validate does, in Debian's
// /usr/bin/python3: parse the wire body, re-encode msg with fedmsg's
// canonical json.dumps, base64-decode the signature (b64decode skips
// newlines) and run gpg --verify on the two temp files. It returns gpg's
// exit code.
const fedmsgValidate = `import base64, json, subprocess, sys, tempfile
body = json.loads(sys.stdin.read())
data = json.dumps(body['msg'], sort_keys=True, separators=(',', ':')).encode('utf-8')
sig = base64.b64decode(body['signature'])
with tempfile.NamedTemporaryFile() as d, tempfile.NamedTemporaryFile() as s:
    d.write(data); d.flush(); s.write(sig); s.flush()
    rc = subprocess.call(['gpg', '--homedir', sys.argv[1], '--batch', '--verify', s.name, d.name],
                         stderr=subprocess.DEVNULL)
sys.exit(rc)
`

// TestFedmsgStyleValidation: a wire body signed by mailgw passes a
// fedmsg-style validator (Python canonical JSON + real gpg), and fails it
// once msg is changed.
func TestFedmsgStyleValidation(t *testing.T) {
	sec, pub, _, err := GenerateKey("mailgw test", "mailgw@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	home := gpgtest.Home(t)
	if rc, out := gpgtest.Run(t, home, pub, "--import"); rc != 0 {
		t.Fatalf("gpg --import: %s", out)
	}
	env := NewEnvelope("org.debian.dev.dak.package.upload", testMsg(), MsgID(2026, "f"), 1790000000, "mailgw")
	env.Msg["big"] = json.Number("123456789012345678901234567890")
	body, err := SignMarshal(env, writeSigner(t, sec))
	if err != nil {
		t.Fatal(err)
	}
	run := func(body []byte) int {
		cmd := exec.Command("/usr/bin/python3", "-c", fedmsgValidate, home)
		cmd.Stdin = bytes.NewReader(body)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("/usr/bin/python3: %v", err)
		}
		return 0
	}
	if rc := run(body); rc != 0 {
		t.Fatalf("fedmsg-style validation: gpg rc %d\n%s", rc, body)
	}
	if rc := run(bytes.Replace(body, []byte(`"source":"hello"`), []byte(`"source":"hellp"`), 1)); rc != 1 {
		t.Fatalf("changed msg: gpg rc %d, want 1", rc)
	}
}
