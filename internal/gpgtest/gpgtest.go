// Package gpgtest runs the real GnuPG for mailgw's tests: a private home
// per test, keys made by gpg itself, binary detached signatures as
// fedmsg's gpg backend makes them. A missing gpg fails the test (the
// suite never skips what it cannot run).
package gpgtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Home makes a private GNUPGHOME. Its path is short (the agent's socket
// path must fit in sun_path); the agent is stopped and the home removed at
// cleanup.
func Home(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is required (test/install-deps.sh): %v", err)
	}
	dir, err := os.MkdirTemp("", "mgwgpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return dir
}

// Run runs gpg --batch in home with no passphrase prompts, args and
// stdin, and returns its exit code and combined output; only a gpg that
// cannot be started fails the test.
func Run(t testing.TB, home string, stdin []byte, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("gpg", append(baseArgs(home), args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("gpg %v: %v", args, err)
	}
	return 0, string(out)
}

// Output runs gpg like Run and returns its standard output; a non-zero
// exit fails the test.
func Output(t testing.TB, home string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("gpg", append(baseArgs(home), args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func baseArgs(home string) []string {
	return []string{"--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}
}

// Key makes a signing key of algo ("ed25519", "rsa2048", …) without a
// passphrase in a new home, and returns the home, the key's fingerprint
// and its exported (binary) public key.
func Key(t testing.TB, algo string) (home, fpr string, pub []byte) {
	t.Helper()
	home = Home(t)
	Output(t, home, nil, "--quick-gen-key", "GnuPG Signer <gnupg@example.org>", algo, "sign", "never")
	for _, line := range strings.Split(string(Output(t, home, nil, "--with-colons", "--list-keys")), "\n") {
		if strings.HasPrefix(line, "fpr:") {
			fpr = strings.Split(line, ":")[9]
			break
		}
	}
	pub = Output(t, home, nil, "--export", fpr)
	if fpr == "" || len(pub) == 0 {
		t.Fatalf("gpg made no key")
	}
	return home, fpr, pub
}

// Sign returns gpg's binary detached signature over data by key fpr, as
// "gpg --local-user FPR --detach-sign" makes it; args are added (for
// example "--digest-algo", "SHA1").
func Sign(t testing.TB, home, fpr string, data []byte, args ...string) []byte {
	t.Helper()
	return Output(t, home, data, append([]string{"--local-user", fpr, "--detach-sign"}, args...)...)
}
