package dak

import (
	"bytes"
	"encoding/hex"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/debian/mailgw/parsers"
)

// newKey makes a throw-away Ed25519 signing key.
func newKey(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// clearsignText clearsigns text with e.
func clearsignText(t testing.TB, e *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, e.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const testChanges = "Format: 1.8\nDate: Mon, 01 Jan 2024 10:00:00 +0000\nSource: foo\n" +
	"Architecture: source\nVersion: 1.0-1\nDistribution: unstable\nUrgency: low\n" +
	"Maintainer: Foo Maintainer <foo@example.org>\nChanged-By: Foo Maintainer <foo@example.org>\n" +
	"Changes:\n foo (1.0-1) unstable; urgency=low\n .\n   * x=y, trailing blank here \n" +
	"Files:\n d41d8cd98f00b204e9800998ecf8427e 0 misc optional foo_1.0-1.dsc\n"

// acceptMail wraps a body in a dak maintainer ACCEPTED mail.
func acceptMail(extraHeaders string, body []byte) []byte {
	h := "From: Debian FTP Masters <ftpmaster@ftp-master.debian.org>\nTo: foo@example.org\n" +
		"X-DAK: dak process-upload\nX-Debian: DAK\nDebian: DAK\nDebian-Archive-Action: accept\n" +
		"Debian-Suite: unstable\nSubject: foo_1.0-1_source.changes ACCEPTED into unstable\n" +
		"Message-Id: <test@example.org>\nMIME-Version: 1.0\n" + extraHeaders + "\n"
	return append([]byte(h), body...)
}

// sigOf parses raw with p and returns the upload's signature object.
func sigOf(t *testing.T, p *Parser, raw []byte) map[string]any {
	t.Helper()
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	evs, claimed, _ := p.Parse(m)
	if !claimed || len(evs) == 0 || evs[0].Name() != "dak.package.upload" {
		t.Fatalf("not an upload: claimed=%v events=%v", claimed, evs)
	}
	if evs[0].Payload["source"] != "foo" {
		t.Errorf("source = %v", evs[0].Payload["source"])
	}
	return evs[0].Payload["signature"].(map[string]any)
}

func fpr(e *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

func TestSignatureInline(t *testing.T) {
	key, other := newKey(t, "uploader"), newKey(t, "stranger")
	signed := clearsignText(t, key, []byte(testChanges))
	body := append([]byte("Thank you for your contribution to Debian.\n\nAccepted:\n\n"), signed...)
	mail := acceptMail("Content-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: 8bit\n", body)

	s := sigOf(t, New(Options{}), mail)
	if s["present"] != true || s["valid"] != nil || s["keyring"] != nil || s["fingerprint"] != fpr(key) {
		t.Errorf("no keyring: %v (want valid null and the issuer fingerprint %s)", s, fpr(key))
	}
	s = sigOf(t, New(Options{Keyring: openpgp.EntityList{other, key}, KeyringName: "test-keyring"}), mail)
	if s["valid"] != true || s["keyring"] != "test-keyring" || s["fingerprint"] != fpr(key) {
		t.Errorf("good keyring: %v", s)
	}
	s = sigOf(t, New(Options{Keyring: openpgp.EntityList{other}}), mail)
	if s["valid"] != false || s["error"] != "key not in keyring" || s["fingerprint"] != fpr(key) {
		t.Errorf("wrong keyring: %v", s)
	}
	tampered := bytes.Replace(mail, []byte("urgency=low\n"), []byte("urgency=high\n"), 1)
	s = sigOf(t, New(Options{Keyring: openpgp.EntityList{key}}), tampered)
	if s["valid"] != false || s["keyring"] != nil {
		t.Errorf("tampered text verified: %v", s)
	}
}

func TestSignatureLatin1NoCharset(t *testing.T) {
	key := newKey(t, "uploader")
	latin1 := strings.Replace(testChanges, "Foo Maintainer", "Jos\xe9 Mart\xednez", 2)
	mail := acceptMail("", clearsignText(t, key, []byte(latin1)))
	m, _ := parsers.ReadMessage(mail)
	evs, _, _ := New(Options{Keyring: openpgp.EntityList{key}}).Parse(m)
	if len(evs) == 0 {
		t.Fatal("no event")
	}
	if got := evs[0].Payload["changed_by"]; got != "José Martínez <foo@example.org>" {
		t.Errorf("changed_by = %q (Latin-1 fallback expected)", got)
	}
	if s := evs[0].Payload["signature"].(map[string]any); s["valid"] != true {
		t.Errorf("signature over Latin-1 bytes: %v", s)
	}
}

func TestSignatureMultipartSignedQP(t *testing.T) {
	key := newKey(t, "uploader")
	signed := clearsignText(t, key, []byte(strings.Replace(testChanges, "Source: foo", "Source: foo\nBinary: "+strings.Repeat("foo-long-binary-name ", 8), 1)))
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write(signed)
	w.Close()
	if !bytes.Contains(qp.Bytes(), []byte("=\n")) && !bytes.Contains(qp.Bytes(), []byte("=\r\n")) {
		t.Fatal("test mail has no soft line break")
	}
	body := "--B\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
		qp.String() + "\n--B\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n--B--\n"
	mail := acceptMail("Content-Type: multipart/signed; micalg=\"pgp-sha256\"; protocol=\"application/pgp-signature\"; boundary=\"B\"\n", []byte(body))
	s := sigOf(t, New(Options{Keyring: openpgp.EntityList{key}}), mail)
	if s["valid"] != true || s["fingerprint"] != fpr(key) {
		t.Errorf("multipart/signed QP: %v", s)
	}
}

func TestSignatureUnsigned(t *testing.T) {
	mail := acceptMail("", []byte("Accepted:\n\n"+testChanges))
	s := sigOf(t, New(Options{Keyring: openpgp.EntityList{newKey(t, "k")}}), mail)
	if s["present"] != false || s["valid"] != false {
		t.Errorf("unsigned with keyring: %v", s)
	}
	s = sigOf(t, New(Options{}), mail)
	if s["present"] != false || s["valid"] != nil || s["fingerprint"] != nil {
		t.Errorf("unsigned without keyring: %v", s)
	}
}

// TestSignatureGPGInterop verifies .changes that gpg 2 signed (the written
// golden mails 051 and 057) against the armored public key that gpg
// exported.
func TestSignatureGPGInterop(t *testing.T) {
	kr, err := LoadKeyrings("testdata/test-uploader.asc")
	if err != nil || kr.Len() != 1 {
		t.Fatalf("LoadKeyrings: %v", err)
	}
	p := New(Options{Keyring: kr, KeyringName: "test-uploader"})
	for _, f := range []string{"051-written-policy-queue-accept-2024.eml", "057-written-accepted-from-new-2024.eml"} {
		m := readMail(t, filepath.Join(mailsDir, f))
		evs, _, _ := p.Parse(m)
		if len(evs) == 0 {
			t.Fatalf("%s: no event", f)
		}
		s := evs[0].Payload["signature"].(map[string]any)
		if s["valid"] != true || s["fingerprint"] != "870563A04C109EAB35993BE60BC716152CCB62D1" || s["keyring"] != "test-uploader" {
			t.Errorf("%s: %v", f, s)
		}
	}
	// A corpus mail signed by a key not in the keyring is not valid.
	m := readMail(t, filepath.Join(mailsDir, "001-xfsdump-accepted-maintainer-2025.eml"))
	evs, _, _ := p.Parse(m)
	if s := evs[0].Payload["signature"].(map[string]any); s["valid"] != false {
		t.Errorf("foreign key verified: %v", s)
	}
}

func TestLoadKeyrings(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t, "binary")
	var buf bytes.Buffer
	if err := key.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(bin, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Three copies of the key in one binary keyring, and an armored one.
	three := bytes.Repeat(buf.Bytes(), 3)
	if err := os.WriteFile(bin, three, 0o644); err != nil {
		t.Fatal(err)
	}
	kr, err := LoadKeyrings(bin, "testdata/test-uploader.asc")
	if err != nil || kr.Len() != 4 {
		t.Fatalf("LoadKeyrings: %v", err)
	}
	// Primary keys and subkeys are found by key ID, each as often as the
	// keyring holds it, parsed as go-crypto parses the whole keyring.
	eager, err := openpgp.ReadKeyRing(bytes.NewReader(three))
	if err != nil {
		t.Fatal(err)
	}
	ids := []uint64{key.PrimaryKey.KeyId}
	for _, sk := range key.Subkeys {
		ids = append(ids, sk.PublicKey.KeyId)
	}
	if len(ids) < 2 {
		t.Fatal("the test key has no subkey")
	}
	for _, id := range ids {
		got, want := kr.KeysById(id), eager.KeysById(id)
		if len(got) != 3 || len(got) != len(want) || fpr(got[0].Entity) != fpr(key) {
			t.Errorf("key %X: %d keys, want %d", id, len(got), len(want))
		}
		if len(kr.KeysByIdUsage(id, packet.KeyFlagSign)) != len(eager.KeysByIdUsage(id, packet.KeyFlagSign)) {
			t.Errorf("key %X: signing keys differ", id)
		}
	}
	if kr.KeysById(12345) != nil || kr.DecryptionKeys() != nil {
		t.Error("keys for an unknown ID, or decryption keys")
	}
	if _, err := LoadKeyrings(filepath.Join(dir, "missing.gpg")); err == nil {
		t.Error("missing file: no error")
	}
	junk := filepath.Join(dir, "junk.gpg")
	for _, b := range [][]byte{[]byte("not a keyring"), buf.Bytes()[:len(buf.Bytes())-3], {0xb4, 0x02, 'x', 'y'}, nil} {
		os.WriteFile(junk, b, 0o644)
		if _, err := LoadKeyrings(junk); err == nil {
			t.Errorf("junk keyring %q: no error", b)
		}
	}
}

func TestReadSigInfoJunk(t *testing.T) {
	for _, s := range []string{"", "-----BEGIN PGP SIGNATURE-----\n\n!!!\n-----END PGP SIGNATURE-----",
		beginSig + "\n\nAAAA\n=twTO\n" + endSig} {
		if _, err := readSigInfo(s); err == nil {
			t.Errorf("readSigInfo(%q): no error", s)
		}
	}
}

// TestSignatureExpiredKey: a key that has expired since the upload still
// verifies (judged at signing time) with no warning; one the keyring
// calls expired even at signing time (an outdated keyring copy) is valid
// with a warning.
func TestSignatureExpiredKey(t *testing.T) {
	t0 := time.Now().Add(-48 * time.Hour)
	at := func(t time.Time) func() time.Time { return func() time.Time { return t } }
	key, err := openpgp.NewEntity("old", "", "old@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: at(t0), KeyLifetimeSecs: 3600})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(when time.Time) []byte {
		var buf bytes.Buffer
		w, err := clearsign.Encode(&buf, key.PrivateKey, &packet.Config{Time: at(when)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(testChanges))
		w.Close()
		return acceptMail("", buf.Bytes())
	}
	p := New(Options{Keyring: openpgp.EntityList{key}})
	s := sigOf(t, p, sign(t0.Add(time.Minute)))
	if s["valid"] != true || s["warning"] != nil {
		t.Errorf("signed while the key was valid: %v", s)
	}
	s = sigOf(t, p, sign(t0.Add(2*time.Hour)))
	if s["valid"] != true || s["warning"] == nil {
		t.Errorf("signed by a key the keyring calls expired: %v (want valid with a warning)", s)
	}
}
