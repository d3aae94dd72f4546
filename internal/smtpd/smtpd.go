// Package smtpd is mailgw's SMTP and LMTP listener (RFC 5321, RFC 2033),
// built on github.com/emersion/go-smtp. It is a relay target for the local
// MTA, not a mail server: every accepted mail goes into the spool, and the
// 250 reply is sent only after the spool has fsynced it.
//
// Replies (docs/errors.md; internal/mailerr is the only place errors become codes):
//
//	250 2.0.0   spooled and fsynced
//	421 4.3.2   shutting down (then closed)
//	421 4.7.0   too many connections, in all or from the client's address
//	421 4.4.2   a command line took longer than smtp.command_timeout
//	421 4.4.2   the client was idle or stalled longer than smtp.read_timeout
//	451 4.3.0   the spool failed
//	451 4.4.2   the client stalled mid-DATA, or DATA took longer than
//	            smtp.data_timeout (no 250; the mail is not kept)
//	452 4.3.1   the spool is full
//	550 5.7.1   the recipient is not allowed
//	554 5.7.1   at connect: the client is outside smtp.allowed_networks
//	552 5.3.4   over smtp.max_message_bytes (SIZE extension and counted DATA)
//
// Over LMTP the DATA reply is repeated once per recipient (the mail is
// spooled once). STARTTLS is offered when smtp.tls_cert and smtp.tls_key are
// set. Shutdown stops taking new sessions (they get 421), lets transactions
// in DATA finish, and closes idle sessions.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/spool"
	"github.com/emersion/go-smtp"
)

// Spooler is what the listener needs from the spool: DeliverFrom reads
// one mail, fsyncs it into the spool with its origin (the client's
// address, which trust judges) and returns its name, or a *mailerr.Error
// saying why not (temporary: 451/452; too big: 552).
type Spooler interface {
	DeliverFrom(r io.Reader, maxBytes int64, o spool.Origin) (string, error)
}

// MaxLineLength bounds one line of a command or of DATA (RFC 5321 says
// 1000; real mail is sometimes sloppier, and the memory cost is small).
const MaxLineLength = 64 << 10

// Server is the SMTP/LMTP listener. One Server can serve several
// listeners (SMTP and LMTP); the connection limit is shared.
type Server struct {
	cfg   config.SMTP
	sp    Spooler
	m     *metrics.Metrics
	log   *slog.Logger
	nets  []netip.Prefix
	rcpts allowList
	tls   *tls.Config
	err   error // configuration problem, returned by Serve
	slots chan struct{}

	mu        sync.Mutex
	closing   bool
	conns     map[*trackedConn]struct{}
	perAddr   map[netip.Addr]int // open connections per client address
	servers   []*smtp.Server
	listeners []net.Listener
	acceptWG  sync.WaitGroup
}

// New makes a Server from cfg. Configuration problems (bad CIDR, unreadable
// TLS key pair) are reported by Check and returned by Serve.
func New(cfg config.SMTP, sp Spooler, m *metrics.Metrics, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, sp: sp, m: m, log: log, conns: map[*trackedConn]struct{}{}, perAddr: map[netip.Addr]int{}}
	s.nets, s.rcpts, s.tls, s.err = parse(cfg)
	n := cfg.MaxConnections
	if n <= 0 {
		n = 100
	}
	s.slots = make(chan struct{}, n)
	return s
}

// Check validates the SMTP part of the configuration: networks, recipients,
// listen addresses and the TLS key pair.
func Check(cfg config.SMTP) error {
	_, _, _, err := parse(cfg)
	return err
}

func parse(cfg config.SMTP) ([]netip.Prefix, allowList, *tls.Config, error) {
	var errs []error
	var nets []netip.Prefix
	for _, n := range cfg.AllowedNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("smtp.allowed_networks: %q is not a CIDR prefix or address", n))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p.Masked())
	}
	rcpts, err := newAllowList(cfg.AllowedRecipients)
	if err != nil {
		errs = append(errs, err)
	}
	for key, addr := range map[string]string{"smtp.listen": cfg.Listen, "smtp.lmtp_listen": cfg.LMTPListen} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", key, addr, err))
		}
	}
	var tc *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("smtp.tls_cert/tls_key: %v", err))
		} else {
			tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	return nets, rcpts, tc, errors.Join(errs...)
}

