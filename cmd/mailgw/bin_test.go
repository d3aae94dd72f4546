package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The version and commit that testBin's binary is built with.
const (
	testVersion = "9.9.9-test"
	testCommit  = "0123456789abcdef"
)

var (
	testBinOnce sync.Once
	testBinPath string
	testBinErr  error
)

// testBin builds the mailgw binary once per test run, into a temp dir,
// for the tests that run it as a process (exit codes, stdin, signals).
func testBin(t *testing.T) string {
	t.Helper()
	testBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailgw-bin")
		if err != nil {
			testBinErr = err
			return
		}
		testBinPath = filepath.Join(dir, "mailgw")
		ldflags := "-X main.version=" + testVersion + " -X main.commit=" + testCommit
		if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", testBinPath, ".").CombinedOutput(); err != nil {
			testBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBinErr != nil {
		t.Fatal(testBinErr)
	}
	return testBinPath
}

// run runs the built binary with stdin and returns the exit code, stdout
// and stderr.
func run(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testBin(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// writeConfig writes dir/name, a config with state_dir dir/state and the
// given extra TOML lines.
func writeConfig(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state")) + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
