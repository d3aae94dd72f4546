package archive

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"
)

// drain reads r to the end, checking the invariants every reader keeps:
// indexes and offsets grow, errors are *Error, nothing after a fatal one.
func drain(t *testing.T, r Reader) []Mail {
	var mails []Mail
	lastIndex, lastOff := -1, int64(-1)
	for range 100000 {
		m, err := r.Next()
		if err == io.EOF {
			return mails
		}
		var ae *Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *Error", err)
		}
		if ae != nil {
			if ae.Offset < 0 || ae.Offset > r.Offset() {
				t.Fatalf("error offset %d outside [0, %d]", ae.Offset, r.Offset())
			}
			if ae.Fatal {
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("Next after fatal error: %v", err)
				}
				return mails
			}
			continue
		}
		if m.Index <= lastIndex || m.Offset < lastOff {
			t.Fatalf("mail index %d offset %d after %d/%d", m.Index, m.Offset, lastIndex, lastOff)
		}
		lastIndex, lastOff = m.Index, m.Offset
		mails = append(mails, m)
	}
	t.Fatal("reader does not end")
	return nil
}

func FuzzMbox(f *testing.F) {
	f.Add([]byte("From a Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From y\n>>From z\n\nFrom b\nSubject: 2\n"))
	f.Add([]byte("Subject: single\r\n\r\nFrom me\r\n"))
	f.Add([]byte("From \n\nFrom \n\n\n"))
	f.Add([]byte("From x\n" + string(bytes.Repeat([]byte("y"), 3000)) + "\n"))
	f.Add([]byte("From x\r\n\r\nFrom y\r\n>From z"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newReader("fuzz", bytes.NewReader(data), Options{MaxMail: 2048})
		if err == nil {
			drain(t, r)
		}
		// Round trip: one mail written with MboxWriter reads back as
		// itself (less a leading "From " line, plus a final newline).
		var b bytes.Buffer
		w := archivetest.NewMboxWriter(&b)
		w.Write("s@example.org", time.Unix(0, 0), data)
		w.Flush()
		want := data
		if bytes.HasPrefix(want, fromLine) {
			if i := bytes.IndexByte(want, '\n'); i >= 0 {
				want = want[i+1:]
			} else {
				want = nil
			}
		}
		if len(want) > 0 && want[len(want)-1] != '\n' {
			want = append(bytes.Clone(want), '\n')
		}
		r, err = newReader("rt", &b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, r)
		if len(got) != 1 || !bytes.Equal(got[0].Data, want) {
			t.Fatalf("round trip of %q: got %v", want, got)
		}
	})
}

func FuzzDebbugsLog(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "debbugs-spool-log-563-tar-archived-1997.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed[:4000])
	f.Add([]byte("\x02\n-t\n\x05\nSubject: x\n\n\x18\x03\n\x03\n\x07\nReceived: y\nFrom z\n\x03\n"))
	f.Add([]byte("\x06\nhtml\n\x02\n\x05\n\x03\njunk\n\x01\nFrom q\nX: y\n\x03"))
	f.Add([]byte("\x07\n\x07\n\x02\n\x03\n\x05\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] < 1 || data[0] > 7 {
			data = append([]byte{7, '\n'}, data...)
		}
		r, err := newReader("fuzz.log", bytes.NewReader(data), Options{MaxMail: 2048})
		if err != nil {
			return
		}
		for _, m := range drain(t, r) {
			if m.Kind != KindIncomingRecv && m.Kind != KindRecips && m.Kind != KindAutocheck {
				t.Fatalf("mail of kind %q", m.Kind)
			}
		}
	})
}
