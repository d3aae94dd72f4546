package zmtp

import (
	"net"
	"path/filepath"
	"testing"
)

func TestSplitEndpoint(t *testing.T) {
	for ep, want := range map[string]string{
		"tcp://127.0.0.1:9940": "tcp 127.0.0.1:9940",
		"tcp://*:9940":         "tcp :9940",
		"tcp://[::1]:1":        "tcp [::1]:1",
		"ipc:///run/x.sock":    "unix /run/x.sock",
	} {
		n, a, err := SplitEndpoint(ep)
		if err != nil || n+" "+a != want {
			t.Errorf("%s: %s %s %v, want %s", ep, n, a, err, want)
		}
	}
	for _, ep := range []string{"tcp://nohost", "udp://x:1", "", "inproc://x", "ipc://"} {
		if _, _, err := SplitEndpoint(ep); err == nil {
			t.Errorf("%q accepted", ep)
		}
	}
	if _, err := Dial(t.Context(), "udp://x:1"); err == nil {
		t.Error("Dial accepted udp")
	}
	if _, err := Listen("inproc://x"); err == nil {
		t.Error("Listen accepted inproc")
	}
}

func TestListenDialIPC(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "z.sock")
	ln, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := EndpointOf(ln.Addr()); got != ep {
		t.Fatalf("EndpointOf = %s, want %s", got, ep)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := Dial(t.Context(), ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q %v", buf, err)
	}
	if got := EndpointOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5}); got != "tcp://127.0.0.1:5" {
		t.Fatalf("tcp EndpointOf = %s", got)
	}
}
