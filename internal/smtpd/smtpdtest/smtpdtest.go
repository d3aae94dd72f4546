// Package smtpdtest holds an in-memory smtpd.Spooler for tests.
package smtpdtest

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/debian/mailgw/internal/mailerr"
	"github.com/debian/mailgw/internal/spool"
)

// FakeSpooler is an in-memory smtpd.Spooler for tests. It enforces maxBytes the
// way the real spool does, returns Err when set, and, when Gate is not nil,
// waits for a value from it before "fsyncing" (to hold a DATA in flight).
type FakeSpooler struct {
	Err     error         // returned by Deliver instead of storing, when set
	Gate    chan struct{} // when set, Deliver blocks on it after reading
	Started chan struct{} // when set, Deliver sends on it once it has read the mail

	mu      sync.Mutex
	mails   [][]byte
	origins []spool.Origin
}

// Origins returns the origins of the mails delivered so far.
func (f *FakeSpooler) Origins() []spool.Origin {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]spool.Origin(nil), f.origins...)
}

// DeliverFrom implements smtpd.Spooler; the origins are kept (Origins).
func (f *FakeSpooler) DeliverFrom(r io.Reader, maxBytes int64, o spool.Origin) (string, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, maxBytes+1))
	if err != nil {
		return "", mailerr.SpoolFailed(err)
	}
	if n > maxBytes {
		io.Copy(io.Discard, r)
		return "", mailerr.TooBig(maxBytes)
	}
	if f.Started != nil {
		f.Started <- struct{}{}
	}
	if f.Gate != nil {
		<-f.Gate
	}
	if f.Err != nil {
		return "", f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mails = append(f.mails, buf.Bytes())
	f.origins = append(f.origins, o)
	return fmt.Sprintf("fake-%d", len(f.mails)), nil
}

// Mails returns copies of the mails delivered so far.
func (f *FakeSpooler) Mails() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]byte, len(f.mails))
	for i, m := range f.mails {
		out[i] = bytes.Clone(m)
	}
	return out
}
