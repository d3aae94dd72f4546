// Package spool is mailgw's durable hand-off between "acknowledged" and
// "published": a Maildir (tmp/, new/, cur/) that deliver, serve and replay
// write into and the pipeline drains, plus the quarantine folder where mail
// that yields no event waits, with a readable reason, for an operator.
//
// A mail is acknowledged only once it is durable: it is written to tmp/,
// the file is fsynced, renamed into new/, and new/ is fsynced (docs/flow.md).
// A file in new/ is therefore always complete. It is removed (Done) only
// after its events are journaled, or moved to quarantine with a reason;
// a long-running process keeps removed files as hidden tmp/.free.* files
// and rewrites them for later mail instead of creating new ones
// (recycle.go).
package spool

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/dirsync"
	"github.com/debian/mailgw/internal/mailerr"
)

// Spool is an open Maildir spool. It is safe for concurrent use by many
// goroutines and by many processes (deliver runs once per mail).
type Spool struct {
	dir     string
	minFree int64
	// MaxMessageBytes bounds the mails Read returns (<= 0: no bound): a
	// larger file, written straight into new/, is refused before it is
	// read (a *BadEntryError of Kind KindTooBig). serve sets it to
	// smtp.max_message_bytes.
	MaxMessageBytes int64
	// QuarantineDir is where Quarantine moves mail; Open sets it to
	// "quarantine" beside the spool directory. Set it from the config
	// (quarantine_dir) before use. It is created on first use.
	QuarantineDir string
	// Group commits. A lone Deliver fsyncs its file, renames it and
	// fsyncs new/ (newSync, shared with Requeue). Concurrent Deliver
	// calls (SMTP sessions) share syncfs(2) runs instead (fsSync): one
	// run that starts after the write makes the file durable, the next
	// after the rename makes the rename durable, and every run serves
	// every waiter of either kind. With 50 sessions this measured 2-4
	// times the mails/s of per-file fsyncs. syncfs also flushes other
	// writers of the same file system, so a busy root file system slows
	// it down; a spool on its own file system avoids that.
	newSync, fsSync *groupSync
	// writing counts Deliver calls in progress.
	writing atomic.Int64
	// rescan asks Watch for a new listing of new/ (Rescan).
	rescan chan struct{}
	// badEntries counts recycled tmp/ files found replaced by something
	// serve must not write (BadEntries).
	badEntries atomic.Uint64
	// free holds processed mail files for Deliver to reuse (recycle.go).
	free freeList
}

// subdirs are the Maildir directories.
var subdirs = []string{"tmp", "new", "cur"}

// Create makes the spool directory and its tmp/, new/ and cur/ if they are
// missing (mode 0750). serve calls it at start; deliver never does, so that
// a missing spool is noticed (exit 75) rather than silently recreated in the
// wrong place.
func Create(dir string) error {
	for _, s := range subdirs {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o750); err != nil {
			return mailerr.SpoolFailed(err)
		}
	}
	return nil
}

// Open opens an existing spool. It fails with a temporary *mailerr.Error
// (SpoolFailed) when dir or one of tmp/, new/, cur/ is missing or not a
// directory. minFree is the free space, in bytes, below which Deliver
// reports the spool full.
func Open(dir string, minFree int64) (*Spool, error) {
	for _, s := range subdirs {
		fi, err := os.Stat(filepath.Join(dir, s))
		if err != nil {
			return nil, mailerr.SpoolFailed(fmt.Errorf("spool %s: %w", dir, err))
		}
		if !fi.IsDir() {
			return nil, mailerr.SpoolFailed(fmt.Errorf("spool %s: %s is not a directory", dir, s))
		}
	}
	return &Spool{
		dir:           dir,
		minFree:       minFree,
		QuarantineDir: filepath.Join(filepath.Dir(filepath.Clean(dir)), "quarantine"),
		newSync:       newGroupSync(func() error { return dirsync.Sync(filepath.Join(dir, "new")) }),
		fsSync:        newGroupSync(func() error { return syncFS(dir) }),
		rescan:        make(chan struct{}, 1),
	}, nil
}

// Dir returns the spool directory.
func (s *Spool) Dir() string { return s.dir }

var (
	counter  atomic.Uint64
	hostname = sanitizeHost()
)

func sanitizeHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == '\\' || r == ',' || r < ' ' {
			return '_'
		}
		return r
	}, h)
}

// newName returns a Maildir-style unique name: seconds, then
// microseconds, pid, a process counter and random bytes, then the host.
// Names sort roughly by arrival time.
func newName(now time.Time) string {
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	return fmt.Sprintf("%d.M%06dP%dQ%dR%s.%s", now.Unix(), now.Nanosecond()/1000,
		os.Getpid(), counter.Add(1), hex.EncodeToString(rb[:]), hostname)
}

// checkName rejects names that would leave the spool directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("spool: bad name %q", name)
	}
	return nil
}

// Free returns the bytes available to unprivileged users on the spool's
// file system.
func (s *Spool) Free() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// classify turns a write error into the reply the MTA must see.
func classify(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return mailerr.SpoolFull(err)
	}
	var me *mailerr.Error
	if errors.As(err, &me) {
		return err
	}
	return mailerr.SpoolFailed(err)
}

