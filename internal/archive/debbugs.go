package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// logReader reads a debbugs .log file: a stream of records, each opened by
// a control character alone on a line and closed by ^C alone on a line
// (debbugs' Debbugs::Log documents the format):
//
//	^G mail ^C                       incoming-recv: a mail debbugs received
//	^B recip^Drecip… (or -t) ^E mail ^C   recips: a mail debbugs sent
//	^F html ^C                       html shown on the bug page (no mail)
//	^A mail ^C                       autocheck: old auto-forwarded mail
//
// debbugs escapes mail lines that start with ^A–^G or ^X by prefixing ^X;
// the reader removes that prefix. Mails of all three kinds are returned
// with their Kind; html records are skipped.
type logReader struct {
	reader
	junk bool // inside a run of lines outside any record
	// pending is the marker (and its offset) of a record that started
	// before the previous one ended; Next begins with it.
	pending    byte
	pendingOff int64
	scratch    []byte // reused mail buffer; each Mail gets an exact copy
}

// Format is "debbugs-log" plus the compression.
func (r *logReader) Format() string { return "debbugs-log" + r.suffix }

// record states
const (
	stOutside = iota
	stRecips  // ^B header: recipients until ^E
	stMail    // mail lines until ^C
	stHTML    // html lines until ^C
)

var errNoEnd = errors.New("debbugs record has no end (^C) before the next record")

// Next returns the next mail record.
func (r *logReader) Next() (Mail, error) {
	if r.done {
		return Mail{}, io.EOF
	}
	state, kind := stOutside, ""
	var (
		start  int64
		index  int
		buf    []byte
		tooBig bool
		nLine  int
	)
	begin := func(c byte, off int64) {
		start, buf, tooBig, nLine = off, r.scratch[:0], false, 0
		switch c {
		case 7, 1, 2:
			kind = map[byte]string{7: KindIncomingRecv, 1: KindAutocheck, 2: KindRecips}[c]
			index = r.index
			r.index++
			state = stMail
			if c == 2 {
				state = stRecips
			}
		case 6:
			state, kind = stHTML, ""
		}
	}
	if r.pending != 0 {
		begin(r.pending, r.pendingOff)
		r.pending = 0
	}
	for {
		lineOff := r.lr.off
		line, err := r.lr.next(r.max)
		if err == errLineTooLong {
			tooBig = true
			continue
		}
		if err == io.EOF {
			r.done = true
			if state == stOutside {
				return Mail{}, io.EOF
			}
			if state == stHTML {
				return Mail{}, r.errBetween(start, true, errors.New("file ends inside an html record (no ^C)"))
			}
			return Mail{}, r.errAt(start, index, true, fmt.Errorf("file ends inside a %s record (no ^C)", kind))
		}
		if err != nil {
			if state == stOutside || state == stHTML {
				return Mail{}, r.errBetween(lineOff, true, err)
			}
			return Mail{}, r.errAt(start, index, true, err)
		}
		c := controlByte(line)
		switch state {
		case stOutside:
			switch c {
			case 1, 2, 6, 7:
				r.junk = false
				begin(c, lineOff)
				continue
			}
			if !r.junk {
				r.junk = true
				return Mail{}, r.errBetween(lineOff, false, fmt.Errorf("text outside any debbugs record (%q…)", clip(line)))
			}
			continue
		case stRecips:
			switch c {
			case 5:
				state = stMail
				continue
			case 0:
				continue // recipients or -t
			case 3:
				state = stOutside
				return Mail{}, r.errAt(start, index, false, errors.New("debbugs recips record has no mail (no ^E)"))
			}
		}
		switch c {
		case 3:
			if state == stHTML {
				state = stOutside
				continue
			}
			if tooBig {
				return Mail{}, r.errAt(start, index, false, ErrTooBig)
			}
			if cap(buf) <= 4<<20 {
				r.scratch = buf[:0]
			}
			return Mail{Data: bytes.Clone(buf), Offset: start, Index: index, Kind: kind}, nil
		case 1, 2, 6, 7:
			// A new record starts before this one ended.
			wasMail := state != stHTML
			if wasMail {
				r.pending, r.pendingOff = c, lineOff
				return Mail{}, r.errAt(start, index, false, errNoEnd)
			}
			begin(c, lineOff)
			continue
		}
		if state == stHTML || tooBig {
			continue
		}
		nLine++
		if line[0] == 030 {
			line = line[1:]
		}
		if dropFromLine(kind, nLine, line) {
			continue
		}
		if int64(len(buf)+len(line)) > r.max {
			tooBig, buf = true, r.scratch[:0]
			continue
		}
		buf = append(buf, line...)
	}
}

// dropFromLine reports whether line is an mbox "From " envelope line that
// debbugs kept at the top of a stored mail: the first line of an
// autocheck record, or the line after debbugs' own "Received: (at …)" line
// of an incoming-recv record. It is not part of the mail.
func dropFromLine(kind string, n int, line []byte) bool {
	if !bytes.HasPrefix(line, fromLine) {
		return false
	}
	return (kind == KindAutocheck && n == 1) || (kind == KindIncomingRecv && n <= 2)
}

// controlByte returns c when line is the single control character c
// (^A–^G) followed by a newline, else 0.
func controlByte(line []byte) byte {
	if len(line) == 2 && line[1] == '\n' && line[0] >= 1 && line[0] <= 7 {
		return line[0]
	}
	if len(line) == 1 && line[0] >= 1 && line[0] <= 7 {
		return line[0] // last line without newline
	}
	return 0
}

func clip(b []byte) []byte {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
