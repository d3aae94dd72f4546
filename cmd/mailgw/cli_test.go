package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runIn runs the command line args in-process and returns the exit code,
// stdout and stderr.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// allCommands lists the path (without "mailgw") of every command in the
// tree, the root included as nil, so that a new subcommand is covered by
// the table tests below without touching them.
func allCommands() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, s := range c.Commands() {
			if s.Name() == "help" || strings.HasPrefix(s.Name(), "__") {
				continue // cobra's own
			}
			walk(s, append(append([]string(nil), path...), s.Name()))
		}
	}
	root := newRootCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	walk(root, nil)
	return paths
}

// TestEveryCommandHelp: for every command of the tree, "--help", "-h"
// and "mailgw help CMD" print the command's help on stdout, nothing on
// stderr, and exit 0; so does --help after an argument.
func TestEveryCommandHelp(t *testing.T) {
	paths := allCommands()
	if len(paths) < 13 {
		t.Fatalf("command tree has %d commands: %q", len(paths), paths)
	}
	for _, path := range paths {
		name := strings.Join(append([]string{"mailgw"}, path...), " ")
		for _, args := range [][]string{
			append(append([]string(nil), path...), "--help"),
			append(append([]string(nil), path...), "-h"),
			append([]string{"help"}, path...),
			append(append([]string(nil), path...), "some-argument", "--help"),
		} {
			code, stdout, stderr := runIn(t, "", args...)
			if code != exitOK || stderr != "" {
				t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, stderr)
			}
			if !strings.Contains(stdout, "Usage:\n  "+name) {
				t.Errorf("%q: stdout is not %s's help:\n%s", args, name, stdout)
			}
		}
	}
}

// TestEveryCommandUsageError: an unknown option, before or after the
// arguments, exits 64 with the problem and a hint on stderr and nothing
// on stdout, for every command of the tree.
func TestEveryCommandUsageError(t *testing.T) {
	for _, path := range allCommands() {
		for _, args := range [][]string{
			append(append([]string(nil), path...), "--no-such-option"),
			append(append([]string(nil), path...), "arg", "--no-such-option"),
		} {
			code, stdout, stderr := runIn(t, "", args...)
			if code != exitUsage || stdout != "" ||
				!strings.Contains(stderr, "unknown flag: --no-such-option") || !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 64, the flag and a hint on stderr", args, code, stdout, stderr)
			}
		}
	}
}

// TestUsageErrors: wrong arguments and conflicting options exit 64.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"help", "frobnicate"},
		{"help", "spool", "frobnicate"},
		{"serve", "extra"},
		{"deliver", "extra"},
		{"parse"},
		{"replay"},
		{"replay", "x.mbox", "--publish", "--dry-run"},
		{"replay", "x.mbox", "--rate", "fast"},
		{"tail", "--json", "--pretty"},
		{"verify", "a", "b"},
		{"spool"},
		{"spool", "frob"},
		{"spool", "show"},
		{"spool", "requeue"},
		{"spool", "requeue", "ID", "--all"},
		{"keygen", "--rsa", "1024"},
		{"version", "extra"},
	} {
		code, stdout, stderr := runIn(t, "", args...)
		if code != exitUsage || stdout != "" || stderr == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 64 and a message on stderr", args, code, stdout, stderr)
		}
	}
}

// TestOptionsAfterArguments: options work after the arguments, the
// --config option included, with the same result as before them.
func TestOptionsAfterArguments(t *testing.T) {
	mail := "../../testdata/mails/009-bash-accepted-2008.eml"
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.toml", `environment = "prod"`)
	code, after, stderr := runIn(t, "", "parse", mail, "--json", "--config", cfg)
	if code != exitOK {
		t.Fatalf("parse FILE --json --config: exit %d: %s", code, stderr)
	}
	_, before, _ := runIn(t, "", "--config", cfg, "parse", "--json", mail)
	lines := strings.Split(strings.TrimSpace(after), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], `{"msg":`) || !strings.Contains(after, `"topic":"org.debian.prod.dak.package.upload"`) {
		t.Fatalf("parse FILE --json: not one prod envelope per line:\n%s", after)
	}
	if len(strings.Split(strings.TrimSpace(before), "\n")) != len(lines) {
		t.Errorf("options before and after the file give different output:\n%s\n%s", before, after)
	}
	// "--" ends the options: a file named like one is read as a file.
	odd := filepath.Join(dir, "--json")
	b, err := os.ReadFile(mail)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runIn(t, "", "parse", "--config", cfg, "--", odd)
	if code != exitOK || !strings.HasPrefix(out, "# "+odd+": org.debian.prod.dak.package.upload") {
		t.Errorf("parse -- FILE: exit %d, stdout %.200q, stderr %q", code, out, stderr)
	}
}

// TestVersion: "--version" and "version" print the same three lines.
func TestVersion(t *testing.T) {
	code, a, stderr := runIn(t, "", "--version")
	if code != exitOK || stderr != "" {
		t.Fatalf("--version: exit %d, stderr %q", code, stderr)
	}
	_, b, _ := runIn(t, "", "version")
	if a != b {
		t.Errorf("--version %q and version %q differ", a, b)
	}
	lines := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "mailgw ") || !strings.HasPrefix(lines[1], "commit ") || lines[2] != "go "+goVersion() {
		t.Errorf("--version: %q", a)
	}
}

func goVersion() string { return runtime.Version() }

// TestFormatVersion: the injected version and commit win; without them
// the module version and the VCS revision of the build information are
// used, and a dirty tree is marked.
func TestFormatVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		version, commit string
		info            *debug.BuildInfo
		want            string
	}{
		{"0.2.0-1", "feedface", info, "mailgw 0.2.0-1\ncommit feedface\ngo go1.26.8\n"},
		{"", "", info, "mailgw dev\ncommit 0123abcd+modified\ngo go1.26.8\n"},
		{"", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"}}, "mailgw v0.2.0\ncommit unknown\ngo go1.26.8\n"},
		{"1.0", "", nil, "mailgw 1.0\ncommit unknown\ngo unknown\n"},
	} {
		if got := formatVersion(tc.version, tc.commit, tc.info); got != tc.want {
			t.Errorf("formatVersion(%q, %q) = %q, want %q", tc.version, tc.commit, got, tc.want)
		}
	}
}

// TestVersionLdflags: the values that -ldflags -X sets (as the package
// and the Dockerfile do; testBin builds with them) are what --version
// prints.
func TestVersionLdflags(t *testing.T) {
	code, stdout, _ := run(t, nil, "--version")
	want := "mailgw " + testVersion + "\ncommit " + testCommit + "\ngo " + runtime.Version() + "\n"
	if code != exitOK || stdout != want {
		t.Errorf("--version: exit %d, %q; want %q", code, stdout, want)
	}
}
