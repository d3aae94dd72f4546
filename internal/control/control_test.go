package control

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/backfill"
)

// fakeHandler "journals" each mail it reads: it records it and reports
// it journaled every `every` mails and at the end.
type fakeHandler struct {
	every int
	delay time.Duration // per mail
	mu    sync.Mutex
	mails map[string][]int // file name -> indexes read
	data  map[string][]string
	errs  []error // Backfill's results
}

func (h *fakeHandler) Backfill(ctx context.Context, job Job, f *FileRun) (backfill.Summary, error) {
	var s backfill.Summary
	last, lastOff := -1, int64(0)
	n := 0
	err := func() error {
		for {
			m, err := f.Source.Next()
			if err == io.EOF {
				return ctx.Err()
			}
			if err != nil {
				return err
			}
			if h.delay > 0 {
				select {
				case <-time.After(h.delay):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			h.mu.Lock()
			h.mails[f.Name] = append(h.mails[f.Name], m.Index)
			h.data[f.Name] = append(h.data[f.Name], string(m.Data))
			h.mu.Unlock()
			s.Mails++
			s.Events++
			s.New++
			f.Event(true)
			last, lastOff = m.Index, m.Offset
			if n++; h.every > 0 && n%h.every == 0 {
				f.Journaled(last, lastOff)
			}
		}
	}()
	if err == nil && last >= 0 {
		f.Journaled(last, lastOff)
	}
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
	return s, err
}

func (h *fakeHandler) results() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// shortDir is a temporary directory with a path short enough for a
// socket.
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func startServer(t *testing.T, h Handler, tune func(*Server)) (*Server, string) {
	t.Helper()
	path := Path(shortDir(t))
	s := &Server{Handler: h, MaxMail: 1 << 20, ProgressEvery: 10 * time.Millisecond}
	if tune != nil {
		tune(s)
	}
	if err := s.Listen(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, path
}

func newFake(every int) *fakeHandler {
	return &fakeHandler{every: every, mails: map[string][]int{}, data: map[string][]string{}}
}

func dialStart(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Start(Job{Client: "test"}, nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// ackLog records the acks of a file.
type ackLog struct {
	mu   sync.Mutex
	last int
}

func (a *ackLog) ack(index int, offset int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index < a.last {
		panic(fmt.Sprintf("ack went back from %d to %d", a.last, index))
	}
	a.last = index
}

func (a *ackLog) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func mail(i int) archive.Mail {
	return archive.Mail{Index: i, Offset: int64(i) * 100, Data: fmt.Appendf(nil, "Subject: %d\n\nbody %d\n", i, i)}
}

func TestRoundTrip(t *testing.T) {
	h := newFake(7)
	_, path := startServer(t, h, nil)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket of mode 0660", fi.Mode())
	}
	c := dialStart(t, path)
	for f, n := range map[string]int{"a.mbox": 100, "b.mbox": 3} {
		var acks ackLog
		acks.last = -1
		if err := c.StartFile(f, 1234, acks.ack); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if i == 5 {
				continue // a skipped index (a damaged record) is fine
			}
			if err := c.Send(mail(i)); err != nil {
				t.Fatal(err)
			}
		}
		s, err := c.EndFile(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := n
		if n > 5 {
			want--
		}
		if s.Mails != want || s.New != want {
			t.Errorf("%s: summary %+v, want %d mails", f, s, want)
		}
		if got := acks.get(); got != n-1 {
			t.Errorf("%s: acked through %d, want %d", f, got, n-1)
		}
		if got := len(h.mails[f]); got != want {
			t.Errorf("%s: handler read %d mails, want %d", f, got, want)
		}
		if h.data[f][1] != string(mail(1).Data) {
			t.Errorf("%s: mail 1 arrived as %q", f, h.data[f][1])
		}
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	path := Path(shortDir(t))
	s := &Server{Handler: newFake(1)}
	if err := s.Listen(path); err != nil {
		t.Fatal(err)
	}
	go s.Serve(context.Background())
	s.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := Dial(path, time.Second); !errors.Is(err, ErrNoServer) {
		t.Errorf("Dial after Close: %v, want ErrNoServer", err)
	}
}

func TestStaleSocket(t *testing.T) {
	dir := shortDir(t)
	path := Path(dir)
	// A socket left behind by a serve that was killed.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(path, time.Second); !errors.Is(err, ErrNoServer) {
		t.Errorf("Dial on a stale socket: %v, want ErrNoServer", err)
	}
	_, path2 := startServerAt(t, path)
	if path2 != path {
		t.Fatal(path2)
	}
	// A second server on a socket that answers is refused.
	s := &Server{Handler: newFake(1)}
	if err := s.Listen(path); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("Listen on a live socket: %v", err)
	}
	// Not a socket: left alone.
	plain := filepath.Join(dir, "plain.sock")
	os.WriteFile(plain, []byte("x"), 0o600)
	if err := s.Listen(plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Errorf("regular file removed: %v", err)
	}
}

func startServerAt(t *testing.T, path string) (*Server, string) {
	s := &Server{Handler: newFake(1)}
	if err := s.Listen(path); err != nil {
		t.Fatal(err)
	}
	go s.Serve(context.Background())
	t.Cleanup(func() { s.Close() })
	c := dialStart(t, path)
	c.Close()
	return s, path
}

// rawConn is a connection that writes frames by hand.
func rawConn(t *testing.T, path string) net.Conn {
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readError reads frames until an X frame and returns its text; "" when
// the connection ends first.
func readError(t *testing.T, c net.Conn) string {
	t.Helper()
	for {
		typ, n, err := readHeader(c)
		if err != nil {
			return ""
		}
		p, err := readPayload(c, typ, n, 1<<20, nil)
		if err != nil {
			return ""
		}
		if typ == FrameError {
			var e Error
			decodeJSON(typ, p, &e)
			return e.Text
		}
	}
}

func TestGarbage(t *testing.T) {
	h := newFake(1)
	_, path := startServer(t, h, nil)
	for _, tc := range []struct {
		name, send, want string
	}{
		{"http", "GET / HTTP/1.0\r\n\r\n", "first frame must be a job"},
		{"bad json", "J\x00\x00\x00\x03{x}", "bad J frame"},
		{"version", `J` + "\x00\x00\x00\x0e" + `{"version":99}`, "version 99 not supported"},
		{"huge job", "J\x7f\xff\xff\xff", "frame too big"},
		{"batch", `J` + "\x00\x00\x00\x27" + `{"version":1,"batch_size":-1          }`, "batch_size -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, path)
			c.Write([]byte(tc.send))
			if got := readError(t, c); !strings.Contains(got, tc.want) {
				t.Errorf("got error %q, want %q", got, tc.want)
			}
		})
	}
}

// startRaw starts a job on a raw connection and returns it after the
// Accepted frame.
func startRaw(t *testing.T, path string) net.Conn {
	c := rawConn(t, path)
	if err := writeJSON(c, FrameJob, &Job{Version: Version}); err != nil {
		t.Fatal(err)
	}
	typ, n, err := readHeader(c)
	if err != nil || typ != FrameAccepted {
		t.Fatalf("no Accepted frame: %q %v", typ, err)
	}
	readPayload(c, typ, n, MaxControlFrame, nil)
	return c
}

func TestProtocolErrorsInFile(t *testing.T) {
	h := newFake(1)
	_, path := startServer(t, h, nil)
	big := make([]byte, 2<<20)
	for _, tc := range []struct {
		name string
		send func(w io.Writer)
		want string
	}{
		{"mail too big", func(w io.Writer) {
			writeFrame(w, FrameMail, mailFrame(0, 0), big)
		}, "frame too big"},
		{"mail header short", func(w io.Writer) { writeFrame(w, FrameMail, []byte("abc")) }, "shorter than its header"},
		{"index back", func(w io.Writer) {
			writeFrame(w, FrameMail, mailFrame(3, 0), []byte("x"))
			writeFrame(w, FrameMail, mailFrame(3, 0), []byte("x"))
		}, "indexes must increase"},
		{"negative index", func(w io.Writer) {
			var h [16]byte
			binary.BigEndian.PutUint64(h[:8], 1<<63)
			writeFrame(w, FrameMail, h[:], []byte("x"))
		}, "indexes must increase"},
		{"job twice", func(w io.Writer) { writeJSON(w, FrameJob, &Job{Version: 1}) }, "expected a mail (M)"},
		{"end with payload", func(w io.Writer) { writeFrame(w, FrameEnd, []byte("x")) }, "end frame with a payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.results())
			c := startRaw(t, path)
			writeJSON(c, FrameFile, &File{Name: tc.name, Size: -1})
			tc.send(c)
			if got := readError(t, c); !strings.Contains(got, tc.want) {
				t.Errorf("got error %q, want %q", got, tc.want)
			}
			waitFor(t, func() bool { return len(h.results()) > before })
			if err := h.results()[before]; !errors.Is(err, context.Canceled) {
				t.Errorf("handler returned %v, want it cancelled", err)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("timed out")
		}
	}
}

func TestBounds(t *testing.T) {
	h := newFake(1)
	h.delay = 50 * time.Millisecond
	srv, path := startServer(t, h, func(s *Server) { s.MaxConns = 2 })
	open := func() int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns)
	}
	c := dialStart(t, path)
	if err := c.StartFile("slow", -1, nil); err != nil {
		t.Fatal(err)
	}
	c.Send(mail(0))
	c.Flush()
	// A second job while one runs.
	c2, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.Start(Job{}, nil, 5*time.Second)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Text, "already running") {
		t.Errorf("second job: %v, want already running", err)
	}
	// A connection over MaxConns while two are open (the job and an idle
	// one).
	waitFor(t, func() bool { return open() == 1 })
	idle := rawConn(t, path)
	waitFor(t, func() bool { return open() == 2 })
	over := rawConn(t, path)
	if got := readError(t, over); !strings.Contains(got, "too many control connections") {
		t.Errorf("third connection: %q", got)
	}
	idle.Close()
	if _, err := c.EndFile(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTimeouts(t *testing.T) {
	h := newFake(1)
	_, path := startServer(t, h, func(s *Server) {
		s.HelloTimeout = 100 * time.Millisecond
		s.IdleTimeout = 200 * time.Millisecond
	})
	// Nothing sent: closed after HelloTimeout.
	c := rawConn(t, path)
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("silent connection got data")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent connection closed after %v", d)
	}
	// A file that stalls: cancelled after IdleTimeout, and the client
	// hears why.
	cl := dialStart(t, path)
	cl.StartFile("stall", -1, nil)
	cl.Send(mail(0))
	cl.Flush()
	_, err := cl.EndFileNoEnd(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "no frame from the client") {
		t.Errorf("stalled file: %v", err)
	}
	if errs := h.results(); len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Errorf("handler results %v", errs)
	}
}

// EndFileNoEnd waits for the file summary without ending the file (a
// stalled client).
func (c *Client) EndFileNoEnd(wait time.Duration) (backfill.Summary, error) {
	select {
	case d := <-c.done:
		return d.Summary, doneErr(d)
	case <-time.After(wait):
		return backfill.Summary{}, errors.New("no summary")
	}
}

// TestAbort: a client that cancels in the middle of a file hears how far
// serve journaled, and serve takes the next job.
func TestAbort(t *testing.T) {
	h := newFake(10)
	h.delay = time.Millisecond
	_, path := startServer(t, h, nil)
	c := dialStart(t, path)
	var acks ackLog
	acks.last = -1
	c.StartFile("big", -1, acks.ack)
	// Mails of 8 KiB: what the socket buffers (some 200 KiB) is read
	// before serve sees the cancel.
	pad := bytes.Repeat([]byte("x"), 8<<10)
	go func() {
		for i := 0; ; i++ {
			m := mail(i)
			m.Data = append(m.Data, pad...)
			if c.Send(m) != nil {
				return
			}
		}
	}()
	waitFor(t, func() bool { return acks.get() >= 30 })
	s, err := c.Abort(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "went away") {
		t.Errorf("Abort: %v", err)
	}
	got := acks.get()
	h.mu.Lock()
	read := h.mails["big"]
	h.mu.Unlock()
	if got < 30 || got > read[len(read)-1] {
		t.Errorf("acked through %d; serve read through %d", got, read[len(read)-1])
	}
	if s.Mails != len(read) {
		t.Errorf("summary %d mails, handler read %d", s.Mails, len(read))
	}
	dialStart(t, path) // the job slot is free again
}

// TestDisconnect: a client that vanishes cancels its job.
func TestDisconnect(t *testing.T) {
	h := newFake(1)
	h.delay = 10 * time.Millisecond
	_, path := startServer(t, h, nil)
	c := dialStart(t, path)
	c.StartFile("gone", -1, nil)
	for i := range 20 {
		c.Send(mail(i))
	}
	c.Flush()
	c.Close()
	waitFor(t, func() bool { return len(h.results()) == 1 })
	if err := h.results()[0]; !errors.Is(err, context.Canceled) {
		t.Errorf("handler: %v, want cancelled", err)
	}
	dialStart(t, path)
}

func TestDialNoSocket(t *testing.T) {
	if _, err := Dial(Path(shortDir(t)), time.Second); !errors.Is(err, ErrNoServer) {
		t.Errorf("Dial: %v, want ErrNoServer", err)
	}
}

func TestPathTooLong(t *testing.T) {
	s := &Server{}
	err := s.Listen("/" + strings.Repeat("x", 200) + "/control.sock")
	if err == nil || !strings.Contains(err.Error(), "shorter state_dir") {
		t.Errorf("Listen: %v", err)
	}
}

func TestMailOverClientBound(t *testing.T) {
	_, path := startServer(t, newFake(1), nil)
	c := dialStart(t, path)
	c.StartFile("x", -1, nil)
	if err := c.Send(archive.Mail{Data: bytes.Repeat([]byte("x"), 2<<20)}); err == nil {
		t.Error("Send of a mail over MaxMail succeeded")
	}
}

// TestInFlightBudget: serve reads no more mail than MaxInFlight bytes
// beyond what is journaled, whatever the client sends.
func TestInFlightBudget(t *testing.T) {
	h := newFake(0) // journals only at the end of the file
	_, path := startServer(t, h, func(s *Server) { s.MaxInFlight = 3 * 100 })
	c := dialStart(t, path)
	c.StartFile("budget", -1, nil)
	go func() {
		for i := range 20 {
			m := mail(i)
			m.Data = append(m.Data, bytes.Repeat([]byte("x"), 100-len(m.Data)-mailHeader)...)
			if c.Send(m) != nil {
				return
			}
		}
		c.Flush()
	}()
	read := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.mails["budget"])
	}
	waitFor(t, func() bool { return read() == 3 })
	time.Sleep(200 * time.Millisecond)
	if n := read(); n != 3 {
		t.Errorf("serve read %d mails of 100 bytes with a budget of 300 and none journaled", n)
	}
	// (The server's cleanup cancels the job: a real backfill journals
	// every 250 ms, which frees the budget.)
}
