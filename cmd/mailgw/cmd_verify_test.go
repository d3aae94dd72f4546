//go:build e2e

package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/gpgtest"
)

func TestKeygenCommand(t *testing.T) {
	dir := t.TempDir()
	sec, pub := filepath.Join(dir, "keys", "sign.asc"), filepath.Join(dir, "sign.pub.asc")
	rc, out, errOut := run(t, nil, "keygen", "--secret", sec, "--public", pub, "--name", "Test", "--email", "t@example.org")
	fpr := strings.TrimSpace(out)
	if rc != 0 || !regexp.MustCompile(`^[0-9A-F]{40}$`).MatchString(fpr) {
		t.Fatalf("keygen: rc %d stdout %q stderr %q", rc, out, errOut)
	}
	st, err := os.Stat(sec)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key mode: %v %v", st.Mode(), err)
	}
	s, err := bus.LoadSigner(sec, "")
	if err != nil || s.Fingerprint() != fpr {
		t.Fatalf("LoadSigner: %v, fingerprint %s want %s", err, s.Fingerprint(), fpr)
	}
	home := gpgtest.Home(t)
	pubData, _ := os.ReadFile(pub)
	gpgtest.Output(t, home, pubData, "--import")
	if listed := gpgtest.Output(t, home, nil, "--with-colons", "--fingerprint"); !bytes.Contains(listed, []byte(fpr)) {
		t.Fatalf("gpg does not list %s:\n%s", fpr, listed)
	}
	if rc, _, errOut := run(t, nil, "keygen", "--secret", sec, "--public", pub); rc != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("overwrite without --force: rc %d %q", rc, errOut)
	}
	if rc, _, _ := run(t, nil, "keygen", "--secret", sec, "--rsa", "1024"); rc != exitUsage {
		t.Fatalf("--rsa 1024: rc %d, want %d", rc, exitUsage)
	}
	// The default secret path is gpg_signing_key from the config.
	cfgKey := filepath.Join(dir, "cfg.asc")
	cfgFile := filepath.Join(dir, "mailgw.toml")
	os.WriteFile(cfgFile, []byte("gpg_signing_key = \""+cfgKey+"\"\n"), 0o644)
	if rc, _, errOut := run(t, nil, "keygen", "--config", cfgFile, "--rsa", "2048"); rc != 0 {
		t.Fatalf("keygen --config: rc %d %s", rc, errOut)
	}
	if _, err := bus.LoadSigner(cfgKey, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cfg.pub.asc")); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyCommandGnuPG: an envelope signed by real GnuPG verifies with
// "mailgw verify" (file, stdin, wrapped base64, config file), and a changed
// msg, an unknown key and a policy violation are reported as invalid.
func TestVerifyCommandGnuPG(t *testing.T) {
	home, fpr, pub := gpgtest.Key(t, "ed25519")
	dir := t.TempDir()
	keyring := filepath.Join(dir, "pub.gpg")
	os.WriteFile(keyring, pub, 0o644)

	env := bus.NewEnvelope("org.debian.dev.debbugs.bug.report", map[string]any{"bug": 1, "title": "ça <casse> 😀"},
		bus.MsgID(2026, "x"), 1790000000, "test")
	data, err := bus.Canonical(env.Msg)
	if err != nil {
		t.Fatal(err)
	}
	sig := gpgtest.Sign(t, home, fpr, data)
	env.Crypto, env.Signature = "gpg", base64.StdEncoding.EncodeToString(sig)
	body, _ := env.Marshal()
	envFile := filepath.Join(dir, "env.json")
	os.WriteFile(envFile, body, 0o644)

	valid := "valid: signed by " + fpr + "\n"
	check := func(name string, stdin []byte, wantRC int, want string, args ...string) {
		t.Helper()
		rc, out, errOut := run(t, stdin, append([]string{"verify"}, args...)...)
		got := out
		if wantRC != 0 {
			got = errOut
		}
		if rc != wantRC || !strings.Contains(got, want) {
			t.Errorf("%s: rc %d stdout %q stderr %q; want rc %d and %q", name, rc, out, errOut, wantRC, want)
		}
	}
	check("file", nil, 0, valid, "--keyring", keyring, "--policy-prefix", "org.debian.dev.debbugs="+fpr, envFile)
	check("stdin", body, 0, valid, "--keyring", keyring, "-")

	// fedmsg 0.7.x framing: 76-column lines, each ending in a newline.
	wrapped := base64.StdEncoding.EncodeToString(sig)
	env.Signature = ""
	for len(wrapped) > 76 {
		env.Signature += wrapped[:76] + "\n"
		wrapped = wrapped[76:]
	}
	env.Signature += wrapped + "\n"
	wbody, _ := env.Marshal()
	check("wrapped base64", wbody, 0, valid, "--keyring", keyring)

	cfg := filepath.Join(dir, "mailgw.toml")
	os.WriteFile(cfg, []byte("keyrings = [\""+keyring+"\"]\nrouting_nitpicky = true\n[routing_policy]\n\"org.debian.dev.dak\" = [\""+fpr+"\"]\n"), 0o644)
	check("config nitpicky", body, 1, "invalid: routing policy violation: topic \"org.debian.dev.debbugs.bug.report\" is not covered", "--config", cfg)
	os.WriteFile(cfg, []byte("keyrings = [\""+keyring+"\"]\n[routing_policy]\n\"org.debian.dev.debbugs\" = [\""+fpr+"\"]\n"), 0o644)
	check("config", body, 0, valid, "--config", cfg)

	check("policy", body, 1, "invalid: routing policy violation: key "+fpr, "--keyring", keyring,
		"--policy-prefix", "org.debian.dev.debbugs=0000000000000000000000000000000000000000")
	changed := bytes.Replace(body, []byte(`"bug":1`), []byte(`"bug":2`), 1)
	check("changed msg", changed, 1, "invalid: bad signature", "--keyring", keyring)
	other := filepath.Join(dir, "other.asc")
	_, otherPub, _, _ := bus.GenerateKey("o", "o@example.org", 0)
	os.WriteFile(other, otherPub, 0o644)
	check("unknown key", body, 1, "invalid: unknown key: signed by key "+fpr, "--keyring", other)
	check("infinity", []byte(`{"topic":"t","msg":{"a":1.5e999},"timestamp":1,"msg_id":"m"}`), 1, "invalid: invalid envelope: msg.a: NaN or infinity not allowed", "--keyring", keyring)
	check("not json", []byte("garbage"), 1, "invalid: invalid envelope: JSON", "--keyring", keyring)

	// A foreign fedmsg envelope: no msg.mailgw, a float in msg.
	foreign := &bus.Envelope{Topic: "org.fedoraproject.prod.bodhi.update.comment", Msg: map[string]any{"karma": 0.5, "user": "x"},
		MsgID: "2026-0e8c1c04-0b4a-4a35-9b6e-000000000000", Timestamp: 1790000000, Username: "bodhi", Crypto: "gpg"}
	gpgSignEnv := func(e *bus.Envelope, args ...string) []byte {
		data, err := bus.Canonical(e.Msg)
		if err != nil {
			t.Fatal(err)
		}
		e.Signature = base64.StdEncoding.EncodeToString(gpgtest.Sign(t, home, fpr, data, args...))
		b, _ := e.Marshal()
		return b
	}
	fbody := gpgSignEnv(foreign)
	check("unbound", fbody, 0, "valid: signed by "+fpr+", unbound: msg is signed, topic, msg_id and timestamp are not", "--keyring", keyring)
	os.WriteFile(cfg, []byte("keyrings = [\""+keyring+"\"]\nrequire_binding = [\"org.fedoraproject.*.bodhi\"]\n"), 0o644)
	check("require_binding", fbody, 1, `invalid: envelope binding mismatch: msg.mailgw is missing, but topics under "org.fedoraproject.*.bodhi" must be bound`, "--config", cfg)
	foreign.Topic = "org.debian.prod.dak.package.upload"
	check("own topic unbound", gpgSignEnv(foreign), 1, `topics under "org.debian.*.dak" must be bound`, "--keyring", keyring)

	// SHA-1 (GnuPG 1.4's default in 2013): refused unless the config allows it.
	sha1 := gpgSignEnv(env, "--digest-algo", "SHA1")
	check("sha1", sha1, 1, "invalid: weak signature hash: key "+fpr+" signed with SHA-1", "--keyring", keyring)
	os.WriteFile(cfg, []byte("keyrings = [\""+keyring+"\"]\nallow_sha1_signatures = true\n"), 0o644)
	check("sha1 allowed", sha1, 0, valid, "--config", cfg)
	check("no keyring", body, exitConfig, "no keyring")
	check("bad flag", body, exitUsage, "PREFIX=FINGERPRINT", "--keyring", keyring, "--policy-prefix", "nofpr")
}
