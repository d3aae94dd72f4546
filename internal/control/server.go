package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/backfill"
)

// Handler runs the mails of one archive of a job. serve implements it on
// its pipeline (cmd/mailgw).
type Handler interface {
	// Backfill journals and publishes the mails f.Source yields, marked
	// replayed, and tells f what it journaled (FileRun's methods). It
	// returns when the source is exhausted and everything read is
	// journaled, or when ctx ends (the connection went away).
	Backfill(ctx context.Context, job Job, f *FileRun) (backfill.Summary, error)
}

// FileRun is one archive of a job as the Handler sees it: its mails and
// the hooks by which the Handler reports progress. The hooks are safe
// for concurrent use.
type FileRun struct {
	File
	// Source yields the mails the client sends, in order, then io.EOF.
	Source archive.Reader

	release     func(index int) // the source's byte budget
	through     atomic.Int64    // index+1 of the last journaled mail
	offset      atomic.Int64
	newEvents   atomic.Int64
	duplicates  atomic.Int64
	quarantined atomic.Int64
}

// Journaled records that the events of every mail up to the one at index
// (offset) are journaled.
func (f *FileRun) Journaled(index int, offset int64) {
	f.offset.Store(offset)
	f.through.Store(int64(index) + 1)
	if f.release != nil {
		f.release(index)
	}
}

// Event counts one event built: added when the journal took it as new,
// else a duplicate.
func (f *FileRun) Event(added bool) {
	if added {
		f.newEvents.Add(1)
	} else {
		f.duplicates.Add(1)
	}
}

// Quarantined counts one mail without an event.
func (f *FileRun) Quarantined() { f.quarantined.Add(1) }

// Server serves the control socket. Set Handler (and any bound) before
// Listen.
type Server struct {
	Handler Handler
	Logger  *slog.Logger
	// MaxMail is the largest mail taken (archive.DefaultMaxMail when 0).
	MaxMail int64
	// MaxConns bounds the connections served at a time (4), MaxJobs the
	// jobs running at a time (1).
	MaxConns, MaxJobs int
	// HelloTimeout bounds the wait for a connection's Job (10s),
	// IdleTimeout the wait for any later frame (60s), WriteTimeout a
	// frame to the client (30s).
	HelloTimeout, IdleTimeout, WriteTimeout time.Duration
	// ProgressEvery is the interval of Progress frames (250ms).
	ProgressEvery time.Duration
	// MaxInFlight bounds the bytes of the mails of a job read and not
	// yet journaled (64 MiB; one mail is always taken): serve's memory
	// for a job does not grow with the client's mail sizes.
	MaxInFlight int64

	ln        *net.UnixListener
	closeOnce sync.Once
	path      string
	ino       uint64 // of the socket file Listen made
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	slots     chan struct{} // one per running job
	jobID     int64
	wg        sync.WaitGroup

	started, refused atomic.Int64
}

// Path returns the socket's path in stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// maxSocketPath is the longest path a Unix socket address holds.
const maxSocketPath = 107

// Listen creates the socket at path with mode 0660, replacing a stale
// one (a socket file no process answers on); a socket that answers is an
// error, as is a path that is not a socket.
func (s *Server) Listen(path string) error {
	if len(path) > maxSocketPath {
		return fmt.Errorf("control socket %s: path longer than %d bytes (use a shorter state_dir)", path, maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("control socket %s: exists and is not a socket; remove it", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("control socket %s: another process answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("control socket %s: removing the stale socket: %w", path, err)
		}
		s.logger().Info("control: removed a stale socket", "path", path)
	}
	// Made under a temporary name and renamed once its mode is set, so
	// that the socket is never reachable with the umask's mode.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o660); err != nil {
		ln.Close()
		os.Remove(tmp)
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return fmt.Errorf("control socket: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			s.ino = st.Ino
		}
	}
	s.ln, s.path = ln, path
	return nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) defaults() {
	if s.MaxMail <= 0 {
		s.MaxMail = archive.DefaultMaxMail
	}
	if s.MaxConns <= 0 {
		s.MaxConns = 4
	}
	if s.MaxJobs <= 0 {
		s.MaxJobs = 1
	}
	if s.HelloTimeout <= 0 {
		s.HelloTimeout = 10 * time.Second
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 60 * time.Second
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = 30 * time.Second
	}
	if s.ProgressEvery <= 0 {
		s.ProgressEvery = 250 * time.Millisecond
	}
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = 64 << 20
	}
	s.slots = make(chan struct{}, s.MaxJobs)
}

