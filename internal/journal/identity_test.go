package journal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestJournalHalvesMismatch: a journal whose database is missing or
// empty beside a bodies file with data, whose bodies file is missing,
// empty or another journal's, is refused by Open with a *MismatchError
// naming both files and the recovery, and nothing is changed: the
// bodies file keeps every byte.
func TestJournalHalvesMismatch(t *testing.T) {
	mk := func(t *testing.T, n int) string {
		path := filepath.Join(t.TempDir(), "j.sqlite")
		j := open(t, path)
		addN(t, j, 0, n)
		j.Close()
		return path
	}
	other := mk(t, 2)
	for name, damage := range map[string]func(path string){
		"journal missing": func(p string) { os.Remove(p) },
		"journal empty":   func(p string) { os.Truncate(p, 0) },
		"bodies missing":  func(p string) { os.Remove(BodiesPath(p)) },
		"bodies empty":    func(p string) { os.Truncate(BodiesPath(p), 0) },
		"bodies foreign": func(p string) {
			b, _ := os.ReadFile(BodiesPath(other))
			os.WriteFile(BodiesPath(p), b, 0o640)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := mk(t, 3)
			damage(path)
			before, _ := os.ReadFile(BodiesPath(path))
			j, err := Open(path)
			var me *MismatchError
			if !errors.As(err, &me) {
				if j != nil {
					j.Close()
				}
				t.Fatalf("Open: %v, want a *MismatchError", err)
			}
			for _, want := range []string{path, BodiesPath(path), "restore both files", "docs/recovery.md"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			t.Logf("%s: %v", name, me.Problem)
			if after, _ := os.ReadFile(BodiesPath(path)); string(after) != string(before) {
				t.Errorf("the bodies file changed: %d bytes, was %d", len(after), len(before))
			}
		})
	}
	// A journal with nothing in it whose bodies file was lost is not a
	// mismatch: it gets its identity line back.
	path := filepath.Join(t.TempDir(), "j.sqlite")
	open(t, path).Close()
	os.Remove(BodiesPath(path))
	j := open(t, path)
	addN(t, j, 0, 1)
	j.Close()
	header(t, path)
}

// TestCheck: journal check finds a flipped byte in a body (by seq_id) and
// one in the database's last page (SQLite's integrity_check), and says
// nothing about a sound journal.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 300)
	bodies := allBodies(t, j)
	j.Close()
	r, err := Check(path)
	if err != nil || !r.OK() || r.Rows != 300 {
		t.Fatalf("sound journal: %+v, %v", r, err)
	}

	h := len(header(t, path))
	off := h
	for _, b := range bodies[:41] { // into seq_id 42
		off += len(b) + 1
	}
	flip(t, BodiesPath(path), int64(off+20))
	r, err = Check(path)
	if err != nil || !slices.Equal(r.Damaged, []int64{42}) || len(r.Integrity) > 0 {
		t.Fatalf("flipped body byte: %+v, %v; want seq_id 42 damaged", r, err)
	}

	fi, _ := os.Stat(path)
	flip(t, path, fi.Size()-pageSize+1) // the last page's header
	r, err = Check(path)
	if err != nil || len(r.Integrity) == 0 {
		t.Fatalf("flipped byte on the last page: %+v, %v; want integrity errors", r, err)
	}
	t.Logf("integrity_check: %q", r.Integrity)
}

// flip inverts one byte of a file.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
