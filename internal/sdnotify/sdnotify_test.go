package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// listen makes a datagram socket like systemd's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// TestNotify: the lines arrive as one datagram on a path socket and on an
// abstract one; without NOTIFY_SOCKET nothing is sent and nothing fails.
func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	if ok, err := Notify(Ready, Status("serving: smtp 127.0.0.1:2525")); !ok || err != nil {
		t.Fatalf("Notify: %v %v", ok, err)
	}
	if got := recv(t, c); got != "READY=1\nSTATUS=serving: smtp 127.0.0.1:2525\n" {
		t.Errorf("datagram %q", got)
	}

	abstract := "mailgw-sdnotify-test-" + filepath.Base(t.TempDir())
	a := listen(t, "\x00"+abstract)
	t.Setenv("NOTIFY_SOCKET", "@"+abstract)
	if _, err := Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, a); got != "STOPPING=1\n" {
		t.Errorf("abstract datagram %q", got)
	}

	t.Setenv("NOTIFY_SOCKET", "")
	if ok, err := Notify(Ready); ok || err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v %v", ok, err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if _, err := Notify(Ready); err == nil {
		t.Error("a relative NOTIFY_SOCKET was accepted")
	}
}
