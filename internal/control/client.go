package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/backfill"
)

// ErrNoServer is matched by Dial's error when no serve listens on the
// socket (no socket file, or a stale one).
var ErrNoServer = errors.New("no serve answers on the control socket")

// Client is a connection to serve's control socket running one job. It
// implements backfill.Remote.
type Client struct {
	c   *net.UnixConn
	w   *bufio.Writer
	acc Accepted

	// The reading goroutine hands FileDone frames to done and the first
	// error (X frame or connection lost) to rerr; it calls acked for
	// each Progress frame.
	mu     sync.Mutex
	acked  func(index int, offset int64)
	shown  func(Progress)
	done   chan FileDone
	rdone  chan struct{} // closed when the reading goroutine returned
	rerr   error
	closed bool
}

// Dial connects to the control socket at path. A missing socket file
// and a socket nobody listens on are ErrNoServer; a socket serve's
// mode does not let this user open is a permission error.
func Dial(path string, timeout time.Duration) (*Client, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("unix", path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (%s)", ErrNoServer, path)
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Client{c: c.(*net.UnixConn), w: bufio.NewWriterSize(c, 256<<10), done: make(chan FileDone, 1), rdone: make(chan struct{})}, nil
}

// Start sends the job and waits up to timeout for serve to accept it.
// show, if set, gets every Progress frame (on the reading goroutine).
func (c *Client) Start(job Job, show func(Progress), timeout time.Duration) (Accepted, error) {
	job.Version = Version
	c.shown = show
	c.c.SetDeadline(time.Now().Add(timeout))
	if err := writeJSON(c.w, FrameJob, &job); err != nil {
		return Accepted{}, err
	}
	if err := c.w.Flush(); err != nil {
		return Accepted{}, fmt.Errorf("control: sending the job: %w", err)
	}
	r := bufio.NewReaderSize(c.c, 16<<10)
	typ, n, err := readHeader(r)
	if err != nil {
		return Accepted{}, fmt.Errorf("control: waiting for serve to accept the job: %w", err)
	}
	payload, err := readPayload(r, typ, n, MaxControlFrame, nil)
	if err != nil {
		return Accepted{}, err
	}
	switch typ {
	case FrameAccepted:
		if err := decodeJSON(typ, payload, &c.acc); err != nil {
			return Accepted{}, err
		}
	case FrameError:
		var e Error
		if err := decodeJSON(typ, payload, &e); err != nil {
			return Accepted{}, err
		}
		return Accepted{}, &e
	default:
		return Accepted{}, fmt.Errorf("control: unexpected %q frame from serve", typ)
	}
	c.c.SetDeadline(time.Time{})
	go c.read(r)
	return c.acc, nil
}

// read reads serve's frames until the connection ends.
func (c *Client) read(r *bufio.Reader) {
	defer close(c.rdone)
	var buf []byte
	for {
		typ, n, err := readHeader(r)
		if err == nil {
			buf, err = readPayload(r, typ, n, MaxControlFrame, buf)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
				err = errors.New("serve closed the control connection (stopped?)")
			}
			c.setErr(err)
			return
		}
		switch typ {
		case FrameProgress:
			var p Progress
			if err := decodeJSON(typ, buf, &p); err != nil {
				c.setErr(err)
				return
			}
			c.mu.Lock()
			acked := c.acked
			c.mu.Unlock()
			if acked != nil && p.Through >= 0 {
				acked(p.Through, p.Offset)
			}
			if c.shown != nil {
				c.shown(p)
			}
		case FrameFileDone:
			var d FileDone
			if err := decodeJSON(typ, buf, &d); err != nil {
				c.setErr(err)
				return
			}
			select {
			case c.done <- d:
			default:
				c.setErr(errors.New("control: serve sent a second file summary"))
				return
			}
		case FrameError:
			var e Error
			if err := decodeJSON(typ, buf, &e); err != nil {
				c.setErr(err)
				return
			}
			c.setErr(&e)
			return
		default:
			c.setErr(fmt.Errorf("control: unexpected %q frame from serve", typ))
			return
		}
	}
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rerr == nil {
		c.rerr = err
	}
}

func (c *Client) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rerr
}

// StartFile starts an archive of size bytes (-1 unknown); acked is
// called, on the reading goroutine, each time serve reports the mails
// through index journaled.
func (c *Client) StartFile(name string, size int64, acked func(index int, offset int64)) error {
	c.mu.Lock()
	c.acked = acked
	c.mu.Unlock()
	return c.writeErr(writeJSON(c.w, FrameFile, &File{Name: name, Size: size}))
}

// MaxMail is the largest mail serve takes.
func (c *Client) MaxMail() int64 { return c.acc.MaxMail }

// Send sends one mail; it blocks while serve is behind.
func (c *Client) Send(m archive.Mail) error {
	if int64(len(m.Data)) > c.acc.MaxMail {
		return fmt.Errorf("control: mail %d of %d bytes is over serve's bound of %d", m.Index, len(m.Data), c.acc.MaxMail)
	}
	return c.writeErr(writeFrame(c.w, FrameMail, mailFrame(m.Index, m.Offset), m.Data))
}

// writeErr prefers the error serve sent (an X frame) over the write
// error it caused.
func (c *Client) writeErr(err error) error {
	if err == nil {
		return nil
	}
	if rerr := c.err(); rerr != nil {
		return rerr
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return errors.New("serve closed the control connection (stopped?)")
	}
	return fmt.Errorf("control: %w", err)
}

// Flush sends the mails buffered so far.
func (c *Client) Flush() error { return c.writeErr(c.w.Flush()) }

// EndFile ends the archive and waits for serve's summary of it (ctx
// ending cancels the file as Abort does).
func (c *Client) EndFile(ctx context.Context) (backfill.Summary, error) {
	err := writeFrame(c.w, FrameEnd)
	if err == nil {
		err = c.w.Flush()
	}
	if err != nil {
		return backfill.Summary{}, c.writeErr(err)
	}
	select {
	case d := <-c.done:
		return d.Summary, doneErr(d)
	case <-c.rdone:
		return c.lateDone()
	case <-ctx.Done():
		return c.Abort(10 * time.Second)
	}
}

// Abort cancels the file being sent: serve stops it, keeps what it has
// journaled, and reports how far it got (the last Progress, to the acked
// callback) and its summary, waited for up to wait.
func (c *Client) Abort(wait time.Duration) (backfill.Summary, error) {
	// Unblock a Send stuck on a full socket, then tell serve: it reads
	// the end of the stream (a frame cut short or none) as a cancel.
	c.c.SetWriteDeadline(time.Now())
	c.c.CloseWrite()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case d := <-c.done:
		return d.Summary, doneErr(d)
	case <-c.rdone:
		return c.lateDone()
	case <-t.C:
		return backfill.Summary{}, errors.New("control: serve did not confirm the cancel in time")
	}
}

// lateDone takes a summary that arrived just before the connection
// ended.
func (c *Client) lateDone() (backfill.Summary, error) {
	select {
	case d := <-c.done:
		return d.Summary, doneErr(d)
	default:
		return backfill.Summary{}, c.err()
	}
}

func doneErr(d FileDone) error {
	if d.Error == "" {
		return nil
	}
	return &Error{Text: d.Error}
}

// Close closes the connection; serve cancels a file in progress.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	return c.c.Close()
}
