//go:build e2e

package bus

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/gpgtest"
)

// TestLoadSignerGnuPGSecretKey: a passphrase-protected secret key exported
// from GnuPG 2.2 (gpg --export-secret-keys --armor) signs, and GnuPG
// verifies what it signs.
func TestLoadSignerGnuPGSecretKey(t *testing.T) {
	home := gpgtest.Home(t)
	// The agent calibrates S2K to ~100 ms of its own hashing, which costs
	// go-crypto seconds; a fixed count keeps the test fast.
	os.WriteFile(filepath.Join(home, "gpg-agent.conf"), []byte("s2k-count 65536\n"), 0o600)
	cmd := exec.Command("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "s3cret",
		"--quick-gen-key", "Exported <e@example.org>", "ed25519", "sign", "never")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	cmd = exec.Command("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "s3cret",
		"--armor", "--export-secret-keys")
	sec, err := cmd.Output()
	if err != nil || len(sec) == 0 {
		t.Fatalf("gpg --export-secret-keys: %v", err)
	}
	dir := t.TempDir()
	keyFile, passFile := filepath.Join(dir, "sec.asc"), filepath.Join(dir, "pass")
	os.WriteFile(keyFile, sec, 0o600)
	os.WriteFile(passFile, []byte("s3cret\n"), 0o600)
	s, err := LoadSigner(keyFile, passFile)
	if err != nil {
		t.Fatal(err)
	}
	env := signedEnv(t, s)
	sig, _ := decodeSignature(env.Signature)
	data, _ := Canonical(env.Msg)
	if rc, out := gpgVerify(t, home, sig, data); rc != 0 || !strings.Contains(out, s.Fingerprint()) {
		t.Fatalf("gpg --verify: rc %d\n%s", rc, out)
	}
}
