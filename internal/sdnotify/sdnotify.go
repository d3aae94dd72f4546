// Package sdnotify tells systemd how a Type=notify service is doing: the
// sd_notify(3) protocol, one datagram of "KEY=value" lines sent to the
// unix socket named by $NOTIFY_SOCKET ("@name" for the abstract
// namespace). Outside systemd (no $NOTIFY_SOCKET) every call does
// nothing, so callers need no "under systemd?" branches.
//
// It is a dozen lines of protocol, written here rather than taken from a
// library: the one Go library for it (go-systemd's daemon package) is not
// among the modules this project vets, and the protocol has not changed
// since systemd 209.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Protocol lines; combine them with "\n" in one Notify call.
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Reloading = "RELOADING=1"
)

// Status is the STATUS= line that systemctl status shows.
func Status(text string) string {
	return "STATUS=" + strings.ReplaceAll(text, "\n", " ")
}

// Notify sends lines, one datagram, to $NOTIFY_SOCKET. It reports
// whether a socket was named: false (and nil) outside systemd.
func Notify(lines ...string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	} else if name[0] != '/' {
		return true, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q is neither a path nor @abstract", name)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return true, fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return true, fmt.Errorf("sdnotify: %w", err)
	}
	return true, nil
}
