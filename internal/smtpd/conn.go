package smtpd

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// trackedConn wraps an accepted connection. It enforces two read
// deadlines: smtp.read_timeout per read (so a client that stalls mid-DATA
// is dropped however large the mail), and a total one per phase, so that
// a client dribbling a byte every few seconds is dropped too: one command
// line gets smtp.command_timeout (go-smtp sets it through SetReadDeadline
// before each command), DATA as a whole smtp.data_timeout (startData). It
// knows whether a mail transaction is in progress, and can be "kicked":
// its reads then fail with a timeout, which makes go-smtp reply 421 and
// close the session from its own goroutine.
type trackedConn struct {
	net.Conn
	s       *Server
	proto   string
	addr    netip.Addr // the client's address, for the per-address limit
	timeout time.Duration

	mu       sync.Mutex
	busy     bool      // between MAIL and the end of the transaction
	deadline time.Time // end of the current phase (command or DATA)
	kicked   bool
	once     sync.Once
}

func (s *Server) track(c net.Conn, proto string, addr netip.Addr) *trackedConn {
	tc := &trackedConn{Conn: c, s: s, proto: proto, addr: addr, timeout: s.cfg.ReadTimeout.Duration}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	s.m.ConnOpened(proto)
	return tc
}

// Read reads with a fresh inactivity deadline, capped by the end of the
// phase, unless the conn was kicked.
func (c *trackedConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.kicked {
		c.mu.Unlock()
		return 0, errKicked{}
	}
	var d time.Time
	if c.timeout > 0 {
		d = time.Now().Add(c.timeout)
	}
	if !c.deadline.IsZero() && (d.IsZero() || c.deadline.Before(d)) {
		d = c.deadline
	}
	c.Conn.SetReadDeadline(d)
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if err != nil && isTimeout(err) {
		// Out of time: the session is over. Without this a partial
		// line handed up before the error would start a new command,
		// and with it a new deadline, for ever.
		c.kick()
	}
	return n, err
}

// SetReadDeadline sets the end of the phase: go-smtp calls it before
// reading each command (smtp.command_timeout) and for a TLS handshake.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

// startData starts the DATA phase: its bytes must all arrive within
// smtp.data_timeout.
func (c *trackedConn) startData() {
	var t time.Time
	if d := c.s.cfg.DataTimeout.Duration; d > 0 {
		t = time.Now().Add(d)
	}
	c.SetReadDeadline(t)
}

// SetDeadline sets only the write deadline, for the same reason.
func (c *trackedConn) SetDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(t) }

// Close closes the connection once and frees its connection slot.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.release(c.addr)
		c.s.mu.Unlock()
		<-c.s.slots
		c.s.m.ConnClosed(c.proto)
	})
	return err
}

// setBusy marks the start (true) or end (false) of a mail transaction. It
// reports false when a transaction may not start because the server is
// shutting down. A transaction that ends while shutting down kicks the
// conn: its reply has been written, and the session ends with 421.
func (c *trackedConn) setBusy(busy bool) bool {
	c.s.mu.Lock()
	closing := c.s.closing
	c.s.mu.Unlock()
	if busy && closing {
		return false
	}
	c.mu.Lock()
	c.busy = busy
	c.mu.Unlock()
	if !busy && closing {
		c.kick()
	}
	return true
}

func (c *trackedConn) kickIfIdle() {
	c.mu.Lock()
	busy := c.busy
	c.mu.Unlock()
	if !busy {
		c.kick()
	}
}

// kick makes pending and future reads fail with a timeout.
func (c *trackedConn) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kicked = true
	c.Conn.SetReadDeadline(time.Unix(1, 0))
}

// errKicked is a timeout error, so go-smtp answers 421 and hangs up.
type errKicked struct{}

func (errKicked) Error() string   { return "smtpd: session closed for shutdown" }
func (errKicked) Timeout() bool   { return true }
func (errKicked) Temporary() bool { return true }

// chanListener is the net.Listener go-smtp serves: acceptLoop pushes the
// connections it admitted.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	mu     sync.Mutex
	closed chan struct{}
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to Accept; false when the listener is closed.
func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept implements net.Listener.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *chanListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}

// Addr implements net.Listener.
func (l *chanListener) Addr() net.Addr { return l.addr }
