package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/debian/mailgw/internal/mailerr"
)

const testMail = "From: dak <dak@ftp-master.debian.org>\r\nSubject: Accepted bash 3.2-2 (source all)\r\nMessage-ID: <abc@debian.org>\r\n\r\nbody\r\n"

// newSpool makes a fresh spool in a temp dir.
func newSpool(t testing.TB) *Spool {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "spool")
	if err := Create(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantCode checks that err is a *mailerr.Error with the SMTP code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var me *mailerr.Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want *mailerr.Error %d", err, err, code)
	}
	if me.Code != code {
		t.Fatalf("code = %d (%v), want %d", me.Code, err, code)
	}
}

func dirLen(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestOpenMissingIsTemporary(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(base, "nope"), filepath.Join(file, "spool")} {
		_, err := Open(dir, 0)
		wantCode(t, err, 451)
		if mailerr.ExitCode(err) != 75 {
			t.Errorf("%s: exit code %d, want 75", dir, mailerr.ExitCode(err))
		}
	}
	// Create cannot make a spool under a regular file either.
	wantCode(t, Create(filepath.Join(file, "spool")), 451)
	// tmp/ being a file instead of a directory.
	dir := filepath.Join(base, "s")
	if err := Create(dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "tmp"))
	os.WriteFile(filepath.Join(dir, "tmp"), nil, 0o644)
	_, err := Open(dir, 0)
	wantCode(t, err, 451)
}

func TestDeliverRoundTrip(t *testing.T) {
	s := newSpool(t)
	name, err := s.Deliver(strings.NewReader(testMail), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Read(name)
	if err != nil || string(got) != testMail {
		t.Fatalf("Read = %q, %v", got, err)
	}
	pend, err := s.Pending()
	if err != nil || len(pend) != 1 || pend[0] != name {
		t.Fatalf("Pending = %v, %v; want [%s]", pend, err, name)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 0 {
		t.Errorf("tmp/ has %d files after delivery", n)
	}
	if err := s.Done(name); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(name); err != nil {
		t.Errorf("second Done: %v", err)
	}
	if pend, _ := s.Pending(); len(pend) != 0 {
		t.Errorf("Pending after Done = %v", pend)
	}
}

// TestNewOnlyWhenComplete: while the mail is still being received it is in
// tmp/ only; new/ sees it once whole.
func TestNewOnlyWhenComplete(t *testing.T) {
	s := newSpool(t)
	pr, pw := io.Pipe()
	type res struct {
		name string
		err  error
	}
	done := make(chan res)
	go func() {
		n, err := s.Deliver(pr, 0)
		done <- res{n, err}
	}()
	half := len(testMail) / 2
	if _, err := pw.Write([]byte(testMail[:half])); err != nil {
		t.Fatal(err)
	}
	// Deliver has consumed the first half; the rest has not been sent.
	if n := dirLen(t, filepath.Join(s.Dir(), "new")); n != 0 {
		t.Fatalf("new/ has %d files before the mail is complete", n)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 1 {
		t.Fatalf("tmp/ has %d files while receiving, want 1", n)
	}
	pw.Write([]byte(testMail[half:]))
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	got, _ := s.Read(r.name)
	if string(got) != testMail {
		t.Fatalf("spooled %q", got)
	}
}

func TestDeliverTooBig(t *testing.T) {
	s := newSpool(t)
	lim := int64(len(testMail))
	if _, err := s.Deliver(strings.NewReader(testMail), lim); err != nil {
		t.Fatalf("mail of exactly the limit: %v", err)
	}
	_, err := s.Deliver(strings.NewReader(testMail+"x"), lim)
	wantCode(t, err, 552)
	// Permanent for SMTP (552); deliver still exits 75 (docs/errors.md).
	if mailerr.Reply(err).Temporary() || mailerr.ExitCode(err) != 75 {
		t.Errorf("too big must be permanent for SMTP, 75 for deliver: %v", err)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 0 {
		t.Errorf("tmp/ keeps %d files after refusing", n)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "new")); n != 1 {
		t.Errorf("new/ has %d files, want 1", n)
	}
}

func TestDeliverSpoolFull(t *testing.T) {
	s := newSpool(t)
	s.minFree = 1 << 62 // more than any disk has
	_, err := s.Deliver(strings.NewReader(testMail), 0)
	wantCode(t, err, 452)
	if mailerr.ExitCode(err) != 75 {
		t.Errorf("full spool exit code %d, want 75", mailerr.ExitCode(err))
	}
	if got := classify(fmt.Errorf("write: %w", syscall.ENOSPC)); !isCode(got, 452) {
		t.Errorf("ENOSPC classified as %v", got)
	}
}

func isCode(err error, code int) bool {
	var me *mailerr.Error
	return errors.As(err, &me) && me.Code == code
}

// TestDeliverUnwritable: as root, permissions do not stop writes; a spool
// whose tmp/ vanished after Open (or is a file) does.
func TestDeliverUnwritable(t *testing.T) {
	s := newSpool(t)
	tmp := filepath.Join(s.Dir(), "tmp")
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Deliver(strings.NewReader(testMail), 0)
	wantCode(t, err, 451)
	if mailerr.ExitCode(err) != 75 {
		t.Errorf("exit code %d, want 75", mailerr.ExitCode(err))
	}
}

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

func TestDeliverReadErrors(t *testing.T) {
	s := newSpool(t)
	_, err := s.Deliver(io.MultiReader(strings.NewReader("From: x\r\n"), failReader{errors.New("connection reset")}), 0)
	wantCode(t, err, 451)
	// The reader's error stays inside, for the caller to tell apart
	// (smtpd answers 552 for go-smtp's size limit), and a reply the
	// reader made already passes through.
	cause := errors.New("client vanished")
	_, err = s.Deliver(failReader{cause}, 0)
	if !errors.Is(err, cause) {
		t.Errorf("err = %v, want it to wrap %v", err, cause)
	}
	_, err = s.Deliver(failReader{mailerr.TooBig(7)}, 0)
	wantCode(t, err, 552)
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 0 {
		t.Errorf("tmp/ keeps %d files", n)
	}
}

func TestDeliverConcurrent(t *testing.T) {
	s := newSpool(t)
	const workers, each = 50, 10
	var wg sync.WaitGroup
	names := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n, err := s.Deliver(strings.NewReader(fmt.Sprintf("Subject: %d-%d\r\n\r\n", w, i)), 0)
				if err != nil {
					t.Error(err)
					return
				}
				names <- n
			}
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for n := range names {
		if seen[n] {
			t.Fatalf("name %s given twice", n)
		}
		seen[n] = true
		if b, err := s.Read(n); err != nil || !bytes.HasPrefix(b, []byte("Subject: ")) {
			t.Fatalf("Read(%s) = %q, %v", n, b, err)
		}
	}
	pend, _ := s.Pending()
	if len(seen) != workers*each || len(pend) != workers*each {
		t.Fatalf("%d names, %d pending; want %d", len(seen), len(pend), workers*each)
	}
}

func TestBadNames(t *testing.T) {
	s := newSpool(t)
	for _, n := range []string{"", ".", "..", "../x", "a/b", ".hidden"} {
		if _, err := s.Read(n); err == nil {
			t.Errorf("Read(%q) succeeded", n)
		}
		if err := s.Quarantine(n, "x"); err == nil {
			t.Errorf("Quarantine(%q) succeeded", n)
		}
		if err := s.Requeue(n); err == nil {
			t.Errorf("Requeue(%q) succeeded", n)
		}
	}
}
