package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"
)

// readAll reads every mail of r; non-fatal errors are collected, a fatal
// one ends the read.
func readAll(t *testing.T, r Reader) (mails []Mail, skipped []*Error, fatal *Error) {
	t.Helper()
	for {
		m, err := r.Next()
		if err == io.EOF {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) {
			if err != nil {
				t.Fatalf("Next: %v (not an *Error)", err)
			}
			mails = append(mails, m)
			continue
		}
		if ae.Fatal {
			fatal = ae
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("Next after a fatal error = %v, want io.EOF", err)
			}
			return
		}
		skipped = append(skipped, ae)
	}
}

func openAll(t *testing.T, path string) ([]Mail, []*Error, *Error, string) {
	t.Helper()
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, s, f := readAll(t, r)
	return m, s, f, r.Format()
}

func TestDebbugsLogCorpus(t *testing.T) {
	want := map[string]map[string]int{
		"debbugs-spool-log-280883-evolution-ack-info-quiet-2004.log":     {KindIncomingRecv: 10, KindRecips: 8},
		"debbugs-spool-log-308994-gnome-volume-manager-2005.log":         {KindIncomingRecv: 9, KindRecips: 12},
		"debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log": {KindIncomingRecv: 7, KindRecips: 13},
		"debbugs-spool-log-563-tar-archived-1997.log":                    {KindIncomingRecv: 1, KindRecips: 3, KindAutocheck: 2},
	}
	for name, kinds := range want {
		path := filepath.Join("testdata", name)
		mails, skipped, fatal, format := openAll(t, path)
		if fatal != nil || len(skipped) > 0 {
			t.Errorf("%s: errors %v %v", name, fatal, skipped)
		}
		if format != "debbugs-log" {
			t.Errorf("%s: format %q", name, format)
		}
		got := map[string]int{}
		for i, m := range mails {
			got[m.Kind]++
			if m.Index != i {
				t.Errorf("%s: mail %d has index %d", name, i, m.Index)
			}
			if bytes.HasPrefix(m.Data, fromLine) || bytes.Contains(m.Data, []byte{'\n', 3, '\n'}) {
				t.Errorf("%s: mail %d keeps a From line or a record marker", name, i)
			}
			if !bytes.Contains(m.Data[:min(len(m.Data), 4096)], []byte(":")) {
				t.Errorf("%s: mail %d has no header: %q", name, i, clip(m.Data))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(kinds) {
			t.Errorf("%s: kinds %v, want %v", name, got, kinds)
		}
	}
}

func TestDebbugsLogEscapes(t *testing.T) {
	log := "\x06\n<b>html</b>\n\x03\n" +
		"\x02\na@example.org\x04b@example.org\n\x05\nSubject: x\n\n\x18\x03\nbody\n\x18\x18keep one\n\x03\n" +
		"\x07\nReceived: (at submit) by bugs.debian.org; 1 Jan 2000\nFrom someone Sat Jan  1 00:00:00 2000\nSubject: y\n\nhi\n\x03\n"
	r, err := newReader("t.log", strings.NewReader(log), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mails, skipped, fatal := readAll(t, r)
	if fatal != nil || skipped != nil || len(mails) != 2 {
		t.Fatalf("mails %d, errors %v %v", len(mails), fatal, skipped)
	}
	if got, want := string(mails[0].Data), "Subject: x\n\n\x03\nbody\n\x18keep one\n"; got != want {
		t.Errorf("recips mail %q, want %q", got, want)
	}
	if got, want := string(mails[1].Data), "Received: (at submit) by bugs.debian.org; 1 Jan 2000\nSubject: y\n\nhi\n"; got != want {
		t.Errorf("incoming mail %q, want %q", got, want)
	}
	if mails[1].Offset != int64(strings.Index(log, "\x07")) {
		t.Errorf("offset %d", mails[1].Offset)
	}
}

func TestDebbugsLogDamage(t *testing.T) {
	rec := func(s string) string { return "\x02\n-t\n\x05\nSubject: " + s + "\n\nbody\n\x03\n" }
	// junk between records, a record cut by the next one, then a cut file.
	log := rec("one") + "junk\nmore junk\n" + "\x07\nReceived: x\n" + rec("two") + "\x02\n-t\n\x05\nSubject: cut\n\nhalf a bo"
	r, _ := newReader("cut.log", strings.NewReader(log), Options{})
	mails, skipped, fatal := readAll(t, r)
	if len(mails) != 2 || !strings.Contains(string(mails[1].Data), "two") {
		t.Fatalf("got %d mails, want one and two", len(mails))
	}
	if len(skipped) != 2 {
		t.Fatalf("skipped %v, want junk and the cut record", skipped)
	}
	if skipped[0].Offset != int64(len(rec("one"))) || !skipped[0].Between || skipped[0].Index != 0 || !strings.Contains(skipped[0].Error(), "after mail 0") {
		t.Errorf("junk error %v (offset %d)", skipped[0], skipped[0].Offset)
	}
	if !errors.Is(skipped[1], errNoEnd) || skipped[1].Offset != int64(strings.Index(log, "\x07")) || skipped[1].Index != 1 {
		t.Errorf("cut record error %v", skipped[1])
	}
	wantOff := int64(strings.LastIndex(log, "\x02"))
	if fatal == nil || fatal.Offset != wantOff || !strings.Contains(fatal.Error(), "cut.log") || !strings.Contains(fatal.Error(), fmt.Sprint(wantOff)) {
		t.Errorf("fatal %v, want cut.log at %d", fatal, wantOff)
	}
}

// mkMails makes n distinct mails with From-lines to escape.
func mkMails(n int) [][]byte {
	var ms [][]byte
	for i := range n {
		ms = append(ms, fmt.Appendf(nil, "From: a@example.org\nMessage-ID: <%d@example.org>\nSubject: m %d\n\nFrom here\n>From there\n>>From quoted\n\nFrom \nlast %d\n", i, i, i))
	}
	return ms
}

func writeMbox(t *testing.T, mails [][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := archivetest.NewMboxWriter(&b)
	for i, m := range mails {
		if err := w.Write("a@example.org", time.Unix(int64(i)*86400, 0), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMboxRoundTrip(t *testing.T) {
	want := mkMails(20)
	data := writeMbox(t, want)
	r, err := newReader("x.mbox", bytes.NewReader(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, skipped, fatal := readAll(t, r)
	if fatal != nil || skipped != nil || len(got) != len(want) {
		t.Fatalf("%d mails, errors %v %v", len(got), fatal, skipped)
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Errorf("mail %d:\n%q\nwant\n%q", i, got[i].Data, want[i])
		}
		if !bytes.HasPrefix(data[got[i].Offset:], []byte("From a@example.org ")) {
			t.Errorf("mail %d offset %d does not point at its From line", i, got[i].Offset)
		}
	}
	if r.Format() != "mboxrd" {
		t.Errorf("format %q, want mboxrd", r.Format())
	}
}

func TestMboxoUnescape(t *testing.T) {
	// mboxo: ">From " was "From "; ">>From " is kept as it is.
	in := "From x Thu Jan  1 00:00:00 1970\nSubject: a\n\n>From b\n>>From c\nFrom d\n\nFrom y Thu Jan  1 00:00:00 1970\nSubject: e\n\n>From f\n"
	for _, c := range []struct {
		fl     Flavour
		first  string
		format string
	}{
		{FlavourMboxo, "Subject: a\n\nFrom b\n>>From c\nFrom d\n", "mboxo"},
		{FlavourMboxrd, "Subject: a\n\nFrom b\n>From c\nFrom d\n", "mboxrd"},
		{FlavourAuto, "Subject: a\n\nFrom b\n>From c\nFrom d\n", "mboxrd"},
	} {
		r, _ := newReader("o", strings.NewReader(in), Options{Flavour: c.fl})
		got, _, _ := readAll(t, r)
		if len(got) != 2 || string(got[0].Data) != c.first || string(got[1].Data) != "Subject: e\n\nFrom f\n" {
			t.Errorf("flavour %d: %v", c.fl, got)
		}
		if r.Format() != c.format {
			t.Errorf("flavour %d: format %q", c.fl, r.Format())
		}
	}
	// Auto without any ">>From " line stays mboxo.
	r, _ := newReader("o", strings.NewReader("From x\nA: b\n\n>From c\n"), Options{})
	if got, _, _ := readAll(t, r); len(got) != 1 || string(got[0].Data) != "A: b\n\nFrom c\n" || r.Format() != "mboxo" {
		t.Errorf("auto mboxo: %v %s", got, r.Format())
	}
}

func TestMboxTooBig(t *testing.T) {
	big := append([]byte("Subject: big\n\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 100)...)
	long := append([]byte("Subject: long line\n\n"), bytes.Repeat([]byte("x"), 3000)...)
	data := writeMbox(t, [][]byte{[]byte("Subject: 1\n"), big, long, []byte("Subject: 4\n")})
	r, _ := newReader("big", bytes.NewReader(data), Options{MaxMail: 1000})
	got, skipped, fatal := readAll(t, r)
	if fatal != nil || len(got) != 2 || len(skipped) != 2 {
		t.Fatalf("mails %d skipped %v fatal %v", len(got), skipped, fatal)
	}
	if !errors.Is(skipped[0], ErrTooBig) || skipped[0].Index != 1 || got[1].Index != 3 || string(got[1].Data) != "Subject: 4\n" {
		t.Errorf("skipped %v, mails %v", skipped, got)
	}
}

func TestSingleMailAndEmpty(t *testing.T) {
	dir := t.TempDir()
	eml := filepath.Join(dir, "a.eml")
	os.WriteFile(eml, []byte("Subject: a\n\nFrom me\n\nFrom you\n"), 0o644)
	mails, _, _, format := openAll(t, eml)
	if len(mails) != 1 || string(mails[0].Data) != "Subject: a\n\nFrom me\n\nFrom you\n" || format != "mail" {
		t.Errorf("single mail: %v %s", mails, format)
	}
	empty := filepath.Join(dir, "e")
	os.WriteFile(empty, nil, 0o644)
	if mails, _, _, _ := openAll(t, empty); len(mails) != 0 {
		t.Errorf("empty file: %d mails", len(mails))
	}
	bin := filepath.Join(dir, "b")
	os.WriteFile(bin, []byte("\x00\x01binary"), 0o644)
	if _, err := Open(bin, Options{}); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("binary file: %v", err)
	}
}

func TestMaildir(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "cur", "2.x:2,S"), []byte("Subject: 2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cur", "1.x:2,"), []byte("Subject: 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "new", "3.x"), []byte("Subject: 3\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tmp", "4.x"), []byte("Subject: 4\n"), 0o644)
	mails, _, _, format := openAll(t, dir)
	var subj []string
	for _, m := range mails {
		subj = append(subj, strings.TrimSpace(string(m.Data)))
	}
	if strings.Join(subj, ",") != "Subject: 1,Subject: 2,Subject: 3" || format != "maildir" || mails[2].Offset != 22 {
		t.Errorf("maildir: %q %s %d", subj, format, mails[2].Offset)
	}
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Error("a plain directory opened as a Maildir")
	}
}

// newReader reads an archive from src, compression and format detected as
// for Open (Maildir is not possible); name is used in errors.
func newReader(name string, src io.Reader, o Options) (Reader, error) {
	if o.MaxMail <= 0 {
		o.MaxMail = DefaultMaxMail
	}
	return openStream(name, &countingReader{r: src, size: -1}, io.NopCloser(nil), o)
}
