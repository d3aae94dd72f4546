//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/test/testlock"
)

// readmeBlock returns the command lines of the first ```sh block after
// the README heading that starts with heading.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## "+heading)
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	text = text[i:]
	var lines []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		if len(lines) >= 3 || heading != "Try it" {
			break
		}
	}
	return lines
}

// TestReadmeTryIt runs the README's "Try it" commands as a new user
// would, on the embedded defaults (no config): serve, tail in a second
// terminal, deliver a test mail in a third; tail must show the upload,
// validated with the public half of serve's development key.
// "go run ./cmd/mailgw" is replaced by the binary it builds, so that
// signals reach mailgw itself. The default state directory (root:
// /var/lib/mailgw) is moved aside for the test and put back after, so a
// journal left by an earlier try cannot turn the mail into a duplicate.
func TestReadmeTryIt(t *testing.T) {
	lines := readmeBlock(t, "Try it")
	if len(lines) != 3 {
		t.Fatalf("README 'Try it' commands: %q, want serve, tail, deliver", lines)
	}
	cmds := make([][]string, len(lines))
	var input string
	for i, l := range lines {
		if !strings.HasPrefix(l, "go run ./cmd/mailgw ") {
			t.Fatalf("README command %q does not start with go run ./cmd/mailgw", l)
		}
		l = strings.TrimPrefix(l, "go run ./cmd/mailgw ")
		if j := strings.Index(l, " < "); j >= 0 {
			input, l = strings.TrimSpace(l[j+3:]), l[:j]
		}
		cmds[i] = append([]string{mailgw}, strings.Fields(l)...)
	}
	if cmds[0][1] != "serve" || cmds[1][1] != "tail" || cmds[2][1] != "deliver" || input == "" {
		t.Fatalf("README 'Try it' commands out of order: %q", lines)
	}

	// The default state directory and ports are the machine's: no other
	// test (test/deb installs the package) may use them meanwhile.
	testlock.DefaultPaths(t)
	state := config.DefaultStateDir()
	if _, err := os.Stat(state); err == nil {
		aside := state + ".e2e-aside"
		if err := os.Rename(state, aside); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.RemoveAll(state)
			os.Rename(aside, state)
		})
	} else {
		t.Cleanup(func() { os.RemoveAll(state) })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, cmds[0][0], cmds[0][1:]...)
	serve.Dir = repoRoot
	var serveErr syncBuffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	waitFor(t, 30*time.Second, "serve to run", func() bool {
		return strings.Contains(serveErr.String(), "mailgw serve running")
	})
	if !strings.Contains(serveErr.String(), "DEVELOPMENT") {
		t.Errorf("serve on defaults gave no loud warning about its development key:\n%s", serveErr.String())
	}

	tailCmd := exec.CommandContext(ctx, cmds[1][0], cmds[1][1:]...)
	tailCmd.Dir = repoRoot
	out, err := tailCmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var tailErr syncBuffer
	tailCmd.Stderr = &tailErr
	if err := tailCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		tailCmd.Process.Signal(syscall.SIGTERM)
		tailCmd.Wait()
	}()
	lines2 := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines2 <- sc.Text()
		}
		close(lines2)
	}()
	// Give tail a moment to subscribe (ZeroMQ's slow joiner), as a person
	// switching terminals would.
	mail, err := os.Open(filepath.Join(repoRoot, input))
	if err != nil {
		t.Fatal(err)
	}
	defer mail.Close()
	time.Sleep(time.Second)
	deliver := exec.CommandContext(ctx, cmds[2][0], cmds[2][1:]...)
	deliver.Dir, deliver.Stdin = repoRoot, mail
	if b, err := deliver.CombinedOutput(); err != nil {
		t.Fatalf("%s < %s: %v\n%s", lines[2], input, err, b)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines2:
			if !ok {
				t.Fatalf("tail ended\n%s", tailErr.String())
			}
			if strings.Contains(l, "org.debian.dev.dak.package.upload") {
				// Validated with the development key's public half,
				// which tail finds on its own.
				if e := tailErr.String(); strings.Contains(e, "NOT validated") || !strings.Contains(e, "development key") {
					t.Errorf("tail did not validate with the development key:\n%s", e)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no upload event shown by %q within 30 s\ntail stderr:\n%s\nserve stderr:\n%s", lines[1], tailErr.String(), tail(serveErr.String(), 4000))
		}
	}
}

// TestReadmeTestCommand checks that CI runs exactly the README's test
// command.
func TestReadmeTestCommand(t *testing.T) {
	lines := readmeBlock(t, "Run the whole test suite")
	if len(lines) == 0 {
		t.Fatal("README gives no test command")
	}
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(lines[0], "&&") {
		part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "sudo "))
		if !strings.Contains(string(ci), part) {
			t.Errorf(".ci/run does not run the README's %q", part)
		}
	}
}
