// Package archive reads mail archives as a stream of mails: mbox (mboxo and
// mboxrd), Maildir folders and debbugs .log files, each plain or gzip,
// bzip2 or xz compressed. Compression and format are detected from the
// content (magic bytes and first line), never from the file name.
//
// Formats: an mbox mail starts at a "From " line at the start of the file
// or after an empty line; mboxo and mboxrd quoting are told apart as
// described at FlavourAuto. A debbugs .log yields the mail of its ^G
// (received), ^B (sent) and ^A (autocheck) records with Mail.Kind saying
// which; ^F html records are skipped. A directory with cur/ or new/ is a
// Maildir; a file that starts with a header field is one mail.
//
// Readers stream: at most one mail (bounded by Options.MaxMail) and a fixed
// read buffer are in memory at a time, so a multi-GiB archive replays in
// constant memory.
//
// Errors: a damaged record (a mail over the size bound, a debbugs record
// cut short by the next record, junk between records) is skipped and Next
// returns an *Error with Fatal false; the caller logs it and calls Next
// again. A damaged stream (a truncated or corrupt gzip/bzip2/xz stream, a
// .log that ends inside a record) ends the archive: Next returns an *Error
// with Fatal true, after every mail read before the damage was returned;
// only what the decompressor could not decode is lost (xz decodes LZMA2
// chunks of up to 2 MiB at once, bzip2 whole blocks of up to 900 kB).
// Every *Error names the file and the byte offset in the uncompressed
// stream.
package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Mail is one mail read from an archive.
type Mail struct {
	// Data is the mail as it was received: the mbox "From " line removed,
	// ">From " unescaped, the debbugs ^X escape removed. The caller owns it.
	Data []byte
	// Offset is the byte offset of the mail's first byte (its mbox "From "
	// line or debbugs record marker) in the uncompressed stream. For a
	// Maildir it is the sum of the sizes of the files before it.
	Offset int64
	// Index counts the mails of the archive from 0, skipped records
	// included, so it identifies a mail for checkpoints.
	Index int
	// Kind is the kind of record: "mail" for mbox, Maildir and single-mail
	// files; for debbugs .log files "incoming-recv" (^G, mail debbugs
	// received), "recips" (^B, mail debbugs sent) or "autocheck" (^A).
	Kind string
}

// Record kinds of Mail.Kind.
const (
	KindMail         = "mail"
	KindIncomingRecv = "incoming-recv"
	KindRecips       = "recips"
	KindAutocheck    = "autocheck"
)

// Reader yields the mails of one archive in order.
type Reader interface {
	// Next returns the next mail, io.EOF at the end, or an *Error. After a
	// non-fatal *Error the caller may call Next again; after a fatal one
	// (or any other error) Next keeps returning io.EOF.
	Next() (Mail, error)
	// Format names the detected format and compression, e.g. "mboxrd+xz",
	// "debbugs-log", "maildir". For mbox it is "mboxo" until the first
	// mboxrd-only escape is seen.
	Format() string
	// Offset is the number of uncompressed bytes consumed so far (for
	// progress); for a Maildir the bytes of the files read.
	Offset() int64
	// Progress returns how many bytes of the input (compressed, as
	// stored) were read and its size (-1 when unknown), for progress
	// display.
	Progress() (read, size int64)
	// Close releases the file.
	Close() error
}

// Error is a damaged record or stream, with the file and the byte offset
// (in the uncompressed stream) where the damage starts.
type Error struct {
	Path   string
	Offset int64
	// Index is the index of the damaged mail; with Between, the damage
	// lies between mails and Index is the mail before it (-1 at the
	// start). Either way every mail up to Index is done with.
	Index   int
	Between bool
	Fatal   bool
	Err     error
}

// Error says which file, mail and byte offset, and what went wrong.
func (e *Error) Error() string {
	if e.Between {
		return fmt.Sprintf("archive %s: after mail %d, at byte offset %d: %v", e.Path, e.Index, e.Offset, e.Err)
	}
	return fmt.Sprintf("archive %s: mail %d at byte offset %d: %v", e.Path, e.Index, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrTooBig is the cause of an *Error for a mail larger than MaxMail.
var ErrTooBig = errors.New("mail larger than the per-mail bound")

// DefaultMaxMail bounds one mail (64 MiB).
const DefaultMaxMail = 64 << 20

// Flavour selects how mbox "From " lines are unescaped.
type Flavour int

// Mbox flavours. FlavourAuto (the default) reads a file as mboxo until a
// line ">>From " (more than one '>') appears, and as mboxrd from that mail
// on. This gives the same result as deciding on the whole file first: the
// two flavours unescape differently only lines with two or more '>', so a
// mail before the first such line reads the same either way.
const (
	FlavourAuto Flavour = iota
	FlavourMboxo
	FlavourMboxrd
)

// Options tune a reader; the zero value means the defaults.
type Options struct {
	// MaxMail bounds one mail in bytes (DefaultMaxMail when 0).
	MaxMail int64
	// Flavour forces an mbox flavour (FlavourAuto when 0).
	Flavour Flavour
}

// Open opens the archive at path: a Maildir directory, or a file whose
// compression and format are detected from its content.
func Open(path string, o Options) (Reader, error) {
	if o.MaxMail <= 0 {
		o.MaxMail = DefaultMaxMail
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return openMaildir(path, o)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := openStream(path, &countingReader{r: f, size: fi.Size()}, f, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// countingReader counts the bytes read from the input.
type countingReader struct {
	r    io.Reader
	n    int64
	size int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// emptyReader is an archive with no mails: an empty file, or a stream
// damaged before its first bytes (err, returned once).
type emptyReader struct {
	c      io.Closer
	format string
	err    error
}

func (e *emptyReader) Next() (Mail, error) {
	err := e.err
	if err == nil {
		return Mail{}, io.EOF
	}
	e.err = nil
	return Mail{}, err
}

func (e *emptyReader) Format() string               { return e.format }
func (e *emptyReader) Progress() (read, size int64) { return 0, 0 }
func (e *emptyReader) Offset() int64                { return 0 }
func (e *emptyReader) Close() error                 { return e.c.Close() }
