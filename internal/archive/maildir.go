package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maildirReader reads the mails of a Maildir folder: the files of cur/ and
// then new/, each sorted by name (Maildir names start with the delivery
// time, so this is roughly delivery order and always the same order).
// Files in tmp/ are deliveries in progress and are not read.
type maildirReader struct {
	path  string
	files []string
	max   int64
	index int
	off   int64
	total int64
}

func openMaildir(path string, o Options) (Reader, error) {
	r := &maildirReader{path: path, max: o.MaxMail}
	found := false
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(path, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", path, err)
		}
		found = true
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
				if fi, err := e.Info(); err == nil {
					r.total += fi.Size()
				}
			}
		}
		sort.Strings(names)
		for _, n := range names {
			r.files = append(r.files, filepath.Join(path, sub, n))
		}
	}
	if !found {
		return nil, fmt.Errorf("archive %s: a directory but not a Maildir (no cur/ or new/)", path)
	}
	return r, nil
}

// Next reads the next file.
func (r *maildirReader) Next() (Mail, error) {
	if r.index >= len(r.files) {
		return Mail{}, io.EOF
	}
	name, index, off := r.files[r.index], r.index, r.off
	r.index++
	f, err := os.Open(name)
	if err != nil {
		// Moved or deleted since the listing (a live Maildir): skip it.
		return Mail{}, &Error{Path: name, Offset: off, Index: index, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, r.max+1))
	r.off += int64(len(data))
	if err != nil {
		return Mail{}, &Error{Path: name, Offset: off, Index: index, Err: err}
	}
	if int64(len(data)) > r.max {
		return Mail{}, &Error{Path: name, Offset: off, Index: index, Err: ErrTooBig}
	}
	return Mail{Data: data, Offset: off, Index: index, Kind: KindMail}, nil
}

// Format is "maildir".
func (r *maildirReader) Format() string { return "maildir" }

// Offset is the bytes read so far.
func (r *maildirReader) Offset() int64 { return r.off }

// Progress returns the bytes read and the folder's total.
func (r *maildirReader) Progress() (read, size int64) { return r.off, r.total }

// Len is the number of mails in the folder.
func (r *maildirReader) Len() int { return len(r.files) }

// Close does nothing: each file is closed after reading.
func (r *maildirReader) Close() error { return nil }
