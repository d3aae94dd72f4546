//go:build e2e

package deb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/schemas"
	"github.com/debian/mailgw/test/testlock"
)

// need fails the test when a program is missing (test/install-deps.sh
// installs them).
func need(t *testing.T, program string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s is required (run test/install-deps.sh): %v", program, err)
	}
}

// sh runs a command, failing the test on error, and returns its output.
func sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tailOf(string(out), 4000))
	}
	return string(out)
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// buildDeb copies the source tree (what git tracks, and new files not
// ignored) into a fresh directory, vendors the modules there with
// debian/vendor.sh, and builds the package with dpkg-buildpackage
// offline: in a network namespace of its own (unshare -n), with
// GOPROXY=off and an empty module cache, so only vendor/ can supply
// modules. It returns the .deb's path.
func buildDeb(t *testing.T, version, commit string) string {
	for _, p := range []string{"git", "dpkg-buildpackage", "unshare"} {
		need(t, p)
	}
	top := t.TempDir()
	src := filepath.Join(top, "mailgw-"+version)
	files := sh(t, repoRoot, nil, "git", "ls-files", "-co", "--exclude-standard", "-z")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if fi, err := os.Lstat(filepath.Join(repoRoot, f)); err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(repoRoot, f))
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	t.Log(strings.TrimSpace(sh(t, src, nil, "debian/vendor.sh")), " in ", time.Since(start).Round(time.Millisecond))

	emptyCache := filepath.Join(top, "empty-modcache")
	os.Mkdir(emptyCache, 0o755)
	goCache := strings.TrimSpace(sh(t, repoRoot, nil, "go", "env", "GOCACHE"))
	start = time.Now()
	// The build cache is the suite's (compiled packages only; it cannot
	// supply a module): the first build compiles everything with the
	// package's flags, later ones reuse it.
	sh(t, src, []string{"GOMODCACHE=" + emptyCache, "GOPROXY=off", "GOCACHE=" + goCache, "MAILGW_COMMIT=" + commit},
		"unshare", "-n", "dpkg-buildpackage", "-us", "-uc", "-b")
	t.Logf("dpkg-buildpackage (offline): %s", time.Since(start).Round(time.Second))
	deb := filepath.Join(top, "mailgw_"+version+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("no %s: %v", filepath.Base(deb), err)
	}
	return deb
}

