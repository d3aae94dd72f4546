package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/dirsync"
)

// ReasonSuffix ends the name of the text file that Quarantine writes
// beside each quarantined mail.
const ReasonSuffix = ".reason"

// Entry is a quarantined mail as listed by List.
type Entry struct {
	Name string // file name in the quarantine directory
	Size int64
	// Reason is the first line of the reason file ("" if it is missing).
	Reason string
	// Time is when the mail was quarantined (the reason file's mtime).
	Time time.Time
}

// Quarantine moves the mail called name from new/ into the quarantine
// directory and writes <name>.reason beside it: the reason, the time and
// the mail's Message-ID, From and Subject, as plain text for an operator.
// The reason file is written first, so a crash leaves the mail in new/
// (processed again) rather than a quarantined mail without a reason.
func (s *Spool) Quarantine(name, reason string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(s.QuarantineDir, 0o750); err != nil {
		return err
	}
	src := filepath.Join(s.dir, "new", name)
	raw, err := readHead(src, 64<<10)
	if err != nil && !errors.Is(err, ErrBadEntry) {
		return err // an odd entry (a symlink, a FIFO) is moved unread
	}
	text := reasonText(reason, time.Now().UTC(), raw)
	if err := writeFileSync(filepath.Join(s.QuarantineDir, name+ReasonSuffix), []byte(text)); err != nil {
		return err
	}
	dst := filepath.Join(s.QuarantineDir, name)
	if err := moveFile(src, dst); err != nil {
		return err
	}
	return dirsync.Sync(s.QuarantineDir)
}

// reasonText renders the reason file.
func reasonText(reason string, now time.Time, raw []byte) string {
	h := headerOf(raw)
	dec := new(mime.WordDecoder)
	get := func(k string) string {
		v := strings.Join(strings.Fields(h.Get(k)), " ")
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		return v
	}
	reason = strings.Join(strings.Fields(reason), " ")
	return fmt.Sprintf("reason: %s\ntime: %s\nmessage-id: %s\nfrom: %s\nsubject: %s\n",
		reason, now.Format(time.RFC3339), get("Message-Id"), get("From"), get("Subject"))
}

// headerOf reads the header of a mail, tolerating an mbox "From " line
// and malformed fields.
func headerOf(raw []byte) textproto.MIMEHeader {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	return h
}

// writeFileSync writes data to path through a temporary file and an
// fsynced rename.
func writeFileSync(path string, data []byte) error {
	return copyFileSync(path, bytes.NewReader(data))
}

// moveFile renames src to dst; across file systems it copies a regular
// file to dst (through dst+".tmp", fsynced, streamed: never whole in
// memory) and then removes src. Other entries cannot be copied.
func moveFile(src, dst string) error {
	err := rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, _, err := openEntry(src, os.O_RDONLY, false)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := copyFileSync(dst, in); err != nil {
		return err
	}
	return os.Remove(src)
}

// copyFileSync writes r to path through a temporary file and an fsynced
// rename.
func copyFileSync(path string, r io.Reader) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// List returns the quarantined mails, oldest name first.
func (s *Spool) List() ([]Entry, error) {
	names, err := listDir(s.QuarantineDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, n := range names {
		if strings.HasSuffix(n, ReasonSuffix) || strings.HasSuffix(n, ".tmp") {
			continue
		}
		e := Entry{Name: n}
		if fi, err := os.Lstat(filepath.Join(s.QuarantineDir, n)); err == nil {
			e.Size = fi.Size()
			e.Time = fi.ModTime()
		}
		if fi, err := os.Stat(filepath.Join(s.QuarantineDir, n+ReasonSuffix)); err == nil {
			e.Time = fi.ModTime()
		}
		if txt, err := os.ReadFile(filepath.Join(s.QuarantineDir, n+ReasonSuffix)); err == nil {
			line, _, _ := strings.Cut(string(txt), "\n")
			e.Reason = strings.TrimPrefix(line, "reason: ")
		}
		out = append(out, e)
	}
	return out, nil
}

// showMax bounds what Show reads of a quarantined file.
const showMax = 256 << 20

// Show returns a quarantined mail's reason file and the mail itself.
func (s *Spool) Show(name string) (reason string, mail []byte, err error) {
	if err := checkName(name); err != nil {
		return "", nil, err
	}
	// Quarantine also holds what was refused from new/ (symlinks,
	// FIFOs, oversized files): never followed, blocked on or read whole.
	mail, err = readEntry(filepath.Join(s.QuarantineDir, name), showMax)
	if err != nil {
		return "", nil, err
	}
	txt, err := os.ReadFile(filepath.Join(s.QuarantineDir, name+ReasonSuffix))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	return string(txt), mail, nil
}

// Requeue moves a quarantined mail back into new/, where the pipeline
// processes it again (after a parser fix, say), and removes its reason.
func (s *Spool) Requeue(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	src := filepath.Join(s.QuarantineDir, name)
	if _, err := os.Stat(src); err != nil {
		return err
	}
	// Through tmp/ so that new/ only ever sees a complete file.
	tmp := filepath.Join(s.dir, "tmp", name)
	if err := moveFile(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "new", name)); err != nil {
		return err
	}
	if err := s.newSync.sync(); err != nil {
		return err
	}
	os.Remove(filepath.Join(s.QuarantineDir, name+ReasonSuffix))
	return dirsync.Sync(s.QuarantineDir)
}

// RequeueAll requeues every quarantined mail and returns how many.
func (s *Spool) RequeueAll() (int, error) {
	list, err := s.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list {
		if err := s.Requeue(e.Name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
