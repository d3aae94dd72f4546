package archivetest

import (
	"bufio"
	"bytes"
	"io"
	"time"
)

// fromLine starts an mbox separator line.
var fromLine = []byte("From ")

// MboxWriter writes mails as an mboxrd file: each mail after a "From "
// line, every line matching ^>*From  quoted with one more '>', and an
// empty line after the mail. The reader returns exactly the mail written
// when it ends with a newline (one is added otherwise).
type MboxWriter struct {
	w *bufio.Writer
}

// NewMboxWriter writes to w; call Flush at the end.
func NewMboxWriter(w io.Writer) *MboxWriter {
	return &MboxWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

// Write appends one mail, with sender and date on its "From " line. A
// "From " line at the top of data (an mbox envelope kept in a .eml file)
// is replaced by the new one.
func (m *MboxWriter) Write(sender string, date time.Time, data []byte) error {
	if bytes.HasPrefix(data, fromLine) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		} else {
			data = nil
		}
	}
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	w := m.w
	w.WriteString("From ")
	w.WriteString(sender)
	w.WriteByte(' ')
	w.WriteString(date.UTC().Format("Mon Jan _2 15:04:05 2006"))
	w.WriteByte('\n')
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			line, data = data, nil
		}
		if needsQuote(line) {
			w.WriteByte('>')
		}
		w.Write(line)
		if len(data) == 0 && line[len(line)-1] != '\n' {
			w.WriteByte('\n')
		}
	}
	_, err := w.Write([]byte{'\n'})
	return err
}

// needsQuote reports whether line matches ^>*From .
func needsQuote(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return bytes.HasPrefix(line[i:], fromLine)
}

// Flush writes out buffered data.
func (m *MboxWriter) Flush() error { return m.w.Flush() }
