package smtpd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/smtpd/smtpdtest"
)

// TestShutdown: a DATA in flight finishes with 250, an idle session and a
// new connection get 421, and Shutdown returns once the DATA is done.
func TestShutdown(t *testing.T) {
	sp := &smtpdtest.FakeSpooler{Gate: make(chan struct{}), Started: make(chan struct{}, 1)}
	s := New(config.Defaults().SMTP, sp, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l, false) }()
	addr := l.Addr().String()

	busy, idle := dial(t, addr), dial(t, addr)
	busy.hello("EHLO")
	idle.hello("EHLO")
	busy.cmd("MAIL FROM:<a@example.org>", "250 ")
	busy.cmd("RCPT TO:<mailgw@localhost>", "250 ")
	busy.cmd("DATA", "354 ")
	busy.send(testMail + ".")
	<-sp.Started // the mail is read, the "fsync" is pending

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if got := idle.reply(); !strings.HasPrefix(got, "421 ") {
		t.Errorf("idle session during shutdown: %q, want 421", got)
	}
	late := dial(t, addr)
	if got := late.reply(); !strings.HasPrefix(got, "421 ") {
		t.Errorf("new connection during shutdown: %q, want 421", got)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a DATA in flight", err)
	default:
	}
	sp.Gate <- struct{}{}
	if got := busy.reply(); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("in-flight DATA: %q, want 250", got)
	}
	if got := busy.reply(); !strings.HasPrefix(got, "421 ") && !strings.HasPrefix(got, "EOF") {
		t.Errorf("after its DATA the session got %q, want 421 or close", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if n := len(sp.Mails()); n != 1 {
		t.Errorf("spooled %d mails, want 1", n)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still open after Shutdown")
	}
}

func TestSTARTTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key)
	sp := &smtpdtest.FakeSpooler{}
	ts := startServer(t, sp, false, func(c *config.SMTP) { c.TLSCert, c.TLSKey = cert, key })
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	if err := c.Mail("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("mailgw@localhost"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, testMail)
	if err := w.Close(); err != nil {
		t.Fatalf("DATA over TLS: %v", err)
	}
	if n := len(sp.Mails()); n != 1 {
		t.Errorf("spooled %d mails, want 1", n)
	}
}

func writeCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}
