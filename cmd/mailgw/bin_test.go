package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
		if out, err := exec.Command("go", "build", "-o", testBinPath, ".").CombinedOutput(); err != nil {
			testBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBinErr != nil {
		t.Fatal(testBinErr)
	}
	return testBinPath
}
