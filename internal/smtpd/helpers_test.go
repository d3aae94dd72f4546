package smtpd

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/metrics"
)

// testServer runs a Server with cfg (defaults when nil is edited in by
// mod) on 127.0.0.1:0 and returns its address.
type testServer struct {
	*Server
	addr string
	m    *metrics.Metrics
	done chan error
}

func startServer(t testing.TB, sp Spooler, lmtp bool, mod func(*config.SMTP)) *testServer {
	t.Helper()
	cfg := config.Defaults().SMTP
	if mod != nil {
		mod(&cfg)
	}
	m := metrics.New()
	s := New(cfg, sp, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: l.Addr().String(), m: m, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(l, lmtp) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// client is a line-level SMTP client that lets tests see every reply.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	return dialFrom(t, addr, nil)
}

func dialFrom(t *testing.T, addr string, local net.Addr) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (c *client) reply() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var last string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "EOF: " + err.Error()
		}
		last = strings.TrimRight(line, "\r\n")
		if len(last) < 4 || last[3] != '-' {
			return last
		}
	}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// cmd sends line and checks the reply starts with want.
func (c *client) cmd(line, want string) string {
	c.t.Helper()
	c.send(line)
	got := c.reply()
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("%s: got %q, want %q…", line, got, want)
	}
	return got
}

func (c *client) expect(want string) string {
	c.t.Helper()
	got := c.reply()
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("got %q, want %q…", got, want)
	}
	return got
}

// hello reads the greeting and says EHLO (LHLO for LMTP).
func (c *client) hello(verb string) {
	c.t.Helper()
	c.expect("220 ")
	c.cmd(verb+" test.example", "250 ")
}

const testMail = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n.dot line\r\n"

// sendMail runs one transaction up to DATA's final reply and returns it.
func (c *client) sendMail(body string) string {
	c.t.Helper()
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<mailgw@localhost>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(dotStuff(body) + ".")
	return c.reply()
}

func dotStuff(s string) string {
	lines := strings.SplitAfter(s, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "")
}