// Serve accepts connections until Close. Ending ctx cancels the running
// jobs (what they journaled stays journaled).
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("control: Serve before Listen")
	}
	s.defaults()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and the like: wait a little instead of spinning.
			s.logger().Warn("control: accept", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if !s.track(c) {
			s.refused.Add(1)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			writeJSON(c, FrameError, &Error{Text: fmt.Sprintf("too many control connections (at most %d)", s.MaxConns)})
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(ctx, c)
		}()
	}
}

// Jobs returns the number of jobs started and of connections refused
// (over MaxConns or MaxJobs).
func (s *Server) Jobs() (started, refused int64) { return s.started.Load(), s.refused.Load() }

// Running returns the jobs running now (at most MaxJobs).
func (s *Server) Running() int { return len(s.slots) }

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	if len(s.conns) >= s.MaxConns {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close stops accepting, cuts the connections (their jobs are cancelled
// by the Serve's ctx or by the cut), waits for the handlers to return and
// removes the socket file, unless another process replaced it meanwhile.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Server) close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if fi, lerr := os.Lstat(s.path); lerr == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == s.ino {
			os.Remove(s.path)
		}
	}
	return err
}

// conn is one client connection.
type conn struct {
	s   *Server
	c   *net.UnixConn
	r   *bufio.Reader
	wmu sync.Mutex
	log *slog.Logger
	// broken is set when a write failed: the client is gone.
	broken atomic.Bool
}

func (cn *conn) write(typ byte, v any) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.broken.Load() {
		return net.ErrClosed
	}
	cn.c.SetWriteDeadline(time.Now().Add(cn.s.WriteTimeout))
	err := writeJSON(cn.c, typ, v)
	if err != nil {
		cn.broken.Store(true)
	}
	return err
}

func (cn *conn) fail(text string) {
	cn.log.Warn("control: refused", "why", text)
	cn.write(FrameError, &Error{Text: text})
}

// readFrame reads a control frame's header within d and its payload.
func (cn *conn) readHeader(d time.Duration) (byte, int64, error) {
	cn.c.SetReadDeadline(time.Now().Add(d))
	return readHeader(cn.r)
}

func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	cn := &conn{s: s, c: c, r: bufio.NewReaderSize(c, 64<<10), log: s.logger()}
	cred, credErr := peerCred(c)
	if credErr == nil {
		cn.log = cn.log.With("peer_pid", cred.Pid, "peer_uid", cred.Uid)
	}
	typ, n, err := cn.readHeader(s.HelloTimeout)
	if err != nil {
		cn.log.Debug("control: no job", "err", err)
		return
	}
	if typ != FrameJob {
		cn.fail(fmt.Sprintf("protocol: first frame must be a job (J), got %q", typ))
		return
	}
	payload, err := readPayload(cn.r, typ, n, MaxControlFrame, nil)
	if err != nil {
		cn.fail(err.Error())
		return
	}
	var job Job
	if err := decodeJSON(typ, payload, &job); err != nil {
		cn.fail(err.Error())
		return
	}
	if job.Version != Version {
		cn.fail(fmt.Sprintf("protocol version %d not supported (this serve speaks %d)", job.Version, Version))
		return
	}
	if job.BatchSize < 0 || job.BatchSize > 1<<16 {
		cn.fail(fmt.Sprintf("batch_size %d out of range (0-65536)", job.BatchSize))
		return
	}
	if job.TrustArchive {
		if why := mayVouch(cred, credErr, uint32(os.Getuid())); why != "" {
			cn.fail(why)
			return
		}
	}
	id, ok := s.startJob(ctx)
	if !ok {
		s.refused.Add(1)
		cn.fail(fmt.Sprintf("a backfill is already running in this serve (at most %d at a time); run again when it is done", s.MaxJobs))
		return
	}
	defer s.endJob()
	cn.log = cn.log.With("job", id)
	cn.log.Info("control: backfill job started", "client", job.Client, "trust_archive", job.TrustArchive)
	if err := cn.write(FrameAccepted, &Accepted{Job: id, MaxMail: s.MaxMail}); err != nil {
		return
	}
	for file := 0; ; file++ {
		typ, n, err := cn.readHeader(s.IdleTimeout)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cn.log.Warn("control: connection lost between files", "err", err)
			} else {
				cn.log.Info("control: backfill job done", "files", file)
			}
			return
		}
		if typ != FrameFile {
			cn.fail(fmt.Sprintf("protocol: expected a file (F), got %q", typ))
			return
		}
		payload, err := readPayload(cn.r, typ, n, MaxControlFrame, nil)
		if err != nil {
			cn.fail(err.Error())
			return
		}
		var f File
		if err := decodeJSON(typ, payload, &f); err != nil {
			cn.fail(err.Error())
			return
		}
		if !cn.runFile(ctx, job, file, f) {
			return
		}
	}
}

