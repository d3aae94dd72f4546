package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/debian/mailgw/internal/dirsync"
)

// Quarantined names one mail of new/ to quarantine, with the reason.
type Quarantined struct {
	Name   string
	Reason string
}

// QuarantineMany is Quarantine for a batch, with the same result and the
// same order of durable steps, but two syncs for the whole batch instead
// of two per mail: every reason file is written, then one syncfs(2) of the
// quarantine directory's file system makes them all durable, then each
// reason file and mail is renamed into place, then one fsync of the
// quarantine directory makes the renames durable. Serve's pipeline uses it
// for the mails of a commit batch that yield no event: with two fsyncs per
// mail it quarantined about 220 mails/s under the SMTP ingest benchmark.
//
// It returns one error per item: nil when the mail is durably in
// quarantine with its reason. After an error the mail is still in new/
// (processed again later, its reason file rewritten), or, when only the
// final directory sync failed, in quarantine but maybe not durably so.
func (s *Spool) QuarantineMany(items []Quarantined) []error {
	errs := make([]error, len(items))
	setAll := func(idx []int, err error) {
		for _, i := range idx {
			errs[i] = err
		}
	}
	all := make([]int, len(items))
	for i := range items {
		all[i] = i
	}
	if err := os.MkdirAll(s.QuarantineDir, 0o750); err != nil {
		setAll(all, err)
		return errs
	}
	// 1. Reason files, not yet durable, under a temporary name.
	now := time.Now().UTC()
	var ok []int
	for i, it := range items {
		if err := checkName(it.Name); err != nil {
			errs[i] = err
			continue
		}
		raw, err := readHead(filepath.Join(s.dir, "new", it.Name), 64<<10)
		if err != nil && !errors.Is(err, ErrBadEntry) { // odd entries move unread
			errs[i] = err
			continue
		}
		tmp := reasonTmp(s.QuarantineDir, it.Name)
		if err := os.WriteFile(tmp, []byte(reasonText(it.Reason, now, raw)), 0o640); err != nil {
			os.Remove(tmp)
			errs[i] = err
			continue
		}
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return errs
	}
	// 2. One sync for all of them. The quarantine directory may be on
	// another file system than the spool: sync the one it is on.
	if err := syncFS(s.QuarantineDir); err != nil {
		for _, i := range ok {
			os.Remove(reasonTmp(s.QuarantineDir, items[i].Name))
		}
		setAll(ok, fmt.Errorf("quarantine: sync: %w", err))
		return errs
	}
	// 3. Reason file first, then the mail, as Quarantine does.
	var moved []int
	for _, i := range ok {
		name := items[i].Name
		tmp := reasonTmp(s.QuarantineDir, name)
		if err := rename(tmp, filepath.Join(s.QuarantineDir, name+ReasonSuffix)); err != nil {
			os.Remove(tmp)
			errs[i] = err
			continue
		}
		if err := moveFile(filepath.Join(s.dir, "new", name), filepath.Join(s.QuarantineDir, name)); err != nil {
			errs[i] = err
			continue
		}
		moved = append(moved, i)
	}
	// 4. One fsync of the directory for every rename into it.
	if len(moved) > 0 {
		if err := dirsync.Sync(s.QuarantineDir); err != nil {
			setAll(moved, err)
		}
	}
	return errs
}

// reasonTmp is where QuarantineMany writes a reason file before it is
// durable: a hidden name, so that neither List nor an operator's ls takes
// the many of them that exist at once during a batch for mails.
func reasonTmp(dir, name string) string {
	return filepath.Join(dir, "."+name+ReasonSuffix+".tmp")
}
