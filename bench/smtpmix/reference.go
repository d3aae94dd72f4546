package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/smtpd"
	"github.com/debian/mailgw/internal/spool"
)

// The references (-reference) put the same client and mails against a
// go-smtp server that does less than serve, in a process of its own as
// serve is (this program run again with -reference-server): the client's
// goroutines and garbage do not share its two processors' scheduler,
// and its CPU seconds are its own, to set beside serve's.
//
//	discard  each DATA read to its end and dropped, then 250: the ceiling
//	         of any go-smtp server with this client on this machine
//	spool    each DATA handed to mailgw's spool as serve's SMTP listener
//	         hands it (internal/smtpd: Spool.DeliverFrom with the
//	         client's address, fsynced with the spool's group commit
//	         before the 250), nothing after it: no pipeline, journal or
//	         bus, and so no Done, no recycled files (every mail a new
//	         file, left in new/): what intake alone costs
const (
	refDiscard = "discard"
	refSpool   = "spool"
)

// runReference measures the reference o.reference with the config serve
// would have run with (cfgPath: its SMTP limits and timeouts, its spool
// directory and free-space bound).
func runReference(o options, cfg *config.Config, cfgPath string, mails [][]byte, bytesSent int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := exec.Command(self, "-reference", o.reference, "-reference-server", cfgPath)
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	lines := bufio.NewReader(stdout)
	if l, err := lines.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
		return fmt.Errorf("reference server: %q, %v", l, err)
	}
	stopPerf, err := startPerf(o.perf, srv.Process.Pid)
	if err != nil {
		return err
	}
	load0 := loadavg()
	start := time.Now()
	lastAck, err := send(cfg.SMTP.Listen, mails, o.conns)
	if err != nil {
		return err
	}
	secs := lastAck.Sub(start).Seconds()
	stopPerf()
	cpu, cpuErr := cpuSeconds(srv.Process.Pid)
	stdin.Close() // the server's signal to stop and count
	l, err := lines.ReadString('\n')
	var got int
	if _, serr := fmt.Sscanf(l, "received %d", &got); err != nil || serr != nil {
		return fmt.Errorf("reference server: %q, %v", l, errors.Join(err, serr))
	}
	if err := srv.Wait(); err != nil {
		return fmt.Errorf("reference server: %w", err)
	}

	what := "go-smtp alone, each DATA read to its end and discarded"
	if o.reference == refSpool {
		what = "go-smtp + mailgw's spool (Spool.DeliverFrom, group commit), no pipeline, journal or bus"
	}
	fmt.Printf("load average at start: %s\n", load0)
	fmt.Printf("mix: %d mails from %s (%d bytes, %.1f KiB a mail), %d connections\n",
		len(mails), o.mails, bytesSent, float64(bytesSent)/float64(len(mails))/1024, o.conns)
	fmt.Printf("reference %s: %s\n", o.reference, what)
	fmt.Printf("acknowledged: %d mails in %.2fs = %.0f mails/s\n", got, secs, float64(len(mails))/secs)
	if cpuErr == nil {
		fmt.Printf("reference server CPU %.2fs (%.3f ms a mail, start and idle included)\n", cpu, 1000*cpu/float64(len(mails)))
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	if got != len(mails) {
		return fmt.Errorf("the reference server took %d of %d mails", got, len(mails))
	}
	if o.reference == refSpool {
		entries, err := os.ReadDir(filepath.Join(cfg.SpoolDir, "new"))
		if err != nil {
			return err
		}
		if len(entries) != len(mails) {
			return fmt.Errorf("%d mails in the spool's new/, %d sent", len(entries), len(mails))
		}
		fmt.Printf("every mail in the spool (%s)\n", filepath.Join(cfg.SpoolDir, "new"))
	}
	return nil
}

// referenceServer is the reference's server process: a go-smtp server
// set up as internal/smtpd sets up serve's, on the config's SMTP
// address. It writes "ready" once it listens, serves until its standard
// input closes, then writes "received N" (the mails it acknowledged) and
// returns.
func referenceServer(mode, cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	b := &refBackend{}
	switch mode {
	case refDiscard:
	case refSpool:
		if err := spool.Create(cfg.SpoolDir); err != nil {
			return err
		}
		if b.spool, err = spool.Open(cfg.SpoolDir, cfg.SpoolMinFreeBytes); err != nil {
			return err
		}
		b.maxBytes = cfg.SMTP.MaxMessageBytes
	default:
		return fmt.Errorf("-reference %q: want %s or %s", mode, refDiscard, refSpool)
	}
	ln, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return err
	}
	srv := smtp.NewServer(b)
	srv.Domain = cfg.SMTP.Domain
	srv.MaxMessageBytes = cfg.SMTP.MaxMessageBytes
	srv.MaxRecipients = cfg.SMTP.MaxRecipients
	srv.MaxLineLength = smtpd.MaxLineLength
	srv.WriteTimeout = cfg.SMTP.WriteTimeout.Duration
	srv.ReadTimeout = cfg.SMTP.CommandTimeout.Duration
	srv.ErrorLog = log.New(os.Stderr, "reference server: ", 0)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := srv.Close(); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return err
	}
	fmt.Printf("received %d\n", b.received.Load())
	return nil
}

// refBackend makes the reference's sessions; with spool nil they discard
// the DATA.
type refBackend struct {
	spool    *spool.Spool
	maxBytes int64
	received atomic.Int64
}

// NewSession implements smtp.Backend.
func (b *refBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	var relay netip.Addr
	if ap, err := netip.ParseAddrPort(c.Conn().RemoteAddr().String()); err == nil {
		relay = ap.Addr().Unmap()
	}
	return &refSession{b: b, relay: relay}, nil
}

// refSession is one reference session: every command accepted, the DATA
// discarded or spooled.
type refSession struct {
	b     *refBackend
	relay netip.Addr
}

// Mail implements smtp.Session.
func (*refSession) Mail(string, *smtp.MailOptions) error { return nil }

// Rcpt implements smtp.Session.
func (*refSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

// Reset implements smtp.Session.
func (*refSession) Reset() {}

// Logout implements smtp.Session.
func (*refSession) Logout() error { return nil }

// Data implements smtp.Session: the 250 (nil) once the mail is read to
// its end, or durable in the spool.
func (s *refSession) Data(r io.Reader) error {
	var err error
	if s.b.spool == nil {
		_, err = io.Copy(io.Discard, r)
	} else {
		_, err = s.b.spool.DeliverFrom(r, s.b.maxBytes, spool.Origin{Relay: s.relay})
	}
	if err != nil {
		// The client stops at the first reply that is not 250.
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: err.Error()}
	}
	s.b.received.Add(1)
	return nil
}