// allowedClient reports whether addr is in smtp.allowed_networks.
func (s *Server) allowedClient(addr net.Addr) bool {
	if _, ok := addr.(*net.TCPAddr); !ok {
		return addr.Network() == "unix" // a local socket is as trusted as its file mode
	}
	ip := addrOf(addr)
	if !ip.IsValid() {
		return false
	}
	for _, p := range s.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Serve accepts connections on l until Shutdown, speaking LMTP when lmtp
// is set. It returns nil after Shutdown.
func (s *Server) Serve(l net.Listener, lmtp bool) error {
	if s.err != nil {
		return s.err
	}
	proto := "smtp"
	if lmtp {
		proto = "lmtp"
	}
	srv := smtp.NewServer(backend{s: s, proto: proto})
	srv.LMTP = lmtp
	srv.Network = "tcp"
	srv.Domain = s.cfg.Domain
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.MaxLineLength = MaxLineLength
	srv.WriteTimeout = s.cfg.WriteTimeout.Duration
	// go-smtp's per-command deadline is the total time one command line
	// may take; trackedConn adds smtp.read_timeout per read (an
	// inactivity timeout, also inside DATA) and data_timeout for DATA.
	srv.ReadTimeout = s.cfg.CommandTimeout.Duration
	srv.TLSConfig = s.tls
	srv.ErrorLog = log.New(slogWriter{s.log}, "", 0)

	cl := newChanListener(l.Addr())
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, l)
	s.acceptWG.Add(1)
	s.mu.Unlock()

	go s.acceptLoop(l, cl, proto)
	s.log.Info("listening", "protocol", proto, "addr", l.Addr().String(), "starttls", s.tls != nil)
	err := srv.Serve(cl)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// acceptLoop owns the real listener: it enforces the connection limit and
// answers 421 while shutting down, and hands the rest to go-smtp.
func (s *Server) acceptLoop(l net.Listener, cl *chanListener, proto string) {
	defer s.acceptWG.Done()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.admit(c, cl, proto)
	}
}

// admit decides at connect time: a client outside smtp.allowed_networks
// gets 554 and is closed before it takes a connection slot (so clients
// from elsewhere can never lock the MTA out); one over
// smtp.max_connections_per_address or smtp.max_connections gets 421.
func (s *Server) admit(c net.Conn, cl *chanListener, proto string) {
	if !s.allowedClient(c.RemoteAddr()) {
		s.log.Warn("client not allowed", "remote", c.RemoteAddr().String())
		go s.reject(c, "554 5.7.1 Client "+hostOf(c.RemoteAddr())+" not allowed")
		return
	}
	addr := addrOf(c.RemoteAddr())
	s.mu.Lock()
	closing := s.closing
	perAddr := s.cfg.MaxConnectionsPerAddress > 0 && addr.IsValid() && s.perAddr[addr] >= s.cfg.MaxConnectionsPerAddress
	if !closing && !perAddr {
		s.perAddr[addr]++ // released by trackedConn.Close or below
	}
	s.mu.Unlock()
	if closing {
		go s.reject(c, "421 4.3.2 Service shutting down, try again later")
		return
	}
	if perAddr {
		s.log.Warn("too many connections from one address", "remote", c.RemoteAddr().String(), "max", s.cfg.MaxConnectionsPerAddress)
		go s.reject(c, "421 4.7.0 Too many connections from your address, try again later")
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.mu.Lock()
		s.release(addr)
		s.mu.Unlock()
		go s.reject(c, "421 4.7.0 Too many connections, try again later")
		return
	}
	tc := s.track(c, proto, addr)
	if !cl.push(tc) {
		// Shutdown closed go-smtp's listener meanwhile; closing tc frees its slot.
		go s.reject(tc, "421 4.3.2 Service shutting down, try again later")
	}
}

// release forgets one connection of addr (under s.mu).
func (s *Server) release(addr netip.Addr) {
	if n := s.perAddr[addr]; n > 1 {
		s.perAddr[addr] = n - 1
	} else {
		delete(s.perAddr, addr)
	}
}

// reject greets c with a 421 or 554 reply and closes it.
func (s *Server) reject(c net.Conn, reply string) {
	s.m.ConnRejected()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, reply+"\r\n")
	c.Close()
}

// Shutdown stops the listeners: new connections get 421, sessions that are
// idle are closed, transactions in progress finish (their DATA gets its
// reply). When ctx ends first, remaining connections are cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	servers := append([]*smtp.Server(nil), s.servers...)
	for c := range s.conns {
		c.kickIfIdle()
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				srv.Close()
				errs[i] = err
			}
		}()
	}
	wg.Wait()

	s.mu.Lock()
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	s.acceptWG.Wait()
	return errors.Join(errs...)
}

// slogWriter turns go-smtp's log.Logger output into slog warnings.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("smtp", "detail", strings.TrimSpace(string(p)))
	return len(p), nil
}
