package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// inode returns the inode number of path.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestRecycle: Done keeps the file in tmp/ as a hidden free file, and the
// next Deliver rewrites that same inode, truncated, under a new name in
// new/. Free files are never mail.
func TestRecycle(t *testing.T) {
	s := newSpool(t)
	long := testMail + strings.Repeat("a much longer first mail\r\n", 200)
	first, err := s.Deliver(strings.NewReader(long), 0)
	if err != nil {
		t.Fatal(err)
	}
	ino := inode(t, filepath.Join(s.Dir(), "new", first))
	if err := s.Done(first); err != nil {
		t.Fatal(err)
	}
	if n := s.FreeFiles(); n != 1 {
		t.Fatalf("FreeFiles after Done = %d, want 1", n)
	}
	if pend, _ := s.Pending(); len(pend) != 0 {
		t.Fatalf("Pending after Done = %v (a free file taken for mail?)", pend)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 1 {
		t.Fatalf("tmp/ has %d files after Done, want the 1 free file", n)
	}

	second, err := s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("recycled mail kept its old name %s", first)
	}
	if got := inode(t, filepath.Join(s.Dir(), "new", second)); got != ino {
		t.Errorf("second mail has inode %d, want the recycled %d", got, ino)
	}
	got, err := s.Read(second)
	if err != nil || string(got) != testMail {
		t.Fatalf("recycled file holds %d bytes (%v), want exactly the new mail (%d bytes)", len(got), err, len(testMail))
	}
	if n := s.FreeFiles(); n != 0 {
		t.Errorf("FreeFiles after reuse = %d, want 0", n)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 0 {
		t.Errorf("tmp/ has %d files after reuse", n)
	}
}

// TestRecycleOffAndBounded: with recycling off Done unlinks; with it on
// the pool never holds more than maxFree files.
func TestRecycleOffAndBounded(t *testing.T) {
	s := newSpool(t)
	s.SetRecycling(false)
	name, err := s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done(name); err != nil {
		t.Fatal(err)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != 0 || s.FreeFiles() != 0 {
		t.Fatalf("recycling off: tmp/ has %d files, pool %d", n, s.FreeFiles())
	}

	s.SetRecycling(true)
	newDir := filepath.Join(s.Dir(), "new")
	for i := range maxFree + 3 {
		n := filepath.Join(newDir, fmt.Sprintf("m%04d", i))
		if err := os.WriteFile(n, []byte(testMail), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := s.Done(filepath.Base(n)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.FreeFiles(); n != maxFree {
		t.Errorf("pool holds %d files, want the bound %d", n, maxFree)
	}
	if n := dirLen(t, filepath.Join(s.Dir(), "tmp")); n != maxFree {
		t.Errorf("tmp/ holds %d files, want %d", n, maxFree)
	}
	if n := dirLen(t, newDir); n != 0 {
		t.Errorf("new/ still holds %d files after Done", n)
	}
}

// TestRecycleFreeFileGone: a free file removed behind the pool's back
// (CleanTmp, an operator) is skipped and Deliver creates a new file.
func TestRecycleFreeFileGone(t *testing.T) {
	s := newSpool(t)
	name, err := s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done(name); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir(), "tmp")
	ents, _ := os.ReadDir(tmp)
	for _, e := range ents {
		os.Remove(filepath.Join(tmp, e.Name()))
	}
	name, err = s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(name); err != nil || string(got) != testMail {
		t.Fatalf("Read = %q, %v", got, err)
	}
}
