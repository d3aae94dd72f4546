package replayd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// Server limits.
const (
	// MaxRequestBytes bounds one request message; a peer that sends more
	// is disconnected (a fedmsg query is a few hundred bytes).
	MaxRequestBytes = 1 << 20
	// MaxConns is the default bound on concurrent client connections
	// (Server.MaxClients).
	MaxConns = 256
	// DefaultMaxPerAddress is the default of Server.MaxPerAddress.
	DefaultMaxPerAddress = 32
	// DefaultIdleTimeout is the default of Server.IdleTimeout.
	DefaultIdleTimeout = 60 * time.Second
	// writeTimeout bounds sending one reply to a client that stopped
	// reading.
	writeTimeout = 60 * time.Second
)

// handshakeTimeout bounds a client's greeting and READY; a var so that a
// test can cut stalling peers sooner.
var handshakeTimeout = zmtp.DefaultHandshakeTimeout

// Server is a replay REP endpoint answering from a Store. Every
// connection is served on its own goroutine, one request at a time as
// REP requires; a request it cannot parse gets an error frame, so a
// client is never left waiting.
//
// Peers cannot lock it: one that sends no request for IdleTimeout is
// disconnected; one address holds at most MaxPerAddress connections; and
// when MaxClients are connected, a new client is still answered: the
// connection idle the longest is closed to make room (a REQ client
// reconnects when it next asks). Only when every connection is in the
// middle of a request is a new one refused.
type Server struct {
	store    Store
	maxReply int
	log      *slog.Logger
	ln       net.Listener

	// IdleTimeout, MaxClients and MaxPerAddress are the limits above
	// (DefaultIdleTimeout, MaxConns, DefaultMaxPerAddress; 0 or less
	// turns IdleTimeout and MaxPerAddress off). Set them before Serve.
	IdleTimeout   time.Duration
	MaxClients    int
	MaxPerAddress int

	mu      sync.Mutex
	conns   map[net.Conn]*client
	perAddr map[netip.Addr]int
	closed  bool
	wg      sync.WaitGroup

	requests, errs, evicted, refused atomic.Uint64
}

// client is one connection's state, for eviction.
type client struct {
	addr netip.Addr
	last atomic.Int64 // Unix nanoseconds of the last request (or connect)
	busy atomic.Bool  // a request is being answered
}

// NewServer binds a REP socket to endpoint (tcp://host:port, port 0 for a
// free one, tcp://*:port, or ipc://path). Each reply carries at most
// maxReply envelopes. Call Serve to answer queries.
func NewServer(store Store, endpoint string, maxReply int, log *slog.Logger) (*Server, error) {
	if maxReply <= 0 {
		return nil, fmt.Errorf("replay: max reply %d: must be positive", maxReply)
	}
	if log == nil {
		log = slog.Default()
	}
	if _, _, err := zmtp.SplitEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	ln, err := zmtp.Listen(endpoint)
	if err != nil {
		return nil, fmt.Errorf("replay: bind %s: %w", endpoint, err)
	}
	return &Server{store: store, maxReply: maxReply, log: log, ln: ln,
		IdleTimeout: DefaultIdleTimeout, MaxClients: MaxConns, MaxPerAddress: DefaultMaxPerAddress,
		conns: map[net.Conn]*client{}, perAddr: map[netip.Addr]int{}}, nil
}

// Addr returns the bound endpoint, with the real port when 0 was asked.
func (s *Server) Addr() string {
	return zmtp.EndpointOf(s.ln.Addr())
}

// Requests and Errors count the requests answered, and those answered
// with an error frame.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Errors counts requests answered with an error frame.
func (s *Server) Errors() uint64 { return s.errs.Load() }

// Evicted counts idle connections closed to make room for a new client.
func (s *Server) Evicted() uint64 { return s.evicted.Load() }

// Refused counts connections turned away at once (over MaxPerAddress,
// or every connection busy).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// Clients returns the number of connected clients.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Serve accepts and answers clients until ctx ends or Close is called;
// it then returns nil after every connection has finished.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return nil
			}
			s.log.Warn("replay: accept failed", "err", err)
			time.Sleep(50 * time.Millisecond) // EMFILE and the like
			continue
		}
		cl, ok := s.admit(conn)
		if !ok {
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.forget(conn)
			defer conn.Close()
			s.serveConn(conn, cl)
		}()
	}
}