// runFile runs one archive; it reports whether the connection may carry
// the next one.
func (cn *conn) runFile(ctx context.Context, job Job, file int, f File) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := &source{cn: cn, ctx: ctx, cancel: cancel, last: -1, name: f.Name, wake: make(chan struct{})}
	fr := &FileRun{File: f, Source: src, release: src.release}
	progress := func() Progress {
		return Progress{File: file, Received: int(src.received.Load()), Through: int(fr.through.Load()) - 1, Offset: fr.offset.Load(),
			New: int(fr.newEvents.Load()), Duplicates: int(fr.duplicates.Load()), Quarantined: int(fr.quarantined.Load())}
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(cn.s.ProgressEvery)
		defer t.Stop()
		var last Progress
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if p := progress(); p != last {
				last = p
				if err := cn.write(FrameProgress, &p); err != nil {
					cancel() // the client is gone
					return
				}
			}
		}
	}()
	start := time.Now()
	sum, err := cn.s.Handler.Backfill(ctx, job, fr)
	close(stop)
	<-ticked
	if src.err != nil {
		err = src.err // the cause of the cancel
	}
	if err == nil && !src.ended {
		err = errors.New("control: the backfill stopped before the end of the file")
	}
	p := progress()
	cn.write(FrameProgress, &p)
	done := FileDone{Summary: sum}
	if err != nil {
		done.Error = err.Error()
	}
	cn.write(FrameFileDone, &done)
	cn.log.Info("control: file done", "file", f.Name, "mails", p.Received, "through", p.Through,
		"new", p.New, "duplicates", p.Duplicates, "quarantined", p.Quarantined, "elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	return err == nil && !cn.broken.Load()
}

// jobWait is how long a job waits for a slot before it is refused: a
// client that cancelled and runs again at once finds its old job still
// finishing.
const jobWait = 3 * time.Second

