package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/dirsync"
)

// ErrNotQuarantined is matched by Delete's error for a mail that is not
// in quarantine (still waiting in the spool, or unknown).
var ErrNotQuarantined = errors.New("not in quarantine")

// Delete removes a quarantined mail and its reason file for good. Only
// quarantined mail can be deleted: mail waiting in the spool is the
// pipeline's, and is either journaled or quarantined by it.
func (s *Spool) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if strings.HasSuffix(name, ReasonSuffix) {
		return fmt.Errorf("spool: %s: give the mail's ID, not its reason file", name)
	}
	err := os.Remove(filepath.Join(s.QuarantineDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		where := "unknown"
		if _, serr := os.Stat(filepath.Join(s.dir, "new", name)); serr == nil {
			where = "waiting in the spool"
		}
		return fmt.Errorf("spool: %s: %w (%s)", name, ErrNotQuarantined, where)
	}
	if err != nil {
		return err
	}
	// The mail first: a crash in between leaves a reason file without
	// its mail, which List ignores and Purge removes.
	if err := os.Remove(filepath.Join(s.QuarantineDir, name+ReasonSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return dirsync.Sync(s.QuarantineDir)
}

// Purge deletes every mail quarantined before before (by its reason
// file's time, as List reports it), and reason files left without their
// mail, and returns how many mails and bytes it deleted.
func (s *Spool) Purge(before time.Time) (n int, size int64, err error) {
	list, err := s.List()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range list {
		if !e.Time.Before(before) {
			continue
		}
		if err := s.Delete(e.Name); err != nil {
			return n, size, err
		}
		n++
		size += e.Size
	}
	ents, err := os.ReadDir(s.QuarantineDir)
	if err != nil {
		return n, size, err
	}
	for _, e := range ents {
		mail, ok := strings.CutSuffix(e.Name(), ReasonSuffix)
		if !ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(s.QuarantineDir, mail)); errors.Is(err, fs.ErrNotExist) {
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
				os.Remove(filepath.Join(s.QuarantineDir, e.Name()))
			}
		}
	}
	return n, size, dirsync.Sync(s.QuarantineDir)
}

// QuarantineUsage returns the number of quarantined mails and the bytes
// of the quarantine directory's files (mails and reasons), from one
// directory read: cheap enough for every metrics scrape.
func (s *Spool) QuarantineUsage() (mails int, size int64, err error) {
	ents, err := os.ReadDir(s.QuarantineDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			size += fi.Size()
		}
		if !strings.HasSuffix(e.Name(), ReasonSuffix) && !strings.HasSuffix(e.Name(), ".tmp") && checkName(e.Name()) == nil {
			mails++
		}
	}
	return mails, size, nil
}
