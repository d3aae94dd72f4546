package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// File recycling. A long-running process that both delivers and drains
// (serve) reuses the inodes of processed mail instead of unlinking them
// and creating new ones: Done renames new/<name> to tmp/.free.<n>, and
// the next Deliver truncates and rewrites such a file in tmp/ before
// renaming it into new/ as usual.
//
// Why: on ext4 without a journal (the bench machine's root file system)
// every inode allocation walks, one by one, past the inodes of its block
// group that were freed in the last minutes (ext4 recently_deleted), under
// the lock of the directory being written to. At 2,000 mails/s of create
// and unlink that walk took ~40% of serve's CPU and serialised the SMTP
// sessions. Recycling needs no allocation and no free, whatever the file
// system.
//
// Durability is unchanged: a recycled file is still written in tmp/, its
// new content fsynced (written over from offset 0, cut to its length,
// fsync: data and size), renamed into new/ and new/ fsynced. A crash leaves at worst a .free file in tmp/,
// which is never in new/ and so never taken for mail; CleanTmp removes it
// after an hour like any other leftover.
//
// One rule comes with it: Done must not run while another reader of the
// same process still has the file open (its bytes would change under it,
// where an unlinked file keeps them). Run's in-flight set guarantees that:
// a name is read by one worker at a time and Done runs before it leaves
// the set.

// freePrefix starts the name of a recycled file in tmp/. Names starting
// with a dot are never mail (checkName, listDir).
const freePrefix = ".free."

// maxFree bounds the recycled files one Spool keeps; beyond it Done
// unlinks as before (deliver-only traffic would grow the pool forever).
const maxFree = 512

// freeList is the pool of recycled files of one Spool (one process).
type freeList struct {
	mu    sync.Mutex
	names []string // base names in tmp/
	off   atomic.Bool
}

var freeCounter atomic.Uint64

// put recycles the processed mail at path (in new/) into tmp/; it reports
// whether it did (false: the caller unlinks instead).
func (s *Spool) put(path string) (bool, error) {
	fl := &s.free
	if fl.off.Load() {
		return false, nil
	}
	fl.mu.Lock()
	full := len(fl.names) >= maxFree
	fl.mu.Unlock()
	if full {
		return false, nil
	}
	name := fmt.Sprintf("%s%d.%d", freePrefix, os.Getpid(), freeCounter.Add(1))
	err := rename(path, filepath.Join(s.dir, "tmp", name))
	if errors.Is(err, os.ErrNotExist) {
		return true, err // already gone: Done treats this as done
	}
	if err != nil {
		return false, nil // e.g. tmp/ unwritable: unlink instead
	}
	fl.mu.Lock()
	fl.names = append(fl.names, name)
	fl.mu.Unlock()
	return true, nil
}

// take opens a recycled file for writing and returns it with its path and
// its size; nil when the pool is empty or the file is unusable (the caller
// creates a new one). The file is not truncated: the mail is written over
// the old one from offset 0, in the blocks it already has, and writeTmp
// cuts what is left of the old one (ext4 frees and allocates no block for
// the part overwritten; measured with bench/smtpmix, corpus mix, 50
// sessions: truncating to 0 here took ~5 % of serve's CPU time in
// ext4_setattr/ext4_truncate).
func (s *Spool) take() (*os.File, string, int64) {
	fl := &s.free
	for {
		fl.mu.Lock()
		n := len(fl.names)
		if n == 0 {
			fl.mu.Unlock()
			return nil, "", 0
		}
		name := fl.names[n-1]
		fl.names = fl.names[:n-1]
		fl.mu.Unlock()
		path := filepath.Join(s.dir, "tmp", name)
		// Never O_TRUNC at open: the file is checked first (open.go), so
		// that a symlink or hard link swapped in by whoever can write
		// tmp/ never makes serve overwrite another file.
		f, fi, err := openEntry(path, os.O_WRONLY, true)
		if err == nil {
			return f, path, fi.Size()
		}
		if errors.Is(err, ErrBadEntry) {
			s.badEntries.Add(1)
		}
		// Removed meanwhile (CleanTmp, an operator): try the next one.
	}
}

// BadEntries counts the recycled files in tmp/ that were found replaced
// by a symlink, FIFO, hard link or another user's file, and so left
// alone (for the metric of refused spool entries).
func (s *Spool) BadEntries() uint64 { return s.badEntries.Load() }

// SetRecycling turns file recycling on (the default) or off. Off, Done
// unlinks and Deliver always creates a new file, as a Maildir writer
// that shares its tmp/ with other programs might prefer.
func (s *Spool) SetRecycling(on bool) {
	s.free.off.Store(!on)
}

// FreeFiles returns how many recycled files the pool holds (for tests and
// metrics).
func (s *Spool) FreeFiles() int {
	s.free.mu.Lock()
	defer s.free.mu.Unlock()
	return len(s.free.names)
}