// lintianClean runs lintian on the package: errors and warnings fail
// the test (the one override is explained in
// debian/mailgw.lintian-overrides); informational tags are logged.
func lintianClean(t *testing.T, deb string) {
	need(t, "lintian")
	start := time.Now()
	cmd := exec.Command("lintian", "--fail-on", "error", "--display-info", deb)
	out, err := cmd.CombinedOutput()
	t.Logf("lintian (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("lintian reports errors: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
}

// asMailgw runs the installed binary as the mailgw user, as systemd and
// an MTA's pipe do.
func asMailgw(t *testing.T, u *user.User, args ...string) *exec.Cmd {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + u.HomeDir, "USER=mailgw", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	return cmd
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDebianPackage: the .deb builds offline from vendored modules,
// lintian finds no error in it, and on this machine it installs (user
// mailgw, /var/lib/mailgw 0750, the conffile, unit, man pages,
// completions, the JSON Schemas), the installed serve's --check-config
// passes as mailgw with the installed config, a serve started from the
// installed unit's command line tells systemd READY=1 and publishes a
// mail delivered through the installed binary, whose event
// python3-jsonschema finds valid with the installed schemas, and a purge
// leaves nothing but the mailgw user (Debian policy keeps system users).
//
// It changes the machine, so it takes the default-paths lock (the README
// test uses /var/lib/mailgw too), refuses to run where mailgw is really
// installed, moves an existing /etc/mailgw or /var/lib/mailgw aside and
// back, keeps the service from starting (policy-rc.d), serves on free
// ports, and removes the user again if it made it.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestDebianPackage installs a package: run the suite as root (CI does)")
	}
	for _, p := range []string{"dpkg", "dpkg-query", "dpkg-parsechangelog", "systemd-sysusers", "userdel"} {
		need(t, p)
	}
	version := strings.TrimSpace(sh(t, repoRoot, nil, "dpkg-parsechangelog", "-l", "debian/changelog", "-S", "Version"))
	commit := strings.TrimSpace(sh(t, repoRoot, nil, "git", "rev-parse", "--short=12", "HEAD"))
	deb := buildDeb(t, version, commit)
	lintianClean(t, deb)

	testlock.DefaultPaths(t)
	if st, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "mailgw").Output(); len(st) > 0 && string(st) != "not-installed" {
		t.Fatalf("the mailgw package is %s on this machine: the test will not touch a real installation", st)
	}
	for _, dir := range []string{"/etc/mailgw", "/var/lib/mailgw"} {
		if _, err := os.Lstat(dir); err == nil {
			aside := dir + ".deb-test-aside"
			if err := os.Rename(dir, aside); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir); os.Rename(aside, dir) })
		}
	}
	if _, err := user.Lookup("mailgw"); err != nil {
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", "mailgw").CombinedOutput(); err != nil {
				t.Errorf("userdel mailgw: %v\n%s", err, out)
			}
			exec.Command("groupdel", "mailgw").Run() // gone with the user when it was its own group
		})
	}
	// Where systemd runs, the postinst would start the service; the
	// test starts serve itself.
	if _, err := os.Lstat("/usr/sbin/policy-rc.d"); os.IsNotExist(err) {
		if err := os.WriteFile("/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/usr/sbin/policy-rc.d") })
	}
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command("dpkg", "--purge", "mailgw").Run()
		}
	})

	sh(t, "/", []string{"DEBIAN_FRONTEND=noninteractive"}, "dpkg", "-i", deb)
	installed := strings.Fields(sh(t, "/", nil, "dpkg-query", "-L", "mailgw"))
	checkInstalled(t, version, commit)

	u, err := user.Lookup("mailgw")
	if err != nil {
		t.Fatalf("no mailgw user after install: %v", err)
	}
	runInstalled(t, u)

	sh(t, "/", nil, "dpkg", "--purge", "mailgw")
	purged = true
	checkPurged(t, installed)
}

