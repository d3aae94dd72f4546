//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestForwardExample delivers through a user's ~/.forward holding the
// shipped etc/mta/dot-forward (paths substituted): postfix's local(8)
// runs "mailgw deliver" as that user, and the mail lands in the spool.
// The test creates a system user for this and removes it afterwards.
func TestForwardExample(t *testing.T) {
	useradd, userdel := need(t, "useradd"), need(t, "userdel")
	d := newDaemon(t)
	home := filepath.Join(d.dir, "home")
	name := fmt.Sprintf("mgwfwd%d", os.Getpid()%100000)
	if out, err := exec.Command(useradd, "--system", "--no-create-home", "--home-dir", home,
		"--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(userdel, name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	example, err := os.ReadFile(filepath.Join(repoRoot, "etc", "mta", "dot-forward"))
	if err != nil {
		t.Fatal(err)
	}
	fwd := strings.NewReplacer("/usr/local/bin/mailgw", mailgw,
		"/home/debian-feed/.config/mailgw/mailgw.toml", d.config).Replace(string(example))
	if !strings.Contains(fwd, "|"+mailgw+" deliver --config "+d.config) {
		t.Fatalf("etc/mta/dot-forward does not pipe to mailgw deliver --config:\n%s", example)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".forward"), []byte(fwd), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, filepath.Join(home, ".forward")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	p := startPostfix(t, d,
		"mydestination = local.test",
		"local_recipient_maps =",
		"alias_maps =",
		"alias_database =",
		"allow_mail_to_commands = alias, forward",
		"mailbox_size_limit = 0")
	// The spool belongs to the user that local(8) runs the command as
	// (startPostfix gave it to nobody, for the pipe(8) transport).
	for _, sub := range []string{"", "spool", "spool/tmp", "spool/new", "spool/cur"} {
		p := filepath.Join(d.state, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.swaks(name+"@local.test", corpus("001-xfsdump-accepted-maintainer-2025.eml"))
	waitFor(t, 60*time.Second, "the mail in spool/new through ~/.forward", func() bool {
		es, _ := os.ReadDir(filepath.Join(d.state, "spool", "new"))
		return len(es) == 1
	})
	// The mail is in the spool before mailgw deliver has exited, and
	// local(8) logs the delivery only after that.
	deadline := time.Now().Add(30 * time.Second)
	for {
		log := p.maillog()
		if strings.Contains(log, "status=sent (delivered to command:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not log a delivery to the .forward command:\n%s", tail(log, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
