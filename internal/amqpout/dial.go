package amqpout

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/internal/config"
)

// Check checks c as New does (the URL, the TLS files), without a journal
// or a connection: serve --check-config.
func Check(c config.AMQP) error {
	_, err := newDialer(c)
	return err
}

// dialer opens connections to the configured broker.
type dialer struct {
	url      string
	redacted string // the URL without its password, for logs and errors
	tls      *tls.Config
	sasl     []amqp.Authentication
}

// newDialer checks the URL and loads the TLS files, so that a mistake
// there fails the start (a configuration error) rather than every
// connection attempt.
func newDialer(c config.AMQP) (*dialer, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		return nil, errors.New("amqp.url: want amqp:// or amqps://")
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return nil, fmt.Errorf("amqp.url %s: %v", u.Redacted(), err)
	}
	d := &dialer{url: c.URL, redacted: u.Redacted()}
	if u.Scheme != "amqps" {
		return d, nil
	}
	// As fedora-messaging: TLS 1.2 or later, the broker's name checked.
	d.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("amqp.ca_cert: %w", err)
		}
		d.tls.RootCAs = x509.NewCertPool()
		if !d.tls.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("amqp.ca_cert %s: no PEM certificate in it", c.CACert)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("amqp.certfile/keyfile: %w", err)
		}
		d.tls.Certificates = []tls.Certificate{cert}
		// The broker takes the user from the certificate.
		d.sasl = []amqp.Authentication{&amqp.ExternalAuth{}}
	}
	return d, nil
}

// conn is one open connection and the socket under it, which kill
// closes to unblock a publish stuck in a write (a broker that stopped
// reading, or blocked publishers for a resource alarm).
type conn struct {
	*amqp.Connection
	mu  sync.Mutex
	raw *heldConn
}

// dial connects and logs in; errors name the broker (without password)
// and say what to check.
func (d *dialer) dial() (*conn, error) {
	c := &conn{}
	cfg := amqp.Config{
		SASL:            d.sasl,
		TLSClientConfig: d.tls,
		Properties:      amqp.Table{"product": "mailgw", "connection_name": "mailgw amqp outlet"},
		Dial: func(network, addr string) (net.Conn, error) {
			raw, err := net.DialTimeout(network, addr, dialTimeout)
			if err != nil {
				return nil, err
			}
			// The handshake must finish in time; amqp091 clears the
			// deadline once the connection is open.
			raw.SetDeadline(time.Now().Add(dialTimeout))
			h := &heldConn{Conn: raw}
			c.mu.Lock()
			c.raw = h
			c.mu.Unlock()
			return h, nil
		},
	}
	ac, err := amqp.DialConfig(d.url, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w%s", d.redacted, err, hint(err))
	}
	c.Connection = ac
	return c, nil
}

// hint says what to check for the common failures.
func hint(err error) string {
	var ae *amqp.Error
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ae) && ae.Code == amqp.AccessRefused:
		return " (check the user and password in amqp.url, or the client certificate's user, and its permissions on the vhost)"
	case errors.As(err, &ue), errors.As(err, &ce):
		return " (the broker's certificate does not verify with amqp.ca_cert)"
	case errors.As(err, &he):
		return " (the broker's certificate does not name the host in amqp.url)"
	}
	return ""
}

// kill closes the socket at once.
func (c *conn) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		c.raw.Close()
	}
}

// hold makes the socket keep what is written until release: amqp091
// writes (and flushes) each message on its own, one system call per
// message, and the sender publishes a batch at a time. Measured with
// BenchmarkOutlet: the outlet's write calls were 0.07 of its 0.65
// CPU-seconds for 18,428 messages in a replay; again in December 2026,
// the outlet alone over a replay's 30,240 events, three pairs in turn:
// 62.0 µs of CPU per event held, 72.8 µs not (medians; 413 write calls
// in all held, strace). Holds last only while fill publishes (no call there
// waits for the broker), so heartbeats and amqp091's replies written
// meanwhile wait at most for one batch; under TLS the socket below
// tls.Conn is held (one record per message, written together).
func (c *conn) hold() {
	c.mu.Lock()
	h := c.raw
	c.mu.Unlock()
	h.hold()
}

// release writes what hold kept, in one call.
func (c *conn) release() error {
	c.mu.Lock()
	h := c.raw
	c.mu.Unlock()
	return h.release()
}

// heldConn is a socket that, while held, appends what is written to a
// buffer (up to maxHeld bytes) instead of writing it.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

const maxHeld = 1 << 20

func (h *heldConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held && len(h.buf)+len(p) <= maxHeld {
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	if err := h.flush(); err != nil {
		return 0, err
	}
	return h.Conn.Write(p)
}

func (h *heldConn) hold() {
	h.mu.Lock()
	h.held = true
	h.mu.Unlock()
}

func (h *heldConn) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = false
	return h.flush()
}

// flush writes the buffer (under mu). A failed write breaks the
// connection for good: amqp091 took the bytes as written.
func (h *heldConn) flush() error {
	if len(h.buf) == 0 {
		return nil
	}
	_, err := h.Conn.Write(h.buf)
	h.buf = h.buf[:0]
	if err != nil {
		h.Conn.Close()
	}
	return err
}