// admit registers a new connection, making room by closing the
// connection idle the longest when MaxClients are connected; false when
// it must be refused (closed server, address over MaxPerAddress, every
// connection busy).
func (s *Server) admit(conn net.Conn) (*client, bool) {
	cl := &client{}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		cl.addr, _ = netip.AddrFromSlice(ta.IP)
		cl.addr = cl.addr.Unmap()
	}
	cl.last.Store(time.Now().UnixNano())
	peer := conn.RemoteAddr().String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	if s.MaxPerAddress > 0 && cl.addr.IsValid() && s.perAddr[cl.addr] >= s.MaxPerAddress {
		s.refused.Add(1)
		s.log.Warn("replay: too many connections from one address, connection refused", "peer", peer, "max", s.MaxPerAddress)
		return nil, false
	}
	if max := s.MaxClients; max > 0 && len(s.conns) >= max {
		var oldest net.Conn
		var oldestAt int64
		for c, other := range s.conns {
			if at := other.last.Load(); !other.busy.Load() && (oldest == nil || at < oldestAt) {
				oldest, oldestAt = c, at
			}
		}
		if oldest == nil {
			s.refused.Add(1)
			s.log.Warn("replay: every connection is busy, connection refused", "peer", peer, "max", max)
			return nil, false
		}
		// Its goroutine sees the closed connection and ends; it no
		// longer counts from here on.
		s.evicted.Add(1)
		s.log.Info("replay: closed the longest idle connection to make room", "peer", oldest.RemoteAddr().String(),
			"idle", time.Since(time.Unix(0, oldestAt)).Round(time.Second).String())
		s.drop(oldest)
		oldest.Close()
	}
	s.conns[conn] = cl
	s.perAddr[cl.addr]++
	return cl, true
}

// drop forgets conn's place (under s.mu); it is idempotent.
func (s *Server) drop(conn net.Conn) {
	cl, ok := s.conns[conn]
	if !ok {
		return
	}
	delete(s.conns, conn)
	if n := s.perAddr[cl.addr]; n > 1 {
		s.perAddr[cl.addr] = n - 1
	} else {
		delete(s.perAddr, cl.addr)
	}
}

// forget removes a finished connection.
func (s *Server) forget(conn net.Conn) {
	s.mu.Lock()
	s.drop(conn)
	s.mu.Unlock()
}

// Close stops accepting and disconnects every client. Safe to repeat.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	return err
}

// serveConn answers one client's requests until it goes away, or stays
// silent for IdleTimeout.
func (s *Server) serveConn(conn net.Conn, cl *client) {
	peer := conn.RemoteAddr().String()
	r := bufio.NewReader(conn)
	if _, err := zmtp.Handshake(conn, r, zmtp.Rep, true, handshakeTimeout); err != nil {
		s.log.Debug("replay: handshake failed", "peer", peer, "err", err)
		return
	}
	for {
		if s.IdleTimeout > 0 {
			conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		frames, cmd, err := zmtp.ReadMessage(r, MaxRequestBytes)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				s.log.Debug("replay: idle client disconnected", "peer", peer, "idle_timeout", s.IdleTimeout)
			}
			if errors.Is(err, zmtp.ErrTooBig) {
				s.log.Warn("replay: request over the size limit, client disconnected", "peer", peer, "max", MaxRequestBytes)
			}
			return
		}
		if cmd {
			if name, data, ok := zmtp.ParseCommand(frames[0]); ok && name == zmtp.CmdPing {
				if pong, ok := zmtp.Pong(data); ok {
					if _, err := conn.Write(pong); err != nil {
						return
					}
				}
			}
			continue
		}
		// Busy while the journal is queried: never evicted then. Writing
		// the reply is not busy: a client that does not read its reply
		// may be evicted like an idle one.
		cl.busy.Store(true)
		cl.last.Store(time.Now().UnixNano())
		reply := s.handle(peer, frames)
		cl.busy.Store(false)
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(zmtp.EncodeMessage(reply...)); err != nil {
			s.log.Debug("replay: client gone before its reply", "peer", peer, "err", err)
			return
		}
		conn.SetWriteDeadline(time.Time{})
		cl.last.Store(time.Now().UnixNano())
	}
}

// handle turns one request message (REQ envelope, delimiter, body) into
// the reply message, envelope included.
func (s *Server) handle(peer string, frames [][]byte) [][]byte {
	s.requests.Add(1)
	// The envelope is everything up to the first empty frame. A peer that
	// sent none (a bare DEALER) gets its reply without one.
	var env [][]byte
	body := frames
	for i, f := range frames {
		if len(f) == 0 {
			env, body = frames[:i+1], frames[i+1:]
			break
		}
	}
	out, err := s.answer(body)
	if err != nil {
		s.errs.Add(1)
		text := err.Error()
		var re *ReplyError
		if errors.As(err, &re) {
			text = re.Text
		}
		s.log.Info("replay: request refused", "peer", peer, "reason", text)
		out = [][]byte{fmt.Appendf(nil, "error: '%s'", text)}
	} else {
		s.log.Debug("replay: request answered", "peer", peer, "envelopes", len(out))
	}
	return append(append([][]byte{}, env...), out...)
}

// answer parses and evaluates a request body.
func (s *Server) answer(body [][]byte) ([][]byte, error) {
	if len(body) != 1 {
		return nil, &ReplyError{Text: fmt.Sprintf("a request is one frame of JSON, got %d frames", len(body))}
	}
	req, err := ParseRequest(body[0])
	if err != nil {
		return nil, &ReplyError{Text: err.Error()}
	}
	out, err := Answer(s.store, req, s.maxReply)
	if err != nil {
		var re *ReplyError
		if !errors.As(err, &re) {
			s.log.Error("replay: journal query failed", "err", err)
			return nil, &ReplyError{Text: "internal error reading the journal"}
		}
	}
	return out, err
}
