//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// eximRoot is where test/install-deps.sh unpacks Debian's exim4 package:
// exim cannot be installed beside postfix, each being the system's MTA.
const eximRoot = "/opt/mailgw-test/exim"

// TestEximExample runs the router and pipe transport of the shipped
// etc/mta/exim4.conf (binary, config and user substituted) in a minimal
// exim configuration: a dak mail lands in the spool; with the spool gone,
// exim sees exit 75 and defers the mail instead of bouncing it.
func TestEximExample(t *testing.T) {
	exim := need(t, filepath.Join(eximRoot, "usr", "sbin", "exim4"))
	d := newDaemon(t)
	example, err := os.ReadFile(filepath.Join(repoRoot, "etc", "mta", "exim4.conf"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("/usr/local/bin/mailgw", mailgw, "/etc/mailgw/mailgw.toml", d.config,
		"user = mailgw", "user = nobody").Replace(string(example))
	r := strings.Index(text, "# --- router ---")
	tr := strings.Index(text, "# --- transport ---")
	if r < 0 || tr < r {
		t.Fatalf("etc/mta/exim4.conf lacks its '# --- router ---' and '# --- transport ---' parts")
	}
	spool, logs := filepath.Join(d.dir, "exim-spool"), filepath.Join(d.dir, "exim-log")
	for _, dir := range []string{spool, logs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// exim runs as root here (the test is root); the transport still
	// runs mailgw as nobody, as the example's "user =" asks.
	conf := "primary_hostname = exim-e2e.test\n" +
		"exim_user = root\nexim_group = root\nkeep_environment =\n" +
		"spool_directory = " + spool + "\n" +
		"log_file_path = " + logs + "/%slog\n" +
		"begin routers\n" + text[r:tr] +
		"begin transports\n" + text[tr:] +
		"begin retry\n* * F,1h,1m\n"
	confPath := filepath.Join(d.dir, "exim.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The transport runs "mailgw deliver" as nobody.
	for _, sub := range []string{"", "spool", "spool/tmp", "spool/new", "spool/cur"} {
		p := filepath.Join(d.state, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		chownNobody(t, p)
	}
	mail, err := os.ReadFile(corpus("001-xfsdump-accepted-maintainer-2025.eml"))
	if err != nil {
		t.Fatal(err)
	}
	send := func() string {
		cmd := exec.Command(exim, "-C", confPath, "-odi", "-f", "sender@example.org", "dak-announce@gw.example.org")
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(eximRoot, "usr", "lib", "x86_64-linux-gnu"))
		cmd.Stdin = bytes.NewReader(mail)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("exim: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(filepath.Join(logs, "mainlog"))
		return string(b)
	}
	log := send()
	news, _ := os.ReadDir(filepath.Join(d.state, "spool", "new"))
	if len(news) != 1 || !strings.Contains(log, "R=mailgw T=mailgw_pipe") {
		t.Fatalf("exim did not deliver through the mailgw router and transport (%d spooled):\n%s", len(news), log)
	}

	if err := os.Rename(filepath.Join(d.state, "spool"), filepath.Join(d.state, "spool.away")); err != nil {
		t.Fatal(err)
	}
	log = send()
	if !strings.Contains(log, "T=mailgw_pipe defer") || !strings.Contains(log, "returned 75") {
		t.Fatalf("with the spool missing exim did not defer on exit 75:\n%s", log)
	}
}

// chownNobody gives path to the user nobody.
func chownNobody(t *testing.T, path string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}
