//go:build e2e

package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a stand-in for systemd's notify socket.
type notifySocket struct {
	t *testing.T
	c *net.UnixConn
}

func newNotifySocket(t *testing.T, path string) *notifySocket {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &notifySocket{t: t, c: c}
}

// next returns the next datagram serve sent.
func (n *notifySocket) next(what string) string {
	n.t.Helper()
	n.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	k, err := n.c.Read(buf)
	if err != nil {
		n.t.Fatalf("waiting for %s from serve: %v", what, err)
	}
	return string(buf[:k])
}

func keygen(t *testing.T, dir, name string) string {
	t.Helper()
	pub := filepath.Join(dir, name+".pub.asc")
	out, err := exec.Command(mailgw, "keygen", "--secret", filepath.Join(dir, name+".asc"), "--public", pub, "--force").CombinedOutput()
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	return pub
}

// TestSystemdNotifyAndReload: serve under a notify socket says READY=1
// only once it accepts SMTP; SIGHUP (systemctl reload) re-reads the
// upload keyrings (a changed key list, then a changed keyring file), the
// trust policy and the retention,
// logs what changed and what waits for a restart, keeps its listeners
// and its process, and survives a broken config; SIGTERM says
// STOPPING=1 before the drain.
func TestSystemdNotifyAndReload(t *testing.T) {
	d := newDaemon(t)
	n := newNotifySocket(t, filepath.Join(d.dir, "notify"))
	d.env = []string{"NOTIFY_SOCKET=" + filepath.Join(d.dir, "notify")}
	d.start()
	if got := n.next("READY=1"); !strings.HasPrefix(got, "READY=1\nSTATUS=serving") {
		t.Fatalf("first notification %q", got)
	}
	// (start returned when SMTP accepted; READY must not come before.)
	pid := d.cmd.Process.Pid
	orig, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	ring := keygen(t, d.dir, "uploader")
	cfg := "upload_keyrings = [\"" + ring + "\"]\n" + strings.Replace(string(orig), "[smtp]\n", "[smtp]\nmax_connections = 7\n", 1)
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	reload := func(want string) {
		t.Helper()
		mark := len(d.log.String())
		d.cmd.Process.Signal(syscall.SIGHUP)
		if got := n.next("RELOADING=1"); !strings.HasPrefix(got, "RELOADING=1\n") {
			t.Fatalf("reload notification %q", got)
		}
		if got := n.next("READY=1 after reload"); !strings.HasPrefix(got, "READY=1\n") {
			t.Fatalf("after reload %q", got)
		}
		waitFor(t, 10*time.Second, "the reload's log line", func() bool { return strings.Contains(d.log.String()[mark:], want) })
	}
	reload(`msg=reloaded config=` + d.config + ` changed="upload_keyrings smtp.max_connections" applied=parsers failed=""`)
	if !strings.Contains(d.log.String(), `msg="reload: these keys take effect at the next restart" keys=smtp.max_connections`) {
		t.Errorf("no restart warning for smtp.max_connections:\n%s", tail(d.log.String(), 2000))
	}
	// The same file list, another key in the file: applied again.
	keygen(t, d.dir, "uploader")
	reload(`msg=reloaded config=` + d.config + ` changed="" applied=parsers`)
	// The trust policy: a relay more.
	cfg += "\n[trust]\ntrusted_relays = [\"192.0.2.1\"]\n"
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	reload(`changed=trust.trusted_relays applied=trust failed=""`)
	// Retention: a prune by the new one runs at once.
	cfg = "retention = \"30d\"\n" + cfg
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	reload(`changed=retention applied=retention failed=""`)
	// Nothing changed: nothing applied.
	reload(`changed="" applied="" failed=""`)
	// A broken config: logged, the running one kept.
	os.WriteFile(d.config, []byte("no_such_key = 1\n"+cfg), 0o644)
	reload(`msg="reload failed: keeping the running configuration"`)

	if d.cmd.Process.Pid != pid {
		t.Fatal("serve restarted")
	}
	select {
	case <-d.exited:
		t.Fatalf("serve exited on SIGHUP:\n%s", d.log.String())
	default:
	}
	c, err := net.Dial("tcp", d.smtpAddr())
	if err != nil {
		t.Fatalf("SMTP listener gone after reloads: %v", err)
	}
	c.Close()
	d.cmd.Process.Signal(syscall.SIGTERM)
	if got := n.next("STOPPING=1"); !strings.HasPrefix(got, "STOPPING=1\n") {
		t.Errorf("stop notification %q", got)
	}
	<-d.exited
}
