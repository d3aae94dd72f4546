package archive

import (
	"bytes"
	"io"
)

// mboxReader reads an mbox: mails separated by "From " lines. A "From "
// line starts a new mail only at the start of the file or after an empty
// line, the way every mbox writer lays mails out; the empty line before it
// is the separator's and is not part of the mail.
//
// In single mode the whole stream is one mail (a plain .eml file) and
// nothing is unescaped.
type mboxReader struct {
	reader
	flavour Flavour
	single  bool
	started bool
	// next mail's "From " line was read already, at nextOff.
	nextOff int64
	scratch []byte // reused mail buffer; each Mail gets an exact copy
}

var fromLine = []byte("From ")

// Format names the flavour seen so far and the compression.
func (r *mboxReader) Format() string {
	switch {
	case r.single:
		return "mail" + r.suffix
	case r.flavour == FlavourMboxrd:
		return "mboxrd" + r.suffix
	}
	return "mboxo" + r.suffix
}

// Next returns the next mail.
func (r *mboxReader) Next() (Mail, error) {
	if r.done {
		return Mail{}, io.EOF
	}
	if !r.started {
		r.started = true
		if !r.single {
			// The first line is the first mail's "From " line.
			if _, err := r.lr.next(r.max); err != nil && err != errLineTooLong {
				return Mail{}, r.errBetween(0, true, err)
			}
		}
	}
	start, index := r.nextOff, r.index
	r.index++
	buf := r.scratch[:0]
	prevBlank, tooBig := false, false
	for {
		lineOff := r.lr.off
		line, err := r.lr.next(r.max)
		if err == errLineTooLong {
			tooBig, prevBlank = true, false
			continue
		}
		if err == io.EOF {
			r.done = true
			break
		}
		if err != nil {
			return Mail{}, r.errAt(start, index, true, err)
		}
		if !r.single && prevBlank && bytes.HasPrefix(line, fromLine) {
			r.nextOff = lineOff
			break
		}
		prevBlank = len(line) == 1 || (len(line) == 2 && line[0] == '\r')
		if !r.single && line[0] == '>' {
			line = r.unescape(line)
		}
		if int64(len(buf)+len(line)) > r.max {
			tooBig = true
		}
		if !tooBig {
			buf = append(buf, line...)
		}
	}
	if tooBig {
		r.scratch = nil
		return Mail{}, r.errAt(start, index, false, ErrTooBig)
	}
	if !r.single {
		buf = trimSeparator(buf)
	}
	r.scratch = buf[:0]
	if cap(r.scratch) > 4<<20 {
		r.scratch = nil // do not keep a huge mail's buffer
	}
	return Mail{Data: bytes.Clone(buf), Offset: start, Index: index, Kind: KindMail}, nil
}

// unescape undoes the "From " quoting of line (which starts with '>'):
// mboxrd strips one '>' from ">…>From ", mboxo only turns ">From " back
// into "From ". In FlavourAuto a line with two or more '>' switches the
// reader to mboxrd for the rest of the file.
func (r *mboxReader) unescape(line []byte) []byte {
	n := 0
	for n < len(line) && line[n] == '>' {
		n++
	}
	if !bytes.HasPrefix(line[n:], fromLine) {
		return line
	}
	if n >= 2 && r.flavour == FlavourAuto {
		r.flavour = FlavourMboxrd
	}
	if n == 1 || r.flavour == FlavourMboxrd {
		return line[1:]
	}
	return line
}

// trimSeparator removes the empty line that ends an mbox entry.
func trimSeparator(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n\n")):
		return b[:len(b)-1]
	case len(b) == 1 && b[0] == '\n':
		return b[:0]
	}
	return b
}