// checkInstalled checks what dpkg -i put on the machine.
func checkInstalled(t *testing.T, version, commit string) {
	t.Helper()
	if cf := sh(t, "/", nil, "dpkg-query", "-W", "-f=${Conffiles}", "mailgw"); !strings.Contains(cf, "/etc/mailgw/mailgw.toml ") {
		t.Errorf("/etc/mailgw/mailgw.toml is not a conffile: %q", cf)
	}
	for _, f := range []string{
		"/usr/bin/mailgw", "/lib/systemd/system/mailgw.service", "/usr/lib/sysusers.d/mailgw.conf",
		"/usr/lib/tmpfiles.d/mailgw.conf", "/usr/share/man/man8/mailgw.8.gz", "/usr/share/man/man8/mailgw-serve.8.gz",
		"/usr/share/bash-completion/completions/mailgw", "/usr/share/zsh/vendor-completions/_mailgw",
		"/usr/share/doc/mailgw/copyright", "/usr/share/doc/mailgw/operations.md.gz",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	pw := sh(t, "/", nil, "getent", "passwd", "mailgw")
	if f := strings.Split(strings.TrimSpace(pw), ":"); len(f) != 7 || f[5] != "/var/lib/mailgw" || f[6] != "/usr/sbin/nologin" {
		t.Errorf("mailgw user: %q", pw)
	}
	fi, err := os.Stat("/var/lib/mailgw")
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if u, _ := user.Lookup("mailgw"); fi.Mode().Perm() != 0o750 || u == nil || strconv.Itoa(int(st.Uid)) != u.Uid {
		t.Errorf("/var/lib/mailgw: %v uid %d", fi.Mode(), st.Uid)
	}
	v := sh(t, "/", nil, "/usr/bin/mailgw", "--version")
	if !strings.Contains(v, version) || !strings.Contains(v, commit) || !strings.Contains(v, "go1.") {
		t.Errorf("mailgw --version:\n%s\nwant %s, commit %s and the Go version", v, version, commit)
	}
	t.Logf("installed mailgw --version:\n%s", v)
	t.Logf("installed unit: exposure %.1f", exposure(t, "/lib/systemd/system/mailgw.service"))
	// Its syntax, binary and Documentation= man pages (no systemd needs
	// to run for this).
	sh(t, "/", nil, "systemd-analyze", "verify", "/lib/systemd/system/mailgw.service")
	checkSchemas(t)
}

// schemaDir is where the package installs the JSON Schemas.
const schemaDir = "/usr/share/mailgw/schemas"

// checkSchemas checks that every schema of the source tree is installed,
// byte for byte, and nothing else beside them.
func checkSchemas(t *testing.T) {
	t.Helper()
	src, err := filepath.Glob(filepath.Join(repoRoot, "schemas", "*.json"))
	if err != nil || len(src) < 3 {
		t.Fatalf("schemas in the source: %v %v", src, err)
	}
	got, _ := filepath.Glob(filepath.Join(schemaDir, "*"))
	if len(got) != len(src) {
		t.Errorf("%d files in %s, want the %d schemas: %v", len(got), schemaDir, len(src), got)
	}
	for _, f := range src {
		want, _ := os.ReadFile(f)
		have, err := os.ReadFile(filepath.Join(schemaDir, filepath.Base(f)))
		if err != nil || !bytes.Equal(have, want) {
			t.Errorf("%s is not installed as in the source: %v", filepath.Base(f), err)
		}
	}
	t.Logf("%d schemas installed in %s", len(src), schemaDir)
}

// validateInstalled checks one envelope printed by the installed tail
// with Debian's python3-jsonschema and the installed schema files only.
func validateInstalled(t *testing.T, envelope string) {
	t.Helper()
	need(t, "python3")
	var env struct{ Topic string }
	if err := json.Unmarshal([]byte(envelope), &env); err != nil {
		t.Fatal(err)
	}
	name, ok := schemas.Name(env.Topic)
	if !ok {
		t.Fatalf("no schema for %s", env.Topic)
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(repoRoot, "test", "python", "schema_verdicts.py"), schemaDir)
	cmd.Stdin = strings.NewReader(name + "\t" + strings.TrimSpace(envelope) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "valid" {
		t.Errorf("python3-jsonschema with %s on the event of %s: %v\n%s", schemaDir, env.Topic, err, out)
	}
	t.Logf("python3-jsonschema with %s: the event of %s is %s", schemaDir, env.Topic, strings.TrimSpace(string(out)))
}

// runInstalled checks the config as mailgw, starts serve from the
// installed unit's command line, and delivers one mail through the
// installed binary.
func runInstalled(t *testing.T, u *user.User) {
	t.Helper()
	unit := unitSettings(t, "/lib/systemd/system/mailgw.service")
	if len(unit["ExecStart"]) != 1 || len(unit["ExecStartPre"]) != 1 || unit["User"][0] != "mailgw" {
		t.Fatalf("installed unit: %v", unit)
	}
	// The operator's first edit: ports of their own (these are free on
	// this machine; the defaults may be a developer's serve).
	cfgPath := "/etc/mailgw/mailgw.toml"
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, def := range []string{"127.0.0.1:2525", "127.0.0.1:9940", "127.0.0.1:9941", "127.0.0.1:9942"} {
		if !strings.Contains(cfg, def) {
			t.Fatalf("installed config lacks %s", def)
		}
		cfg = strings.ReplaceAll(cfg, def, freeAddr(t))
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	pre := strings.Fields(unit["ExecStartPre"][0])
	if out, err := asMailgw(t, u, pre...).CombinedOutput(); err != nil {
		t.Fatalf("%s as mailgw: %v\n%s", unit["ExecStartPre"][0], err, out)
	}

	// Not in t.TempDir(), whose parent only root may enter.
	notifyDir, err := os.MkdirTemp("", "mailgw-deb-notify-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(notifyDir)
	os.Chmod(notifyDir, 0o755)
	notifyPath := filepath.Join(notifyDir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	os.Chmod(notifyPath, 0o777)

	serve := asMailgw(t, u, strings.Fields(unit["ExecStart"][0])...)
	serve.Env = append(serve.Env, "NOTIFY_SOCKET="+notifyPath)
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		serve.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- serve.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, serveLog.String())
			}
		case <-time.After(60 * time.Second):
			serve.Process.Kill()
			t.Errorf("serve did not stop on SIGTERM")
		}
	}
	defer stop()
	notify.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	n, err := notify.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "READY=1\n") {
		t.Fatalf("no READY=1 from serve (%v): %q\n%s", err, buf[:n], serveLog.String())
	}

	// tail validates with the development key serve generated.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := asMailgw(t, u, "/usr/bin/mailgw", "tail", "--config", cfgPath, "--json", "--count", "1", "--since-seq", "1",
		"--keyring", "/var/lib/mailgw/keys/dev-signing.pub.asc")
	var tailErr bytes.Buffer
	tail.Stderr = &tailErr
	tailOut, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	context.AfterFunc(ctx, func() { tail.Process.Kill() })

	mail, err := os.Open(filepath.Join(repoRoot, "testdata", "mails", "009-bash-accepted-2008.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer mail.Close()
	deliver := asMailgw(t, u, "/usr/bin/mailgw", "deliver", "--config", cfgPath)
	deliver.Stdin = mail
	if out, err := deliver.CombinedOutput(); err != nil {
		t.Fatalf("mailgw deliver as mailgw: %v\n%s", err, out)
	}
	line, err := bufio.NewReader(tailOut).ReadString('\n')
	tail.Wait()
	if err != nil {
		t.Fatalf("tail printed nothing: %v\n%s\nserve:\n%s", err, tailErr.String(), serveLog.String())
	}
	var env struct {
		Topic string `json:"topic"`
		SeqID int64  `json:"seq_id"`
		Msg   struct {
			Source string `json:"source"`
		} `json:"msg"`
	}
	if err := json.Unmarshal([]byte(line), &env); err != nil || env.SeqID != 1 || env.Msg.Source != "bash" ||
		!strings.HasSuffix(env.Topic, ".dak.package.upload") {
		t.Errorf("first event: %v %+v\n%s", err, env, line)
	}
	validateInstalled(t, line)
	stop()
	if !strings.Contains(serveLog.String(), "mailgw serve stopped") {
		t.Errorf("serve did not stop cleanly:\n%s", serveLog.String())
	}
}

// checkPurged checks that dpkg --purge left nothing of the package: no
// file it installed, no /etc/mailgw, no state, no unit enablement; only
// the mailgw user stays.
func checkPurged(t *testing.T, installed []string) {
	t.Helper()
	if st, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "mailgw").Output(); len(st) > 0 && string(st) != "not-installed" {
		t.Errorf("after purge the package is %q", st)
	}
	left := 0
	for _, f := range installed {
		if _, err := os.Lstat(f); err != nil {
			continue // gone
		}
		if fi, err := os.Stat(f); err == nil && fi.IsDir() && !strings.Contains(f, "mailgw") {
			continue // a directory other packages share (/lib may be a symlink to one)
		}
		t.Errorf("left after purge: %s", f)
		left++
	}
	for _, f := range []string{"/etc/mailgw", "/var/lib/mailgw", "/usr/share/mailgw", "/etc/systemd/system/multi-user.target.wants/mailgw.service",
		"/var/lib/systemd/deb-systemd-helper-enabled/mailgw.service.dsh-also",
		"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/mailgw.service"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("left after purge: %s", f)
		}
	}
	if _, err := user.Lookup("mailgw"); err != nil {
		t.Errorf("the mailgw user went with the purge; Debian keeps system users: %v", err)
	}
	t.Logf("purge: %d installed paths checked, %d left", len(installed), left)
}
