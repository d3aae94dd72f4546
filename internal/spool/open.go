package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
)

// Every spool file is opened here (openEntry), for reading (new/, cur/,
// quarantine) and for rewriting a recycled file in tmp/. Whoever can
// write a spool directory (an MTA delivering into the Maildir, a local
// user given the group) can put anything there, and serve runs as a user
// that can read and write files that user cannot. So, as postfix's
// queue manager does with its queue files: the entry is looked at with
// lstat before it is opened (a FIFO, a device or a directory is never
// opened at all), opened with O_NOFOLLOW (a symlink swapped in between
// fails with ELOOP) and O_NONBLOCK (a FIFO swapped in between cannot
// block the open), and the opened file is checked with fstat: a regular
// file, the very one lstat saw. Files rewritten in place must also have
// one link and belong to serve's user, so that no hard link makes serve
// overwrite another file.

// ErrBadEntry is matched (errors.Is) by the *BadEntryError of an entry
// that is not a mail file serve may use.
var ErrBadEntry = errors.New("spool: not a mail file")

// BadEntryError says why a spool entry was refused: Kind is "symlink",
// "fifo", "directory", "socket", "device", "changed" (replaced while it
// was being opened), "linked" (more than one hard link), "owner" (not
// serve's user) or "too big" (over the size bound; Size says how big).
type BadEntryError struct {
	Path string
	Kind string
	Size int64
}

func (e *BadEntryError) Error() string {
	if e.Kind == KindTooBig {
		return fmt.Sprintf("spool entry %s is %d bytes, over max_message_bytes", e.Path, e.Size)
	}
	return fmt.Sprintf("spool entry %s is not a regular mail file (%s)", e.Path, e.Kind)
}

// Is makes errors.Is(err, ErrBadEntry) true.
func (e *BadEntryError) Is(target error) bool { return target == ErrBadEntry }

// KindTooBig is the Kind of a BadEntryError for a file over the bound.
const KindTooBig = "too big"

// kindOf names the type of a non-regular entry.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "irregular"
}

// entryFlags are added to every open of a spool entry.
const entryFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// openEntry opens the spool entry at path with flag (O_RDONLY or
// O_WRONLY; never O_CREATE or O_TRUNC) after the checks described above;
// owned also requires one link and serve's user as the owner (files
// rewritten in place). Refusals are *BadEntryError.
func openEntry(path string, flag int, owned bool) (*os.File, os.FileInfo, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, nil, &BadEntryError{Path: path, Kind: kindOf(before.Mode())}
	}
	f, err := os.OpenFile(path, flag|entryFlags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENXIO) {
			return nil, nil, &BadEntryError{Path: path, Kind: "changed"}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	bad := ""
	switch st, _ := fi.Sys().(*syscall.Stat_t); {
	case !fi.Mode().IsRegular():
		bad = kindOf(fi.Mode())
	case !os.SameFile(before, fi):
		bad = "changed"
	case owned && st != nil && st.Nlink != 1:
		bad = "linked"
	case owned && st != nil && int(st.Uid) != os.Geteuid():
		bad = "owner"
	}
	if bad != "" {
		f.Close()
		return nil, nil, &BadEntryError{Path: path, Kind: bad}
	}
	return f, fi, nil
}

// readEntry reads the regular file at path, refusing (without reading
// it) one over maxBytes (no bound when maxBytes <= 0).
func readEntry(path string, maxBytes int64) ([]byte, error) {
	f, fi, err := openEntry(path, os.O_RDONLY, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	if maxBytes > 0 && size > maxBytes {
		return nil, &BadEntryError{Path: path, Kind: KindTooBig, Size: size}
	}
	limit := int64(math.MaxInt64)
	if maxBytes > 0 {
		limit = maxBytes + 1 // a file that grows is read up to the bound only
	}
	var b bytes.Buffer
	b.Grow(int(size) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(f, limit)); err != nil {
		return nil, err
	}
	buf := b.Bytes()
	if maxBytes > 0 && int64(len(buf)) > maxBytes {
		return nil, &BadEntryError{Path: path, Kind: KindTooBig, Size: int64(len(buf))}
	}
	return buf, nil
}

// readHead reads at most n bytes of the regular file at path.
func readHead(path string, n int64) ([]byte, error) {
	f, _, err := openEntry(path, os.O_RDONLY, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
