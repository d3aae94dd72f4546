package spool

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Pending returns the names of the mails in new/, oldest name first.
func (s *Spool) Pending() ([]string, error) {
	return listDir(filepath.Join(s.dir, "new"))
}

// listDir returns the sorted names of the entries in dir, skipping dot
// files. Entries that are not regular files are listed too: Read refuses
// them (a *BadEntryError) and the pipeline moves them to quarantine,
// instead of leaving them unseen for ever.
func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if checkName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Read returns the mail called name from new/. An entry that is not a
// regular file, or one over MaxMessageBytes, is refused with a
// *BadEntryError (errors.Is ErrBadEntry) without being read: the caller
// quarantines it.
func (s *Spool) Read(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return readEntry(filepath.Join(s.dir, "new", name), s.MaxMessageBytes)
}

// Done removes a mail from new/ once its events are journaled. A mail that
// is already gone is not an error (two pickups of the same name). The file
// is kept in tmp/ for a later Deliver to reuse (recycle.go) unless
// recycling is off or the pool is full.
func (s *Spool) Done(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	path := filepath.Join(s.dir, "new", name)
	recycled, err := s.put(path)
	if !recycled {
		err = os.Remove(path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// CleanTmp removes files in tmp/ older than minAge: leftovers of a deliver
// or serve that died mid-write. Such a mail was never acknowledged, so the
// sender still has it. minAge must exceed the longest write in progress
// (another process may be delivering right now); serve uses an hour.
func (s *Spool) CleanTmp(minAge time.Duration) (int, error) {
	dir := filepath.Join(s.dir, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	cut := time.Now().Add(-minAge)
	n := 0
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || fi.IsDir() || !fi.ModTime().Before(cut) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// rescanEvery is how often Watch lists new/ again on its own: a mail
// whose processing failed is retried at the latest then.
const rescanEvery = time.Minute

// Rescan makes Watch emit every mail in new/ again soon (the pipeline
// asks for it after a failure, with a backoff). It never blocks.
func (s *Spool) Rescan() {
	select {
	case s.rescan <- struct{}{}:
	default:
	}
}

// Watch emits the name of every mail in new/: first those already there,
// then each one as it lands (created or moved in, through inotify). A name
// may be emitted twice (a mail landing while the initial listing runs, or
// the full listing after an inotify queue overflow, or a rescan: Rescan,
// and every rescanEvery): the consumer skips
// names it is already processing, Read fails with fs.ErrNotExist for one
// already Done, and the journal drops duplicate events. The channel closes
// when ctx ends.
func (s *Spool) Watch(ctx context.Context) (<-chan string, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	newDir := filepath.Join(s.dir, "new")
	if err := w.Add(newDir); err != nil {
		w.Close()
		return nil, err
	}
	// Listing after the watch starts: nothing lands unseen.
	initial, err := s.Pending()
	if err != nil {
		w.Close()
		return nil, err
	}
	out := make(chan string, 256)
	go func() {
		defer close(out)
		defer w.Close()
		send := func(name string) bool {
			select {
			case out <- name:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// resend emits every mail in new/ again: after an inotify
		// overflow, and on rescans, which pick up mail whose processing
		// failed (a quarantine on a full disk) once the cause is gone.
		resend := func() bool {
			names, _ := s.Pending()
			for _, n := range names {
				if !send(n) {
					return false
				}
			}
			return true
		}
		tick := time.NewTicker(rescanEvery)
		defer tick.Stop()
		for _, n := range initial {
			if !send(n) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if !ev.Has(fsnotify.Create) {
					continue
				}
				name := filepath.Base(ev.Name)
				if checkName(name) != nil {
					continue
				}
				if !send(name) {
					return
				}
			case <-s.rescan:
				if !resend() {
					return
				}
			case <-tick.C:
				if !resend() {
					return
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				slog.Warn("spool watch", "dir", newDir, "err", err)
				if errors.Is(err, fsnotify.ErrEventOverflow) && !resend() {
					return
				}
			}
		}
	}()
	return out, nil
}
