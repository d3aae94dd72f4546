package smtpd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/mailerr"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/spool"
	"github.com/emersion/go-smtp"
)

// backend makes a session per connection for go-smtp.
type backend struct {
	s     *Server
	proto string
}

// NewSession implements smtp.Backend.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	nc := c.Conn()
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // after STARTTLS
		nc = t.NetConn()
	}
	tc, _ := nc.(*trackedConn)
	return &session{s: b.s, proto: b.proto, conn: tc, remote: c.Conn().RemoteAddr(), helo: c.Hostname()}, nil
}

// session is one SMTP/LMTP session. Every error it returns to go-smtp is a
// bare *smtp.SMTPError made by smtpReply: a plain error from Data
// would become a permanent 554 and bounce the mail.
type session struct {
	s      *Server
	proto  string
	conn   *trackedConn
	remote net.Addr
	helo   string
	from   string
	rcpts  []string
}

// Mail implements smtp.Session: the client network is checked here.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.s.allowedClient(ss.remote) {
		ss.s.log.Warn("client not allowed", "remote", ss.remote.String(), "from", from)
		return smtpReply(mailerr.NotAllowed("Client " + hostOf(ss.remote)))
	}
	if ss.conn != nil && !ss.conn.setBusy(true) {
		return smtpReply(mailerr.ShuttingDown())
	}
	ss.from = from
	return nil
}

// Rcpt implements smtp.Session: recipients are checked against
// smtp.allowed_recipients.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.s.allowedClient(ss.remote) {
		return smtpReply(mailerr.NotAllowed("Client " + hostOf(ss.remote)))
	}
	if !ss.s.rcpts.allows(to) {
		ss.s.log.Warn("recipient not allowed", "remote", ss.remote.String(), "rcpt", to)
		return smtpReply(mailerr.NotAllowed("Recipient"))
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// Data implements smtp.Session: the mail is spooled, and nil (250) is
// returned only once the spool has fsynced it. Over LMTP go-smtp repeats
// the result for every recipient.
func (ss *session) Data(r io.Reader) error {
	start := time.Now()
	cr := &countingReader{r: r}
	if ss.conn != nil {
		ss.conn.startData() // DATA as a whole has smtp.data_timeout
	}
	// The client's address goes with the mail, in its spool name: trust
	// judges it later (trust.trusted_relays); nothing in the mail can.
	name, err := ss.s.sp.DeliverFrom(cr, ss.s.cfg.MaxMessageBytes, spool.Origin{Relay: addrOf(ss.remote)})
	if err == nil && cr.err != nil && !errors.Is(cr.err, io.EOF) {
		// The spool must not accept a truncated mail; be safe if it did.
		err = cr.err
	}
	if err != nil {
		err = classify(err, cr.err, ss.s.cfg.MaxMessageBytes)
	}
	code := 250
	var reply *smtp.SMTPError
	if err != nil {
		reply = smtpReply(err)
		code = reply.Code
	}
	n := max(1, len(ss.rcpts))
	if ss.proto == "smtp" {
		n = 1
	}
	for range n {
		ss.s.m.SMTPReply(code)
	}
	attrs := []any{"protocol", ss.proto, "remote", ss.remote.String(), "from", ss.from,
		"rcpts", ss.rcpts, "bytes", cr.n, "code", code, "ms", time.Since(start).Milliseconds()}
	// The spool's own failures (not the client's: a stall, a vanished
	// client, a mail too big) make serve unready until a mail is spooled.
	if clientOK := cr.err == nil || errors.Is(cr.err, io.EOF); clientOK && err != nil && code != 552 {
		ss.s.m.SetFailing("spool", err)
	} else if err == nil {
		ss.s.m.SetFailing("spool", nil)
	}
	if err != nil {
		ss.s.log.Warn("mail not accepted", append(attrs, "err", err.Error())...)
		return reply
	}
	mode := metrics.ModeSMTP
	if ss.proto == "lmtp" {
		mode = metrics.ModeLMTP
	}
	ss.s.m.Received(mode)
	ss.s.m.Spooled()
	ss.s.log.Info("mail spooled", append(attrs, "spool", name)...)
	return nil
}

// classify picks the reply for a failed Deliver. A failure to read the
// client's data wins over what the spool made of it: too big is 552, a
// stall is 451 4.4.2, a vanished client 451 4.3.0.
func classify(err, readErr error, limit int64) error {
	switch {
	case readErr == nil || errors.Is(readErr, io.EOF):
		return err
	case errors.Is(readErr, smtp.ErrDataTooLarge):
		return mailerr.TooBig(limit)
	case errors.Is(readErr, smtp.ErrTooLongLine):
		// Permanent: MTAs fold lines long before MaxLineLength.
		return &mailerr.Error{Code: 552, Enhanced: [3]int{5, 3, 4}, Message: fmt.Sprintf("Line too long (limit %d bytes)", MaxLineLength)}
	case isTimeout(readErr):
		return mailerr.Timeout(readErr)
	case errors.As(readErr, new(*smtp.SMTPError)):
		return readErr // go-smtp's own reply
	default:
		return mailerr.SpoolFailed(fmt.Errorf("reading DATA: %w", readErr))
	}
}

// smtpReply maps err to the bare *smtp.SMTPError that go-smtp must get (a
// wrapped or plain error would become a permanent 554): go-smtp's own
// reply when err carries one, else mailerr.Reply's (451 4.3.0 for an
// error without a reply, so that no mail is bounced for a local fault).
func smtpReply(err error) *smtp.SMTPError {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &smtp.SMTPError{Code: se.Code, EnhancedCode: se.EnhancedCode, Message: se.Message}
	}
	me := mailerr.Reply(err)
	return &smtp.SMTPError{Code: me.Code, EnhancedCode: smtp.EnhancedCode(me.Enhanced), Message: me.Message}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Reset implements smtp.Session; go-smtp calls it after every DATA reply.
func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
	if ss.conn != nil {
		ss.conn.setBusy(false)
	}
}

// Logout implements smtp.Session.
func (ss *session) Logout() error {
	if ss.conn != nil {
		ss.conn.setBusy(false)
	}
	return nil
}

// countingReader counts bytes and keeps the first read error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// allowList matches recipients: full addresses and "@domain" entries, case
// insensitively. An empty list allows every recipient.
type allowList struct {
	addrs   map[string]bool
	domains map[string]bool
}

func newAllowList(entries []string) (allowList, error) {
	a := allowList{addrs: map[string]bool{}, domains: map[string]bool{}}
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case strings.HasPrefix(e, "@") && len(e) > 1 && !strings.Contains(e[1:], "@"):
			a.domains[e[1:]] = true
		case strings.Count(e, "@") == 1 && !strings.HasPrefix(e, "@") && !strings.HasSuffix(e, "@"):
			a.addrs[e] = true
		default:
			return a, fmt.Errorf("smtp.allowed_recipients: %q is neither user@domain nor @domain", e)
		}
	}
	return a, nil
}

func (a allowList) allows(rcpt string) bool {
	if len(a.addrs) == 0 && len(a.domains) == 0 {
		return true
	}
	rcpt = strings.ToLower(strings.Trim(rcpt, "<> "))
	if a.addrs[rcpt] {
		return true
	}
	i := strings.LastIndexByte(rcpt, '@')
	return i >= 0 && a.domains[rcpt[i+1:]]
}

// addrOf is the IP address of a client (zero when a has none).
func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func hostOf(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}
