package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/ulikunitz/xz"
)

// bufSize is the read buffer of the compressed and the uncompressed stream.
const bufSize = 256 << 10

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// openStream detects the compression and then the format of src; c closes
// it.
func openStream(path string, src *countingReader, c io.Closer, o Options) (Reader, error) {
	raw := bufio.NewReaderSize(src, bufSize)
	head, _ := raw.Peek(6)
	var (
		dec  io.Reader = raw
		comp string
		err  error
	)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		comp = "gzip"
		dec, err = gzip.NewReader(raw)
	case bytes.HasPrefix(head, magicBzip2):
		comp = "bzip2"
		dec = bzip2.NewReader(raw)
	case bytes.HasPrefix(head, magicXz):
		comp = "xz"
		dec, err = xz.NewReader(raw)
	}
	if err != nil {
		return nil, fmt.Errorf("archive %s: %s header: %w", path, comp, err)
	}
	lr := &lineReader{br: bufio.NewReaderSize(dec, bufSize), comp: comp}
	suffix := ""
	if comp != "" {
		suffix = "+" + comp
	}
	first, err := lr.br.Peek(5)
	if len(first) == 0 {
		e := &emptyReader{c: c, format: "empty" + suffix}
		if err != nil && err != io.EOF {
			e.err = &Error{Path: path, Index: -1, Between: true, Fatal: true, Err: lr.wrap(err)}
		}
		return e, nil
	}
	base := reader{path: path, c: c, in: src, lr: lr, max: o.MaxMail, suffix: suffix}
	switch {
	case bytes.HasPrefix(first, []byte("From ")):
		return &mboxReader{reader: base, flavour: o.Flavour}, nil
	case isControlLine(first):
		return &logReader{reader: base}, nil
	case looksLikeHeader(lr.br):
		return &mboxReader{reader: base, flavour: FlavourMboxo, single: true}, nil
	}
	return nil, fmt.Errorf("archive %s: unknown format (not mbox, debbugs .log, Maildir or a mail; first bytes %q)", path, first)
}

// isControlLine reports whether b starts with a debbugs record marker: one
// of ^A ^B ^C ^E ^F ^G alone on its line.
func isControlLine(b []byte) bool {
	if len(b) < 2 || b[1] != '\n' {
		return false
	}
	switch b[0] {
	case 1, 2, 3, 5, 6, 7:
		return true
	}
	return false
}

// looksLikeHeader reports whether the stream starts with an RFC 5322
// header field name and a colon.
func looksLikeHeader(br *bufio.Reader) bool {
	b, _ := br.Peek(1000)
	for i, c := range b {
		switch {
		case c == ':':
			return i > 0
		case c <= ' ' || c > '~':
			return false
		}
	}
	return false
}

// reader is what the stream readers share.
type reader struct {
	path   string
	c      io.Closer
	in     *countingReader
	lr     *lineReader
	max    int64
	suffix string
	index  int
	done   bool
}

// Offset returns the uncompressed bytes consumed.
func (r *reader) Offset() int64 { return r.lr.off }

// Progress returns the input bytes read and the input size.
func (r *reader) Progress() (read, size int64) { return r.in.n, r.in.size }

// Close closes the file.
func (r *reader) Close() error { return r.c.Close() }

func (r *reader) errAt(off int64, index int, fatal bool, err error) *Error {
	if fatal {
		r.done = true
	}
	return &Error{Path: r.path, Offset: off, Index: index, Fatal: fatal, Err: err}
}

// errBetween is damage between mails, after the last mail returned.
func (r *reader) errBetween(off int64, fatal bool, err error) *Error {
	e := r.errAt(off, r.index-1, fatal, err)
	e.Between = true
	return e
}

// lineReader reads lines and counts the uncompressed offset.
type lineReader struct {
	br   *bufio.Reader
	off  int64 // offset of the next unread byte
	comp string
	long []byte
}

// errLineTooLong is returned (after the line was consumed) for a line over
// the bound.
var errLineTooLong = errors.New("line too long")

// next returns the next line including its '\n' (the last line of the
// stream may lack it). The slice is only valid until the next call. At the
// end of the stream it returns io.EOF with no line; a read error from the
// decompressor is returned wrapped.
func (l *lineReader) next(limit int64) ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	l.off += int64(len(line))
	if err == nil {
		return line, nil
	}
	if err == bufio.ErrBufferFull {
		l.long = append(l.long[:0], line...)
		tooLong := false
		for err == bufio.ErrBufferFull {
			line, err = l.br.ReadSlice('\n')
			l.off += int64(len(line))
			if int64(len(l.long)+len(line)) > limit {
				tooLong = true
				l.long = l.long[:0]
			}
			if !tooLong {
				l.long = append(l.long, line...)
			}
		}
		line = l.long
		if tooLong {
			if err == nil || err == io.EOF {
				return nil, errLineTooLong
			}
			return nil, l.wrap(err)
		}
	}
	if err == io.EOF {
		if len(line) > 0 {
			return line, nil
		}
		return nil, io.EOF
	}
	return line, l.wrap(err)
}

// wrap names the compression in a stream error.
func (l *lineReader) wrap(err error) error {
	if l.comp == "" {
		return err
	}
	if err == io.ErrUnexpectedEOF {
		return fmt.Errorf("truncated %s stream: %w", l.comp, err)
	}
	return fmt.Errorf("corrupt %s stream: %w", l.comp, err)
}
