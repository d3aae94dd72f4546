//go:build e2e

// Package e2e holds mailgw's end-to-end tests: they build the mailgw
// binary once and drive it with real programs — a private postfix
// instance, swaks, postfix's tools, Debian's python3-zmq — each test with
// its own state directory and free ports. A missing program fails the
// test; it never skips (test/install-deps.sh installs them).
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// mailgw is the binary under test, built once by TestMain.
var mailgw string

// repoRoot is the module root (for testdata/ and test/).
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	dir, err := os.MkdirTemp("", "mailgw-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The pipe(8) transport runs the binary as an unprivileged user.
	os.Chmod(dir, 0o755)
	mailgw = filepath.Join(dir, "mailgw")
	build := exec.Command("go", "build", "-o", mailgw, "./cmd/mailgw")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building mailgw:", err)
		return 1
	}
	defer stopBroker()
	return m.Run()
}

// need returns the path of program, failing the test when it is missing.
func need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		if _, serr := os.Stat(program); serr == nil {
			return program
		}
		t.Fatalf("%s is required (run test/install-deps.sh): %v", program, err)
	}
	return p
}

// python is Debian's python3 with python3-zmq (a pyenv python3 on PATH
// lacks zmq).
const python = "/usr/bin/python3"

// corpus returns the path of testdata/mails/<name>.
func corpus(name string) string { return filepath.Join(repoRoot, "testdata", "mails", name) }