// Deliver copies one mail from r into the spool and returns its name once
// it is durable in new/. maxBytes <= 0 means no limit. Errors are
// *mailerr.Error: TooBig (permanent), SpoolFull (free space below minFree,
// ENOSPC, EDQUOT) and SpoolFailed (anything else, a failure to read r
// among them, wrapping r's error). An error from r that is a
// *mailerr.Error already is returned as is.
func (s *Spool) Deliver(r io.Reader, maxBytes int64) (string, error) {
	return s.deliver(r, maxBytes, Origin{})
}

// ReplayedSuffix ends the spool name of a mail that mailgw replay
// delivered (DeliverReplayed). It is a Maildir-style ",field" of the
// unique name (sanitizeHost keeps ',' out of the host part), so the mail
// bytes, and with them the msg_id of a mail without Message-ID, stay as
// they were in the archive.
const ReplayedSuffix = ",R"

// DeliverReplayed is Deliver for mailgw replay: the name ends in
// ReplayedSuffix, and the pipeline marks the mail's events
// msg.mailgw.replayed = true (OriginOf).
func (s *Spool) DeliverReplayed(r io.Reader, maxBytes int64) (string, error) {
	return s.deliver(r, maxBytes, Origin{Replayed: true})
}

func (s *Spool) deliver(r io.Reader, maxBytes int64, o Origin) (string, error) {
	s.writing.Add(1)
	defer s.writing.Add(-1)
	name, tmp, written, err := s.writeTmp(r, maxBytes)
	if err != nil {
		return "", err
	}
	name += o.suffix(len(name))
	dst := filepath.Join(s.dir, "new", name)
	// Whoever can write tmp/ could swap the file between the write and
	// the rename: then what lands in new/ is not this mail (the pipeline
	// refuses or processes it on its own), and the sender must keep this
	// one. Checked before the rename and after it; after it, a file
	// already gone was picked up by the pipeline, which is fine.
	replaced := func(path string, gone bool) bool {
		fi, err := os.Lstat(path)
		if gone && errors.Is(err, os.ErrNotExist) {
			return false
		}
		return err != nil || !os.SameFile(fi, written)
	}
	if replaced(tmp, false) {
		return "", mailerr.SpoolFailed(fmt.Errorf("spool %s: %s was replaced before it reached new/", s.dir, tmp))
	}
	if err := rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", classify(err)
	}
	if replaced(dst, true) {
		return "", mailerr.SpoolFailed(fmt.Errorf("spool %s: %s was replaced before it reached new/", s.dir, tmp))
	}
	sync := s.newSync
	if s.writing.Load() > 1 {
		sync = s.fsSync
	}
	if err := sync.sync(); err != nil {
		// The mail is in new/ but not known durable: the sender retries
		// and the journal drops the duplicate.
		return "", classify(err)
	}
	return name, nil
}

// writeTmp writes r to tmp/<name> and makes it durable (fsync, or a
// shared syncfs); it returns the name, the tmp path and what fstat said
// of the file written.
func (s *Spool) writeTmp(r io.Reader, maxBytes int64) (string, string, os.FileInfo, error) {
	if s.minFree > 0 {
		free, err := s.Free()
		if err != nil {
			return "", "", nil, classify(err)
		}
		if free < s.minFree {
			return "", "", nil, mailerr.SpoolFull(fmt.Errorf("spool %s: %d bytes free, spool_min_free_bytes is %d", s.dir, free, s.minFree))
		}
	}
	name := newName(time.Now())
	// A recycled file (recycle.go) is written where it is, in tmp/, and
	// renamed into new/ under the fresh name like a new one.
	f, tmp, old := s.take()
	if f == nil {
		tmp = filepath.Join(s.dir, "tmp", name)
		var err error
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|entryFlags, 0o640)
		if err != nil {
			return "", "", nil, classify(err)
		}
	}
	fail := func(err error) (string, string, os.FileInfo, error) {
		f.Close()
		os.Remove(tmp)
		return "", "", nil, err
	}
	src := r
	if maxBytes > 0 {
		src = io.LimitReader(r, maxBytes+1)
	}
	n, err := io.Copy(f, readerOnly{src})
	if err != nil {
		var re readErr
		if errors.As(err, &re) {
			if errors.As(re.err, new(*mailerr.Error)) {
				return fail(re.err)
			}
			return fail(mailerr.SpoolFailed(fmt.Errorf("reading mail: %w", re.err)))
		}
		return fail(classify(err))
	}
	if maxBytes > 0 && n > maxBytes {
		return fail(mailerr.TooBig(maxBytes))
	}
	if n < old {
		// What is left of the recycled file's last mail (take).
		if err := f.Truncate(n); err != nil {
			return fail(classify(err))
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(classify(err))
	}
	if s.writing.Load() > 1 {
		// Others are delivering too: share a syncfs that starts after
		// this write.
		if err := f.Close(); err != nil {
			os.Remove(tmp)
			return "", "", nil, classify(err)
		}
		if err := s.fsSync.sync(); err != nil {
			os.Remove(tmp)
			return "", "", nil, classify(err)
		}
		return name, tmp, fi, nil
	}
	if err := f.Sync(); err != nil {
		return fail(classify(err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", "", nil, classify(err)
	}
	return name, tmp, fi, nil
}

// readerOnly hides WriterTo so that io.Copy reports read errors through
// readErr, telling them apart from write errors.
type readerOnly struct{ r io.Reader }

type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }
func (e readErr) Unwrap() error { return e.err }

func (r readerOnly) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		return n, readErr{err}
	}
	return n, err
}
