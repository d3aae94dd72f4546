package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// quarantineN spools and quarantines n mails and returns their names.
func quarantineN(t *testing.T, s *Spool, n int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name, err := s.Deliver(strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Quarantine(name, "test"); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestDeleteAndPurge: delete removes one quarantined mail and its reason
// and refuses spooled or unknown mail; purge removes what was quarantined
// before the cutoff (and orphaned reason files) and keeps the rest; the
// usage gauge follows.
func TestDeleteAndPurge(t *testing.T) {
	s := newSpool(t)
	s.QuarantineDir = filepath.Join(t.TempDir(), "q")
	names := quarantineN(t, s, 4)
	if n, size, err := s.QuarantineUsage(); err != nil || n != 4 || size == 0 {
		t.Fatalf("usage: %d mails, %d bytes, %v", n, size, err)
	}
	if err := s.Delete(names[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{names[0], names[0] + ReasonSuffix} {
		if _, err := os.Stat(filepath.Join(s.QuarantineDir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	waiting, err := s.Deliver(strings.NewReader("Subject: w\r\n\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{waiting, "1.nope", names[0], "../x"} {
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%s) = nil", id)
		}
	}
	if err := s.Delete(waiting); !errors.Is(err, ErrNotQuarantined) || !strings.Contains(err.Error(), "waiting in the spool") {
		t.Errorf("Delete(spooled): %v", err)
	}
	// names[1] was quarantined two days ago; a reason file without its
	// mail, as old, is swept too.
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(s.QuarantineDir, names[1]+ReasonSuffix), old, old)
	orphan := filepath.Join(s.QuarantineDir, "2.orphan"+ReasonSuffix)
	os.WriteFile(orphan, []byte("reason: x\n"), 0o640)
	os.Chtimes(orphan, old, old)
	n, size, err := s.Purge(time.Now().Add(-24 * time.Hour))
	if err != nil || n != 1 || size == 0 {
		t.Fatalf("Purge: %d mails, %d bytes, %v", n, size, err)
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].Name != names[2] || list[1].Name != names[3] {
		t.Errorf("left in quarantine: %+v", list)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphaned reason file kept: %v", err)
	}
	if pend, _ := s.Pending(); len(pend) != 1 {
		t.Errorf("spooled mail touched: %v", pend)
	}
	if n, _, _ := s.QuarantineUsage(); n != 2 {
		t.Errorf("usage: %d mails", n)
	}
}
