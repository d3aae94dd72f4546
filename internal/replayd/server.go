package replayd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// MaxConns bounds concurrent client connections.
	MaxConns = 256
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
type Server struct {
	store    Store
	maxReply int
	log      *slog.Logger
	ln       net.Listener
	slots    chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	requests, errs atomic.Uint64
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
		slots: make(chan struct{}, MaxConns), conns: map[net.Conn]struct{}{}}, nil
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
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.Warn("replay: too many clients, connection refused", "peer", conn.RemoteAddr().String(), "max", MaxConns)
			conn.Close()
			continue
		}
		if !s.track(conn, true) {
			conn.Close()
			<-s.slots
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer s.track(conn, false)
			defer conn.Close()
			s.serveConn(conn)
		}()
	}
}

// track adds or removes a live connection; adding fails once closed.
func (s *Server) track(conn net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, conn)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
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

// serveConn answers one client's requests until it goes away.
func (s *Server) serveConn(conn net.Conn) {
	peer := conn.RemoteAddr().String()
	r := bufio.NewReader(conn)
	if _, err := zmtp.Handshake(conn, r, zmtp.Rep, true, handshakeTimeout); err != nil {
		s.log.Debug("replay: handshake failed", "peer", peer, "err", err)
		return
	}
	for {
		frames, cmd, err := zmtp.ReadMessage(r, MaxRequestBytes)
		if err != nil {
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
		reply := s.handle(peer, frames)
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := conn.Write(zmtp.EncodeMessage(reply...)); err != nil {
			s.log.Debug("replay: client gone before its reply", "peer", peer, "err", err)
			return
		}
		conn.SetWriteDeadline(time.Time{})
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
