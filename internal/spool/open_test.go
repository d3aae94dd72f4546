package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadRefusesOddEntries: Read never follows a symlink, never opens a
// FIFO, a directory or a device, and never reads a file over
// MaxMessageBytes; each is a *BadEntryError naming the kind.
func TestReadRefusesOddEntries(t *testing.T) {
	s := newSpool(t)
	s.MaxMessageBytes = 1000
	newDir := filepath.Join(s.Dir(), "new")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte(testMail), 0o600)
	os.Symlink(secret, filepath.Join(newDir, "link"))
	syscall.Mkfifo(filepath.Join(newDir, "fifo"), 0o644)
	os.Mkdir(filepath.Join(newDir, "dir"), 0o755)
	os.WriteFile(filepath.Join(newDir, "big"), []byte(strings.Repeat("x", 1001)), 0o644)
	os.WriteFile(filepath.Join(newDir, "fits"), []byte(strings.Repeat("x", 1000)), 0o644)
	for name, kind := range map[string]string{"link": "symlink", "fifo": "fifo", "dir": "directory", "big": KindTooBig} {
		_, err := s.Read(name)
		var be *BadEntryError
		if !errors.As(err, &be) || be.Kind != kind || !errors.Is(err, ErrBadEntry) {
			t.Errorf("Read(%s): %v, want a %s BadEntryError", name, err, kind)
		}
	}
	if b, err := s.Read("fits"); err != nil || len(b) != 1000 {
		t.Errorf("Read(fits): %d bytes, %v", len(b), err)
	}
	pend, _ := s.Pending()
	if strings.Join(pend, " ") != "big dir fifo fits link" {
		t.Errorf("Pending = %v: odd entries must be listed, to be quarantined", pend)
	}
	// Quarantine moves them unread, the symlink as a symlink.
	for _, n := range []string{"link", "fifo", "dir", "big"} {
		if err := s.Quarantine(n, "odd"); err != nil {
			t.Errorf("Quarantine(%s): %v", n, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(s.QuarantineDir, "link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("quarantined link: %v %v", fi, err)
	}
	if _, _, err := s.Show("link"); !errors.Is(err, ErrBadEntry) {
		t.Errorf("Show(link) followed the symlink: %v", err)
	}
}

// TestRecycledFileSwapped: a recycled tmp/ file replaced by a symlink or
// a hard link is left alone (counted in BadEntries); Deliver writes a new
// file and the target keeps its bytes.
func TestRecycledFileSwapped(t *testing.T) {
	for _, how := range []string{"symlink", "hardlink"} {
		t.Run(how, func(t *testing.T) {
			s := newSpool(t)
			first, err := s.Deliver(strings.NewReader(testMail), 0)
			if err != nil {
				t.Fatal(err)
			}
			s.Done(first)
			ents, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
			if len(ents) != 1 {
				t.Fatalf("tmp/ holds %d files, want the recycled one", len(ents))
			}
			free := filepath.Join(s.Dir(), "tmp", ents[0].Name())
			target := filepath.Join(s.Dir(), "target") // same file system, for the hard link
			os.WriteFile(target, []byte("ORIGINAL"), 0o600)
			os.Remove(free)
			if how == "symlink" {
				os.Symlink(target, free)
			} else if err := os.Link(target, free); err != nil {
				t.Fatal(err)
			}
			name, err := s.Deliver(strings.NewReader(testMail), 0)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(target); string(b) != "ORIGINAL" {
				t.Errorf("the %s's target was overwritten: %q", how, b)
			}
			if got, err := s.Read(name); err != nil || string(got) != testMail {
				t.Errorf("the mail: %q, %v", got, err)
			}
			if s.BadEntries() != 1 {
				t.Errorf("BadEntries = %d, want 1", s.BadEntries())
			}
		})
	}
}