func (s *Server) startJob(ctx context.Context) (int64, bool) {
	t := time.NewTimer(jobWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-t.C:
		return 0, false
	case <-ctx.Done():
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobID++
	s.started.Add(1)
	return s.jobID, true
}

func (s *Server) endJob() { <-s.slots }

// source is the archive.Reader over the mail frames of one file.
type source struct {
	cn       *conn
	ctx      context.Context
	cancel   context.CancelFunc
	name     string
	last     int // index of the last mail read
	offset   int64
	bytes    int64
	received atomic.Int64
	ended    bool  // the E frame came
	err      error // the connection failed or broke the protocol

	// The byte budget (Server.MaxInFlight): the mails read and not yet
	// journaled, in order; wake is closed and replaced when it shrinks.
	mu      sync.Mutex
	pending []inFlight
	held    int64
	wake    chan struct{}
}

type inFlight struct {
	index int
	size  int64
}

// release forgets the mails up to index (journaled).
func (s *source) release(index int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for ; i < len(s.pending) && s.pending[i].index <= index; i++ {
		s.held -= s.pending[i].size
	}
	if i == 0 {
		return
	}
	s.pending = s.pending[i:]
	close(s.wake)
	s.wake = make(chan struct{})
}

// admit waits until a mail of size bytes fits the budget (or nothing is
// held), and counts it.
func (s *source) admit(index int, size int64) error {
	for {
		s.mu.Lock()
		if s.held == 0 || s.held+size <= s.cn.s.MaxInFlight {
			s.held += size
			s.pending = append(s.pending, inFlight{index, size})
			s.mu.Unlock()
			return nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}

// Next returns the next mail frame's mail; io.EOF at the file's end, and
// also when the connection failed, which cancels the job.
func (s *source) Next() (archive.Mail, error) {
	if s.ended || s.err != nil {
		return archive.Mail{}, io.EOF
	}
	cn := s.cn
	typ, n, err := cn.readHeader(cn.s.IdleTimeout)
	if err == nil {
		switch typ {
		case FrameEnd:
			if n != 0 {
				err = fmt.Errorf("protocol: end frame with a payload of %d bytes", n)
				break
			}
			s.ended = true
			return archive.Mail{}, io.EOF
		case FrameMail:
			if n < mailHeader {
				err = fmt.Errorf("protocol: mail frame of %d bytes, shorter than its header", n)
				break
			}
			if n > cn.s.MaxMail+mailHeader {
				_, err = readPayload(cn.r, typ, n, cn.s.MaxMail+mailHeader, nil)
				break
			}
			// Within the budget before the mail is read; its index is
			// known only then (until then no release takes it).
			if err = s.admit(math.MaxInt, n); err != nil {
				s.err = err
				return archive.Mail{}, io.EOF
			}
			cn.c.SetReadDeadline(time.Now().Add(cn.s.IdleTimeout))
			var data []byte
			if data, err = readPayload(cn.r, typ, n, cn.s.MaxMail+mailHeader, nil); err != nil {
				break
			}
			index := int(binary.BigEndian.Uint64(data[:8]))
			offset := int64(binary.BigEndian.Uint64(data[8:16]))
			if index <= s.last || index < 0 || offset < 0 {
				err = fmt.Errorf("protocol: mail index %d after %d (indexes must increase)", index, s.last)
				break
			}
			s.last, s.offset = index, offset
			s.mu.Lock()
			s.pending[len(s.pending)-1].index = index
			s.mu.Unlock()
			s.bytes += n + 5
			s.received.Add(1)
			return archive.Mail{Data: data[mailHeader:], Offset: offset, Index: index, Kind: archive.KindMail}, nil
		default:
			err = fmt.Errorf("protocol: expected a mail (M) or the end of the file (E), got %q", typ)
		}
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		err = fmt.Errorf("control: the client went away in the middle of %s", s.name)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("control: no frame from the client for %v", cn.s.IdleTimeout)
	default:
		cn.fail(err.Error())
	}
	s.err = err
	s.cancel()
	return archive.Mail{}, io.EOF
}

// Format implements archive.Reader.
func (s *source) Format() string { return "control" }

// Offset implements archive.Reader: the last mail's offset.
func (s *source) Offset() int64 { return s.offset }

// Progress implements archive.Reader: the bytes received.
func (s *source) Progress() (int64, int64) { return s.bytes, -1 }

// Close implements archive.Reader.
func (s *source) Close() error { return nil }

// mayVouch says why a peer may not vouch for an archive (trust_archive),
// or "" when it may. The socket is open to serve's group (mode 0660), but
// the group cannot write into the spool, the boundary of what serve
// trusts (docs/trust.md): vouching, which makes every replayed event
// trusted, is left to serve's own user and root, who could write spool
// files named as vouched for anyway.
func mayVouch(cred *syscall.Ucred, credErr error, self uint32) string {
	switch {
	case credErr != nil:
		return fmt.Sprintf("trust_archive refused: the peer's credentials are unknown (%v)", credErr)
	case cred.Uid != self && cred.Uid != 0:
		return fmt.Sprintf("trust_archive refused: only serve's own user (uid %d) or root may vouch for an archive, not uid %d; replay without --trust-archive, or run it as that user", self, cred.Uid)
	}
	return ""
}

// peerCred returns the connected process's credentials.
func peerCred(c *net.UnixConn) (*syscall.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, cerr
}
