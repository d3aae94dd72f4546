package journal

import (
	"fmt"

	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

// TestCheckFile: a sound journal passes and is left unchanged; a missing
// one passes; a truncated bodies file, a missing bodies file and a
// database with garbage in its pages are reported.
func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.sqlite")
	if err := CheckFile(path); err != nil {
		t.Fatalf("missing journal: %v", err)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Enough rows for several pages, so that damage to the second half
	// of the file hits the table and its indexes.
	for i := range 400 {
		if _, err := j.Add([]*bus.Envelope{env(fmt.Sprint(i), int64(1000+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := CheckFile(path); err != nil {
		t.Fatalf("sound journal: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("CheckFile changed the journal")
	}

	bodies := BodiesPath(path)
	b, _ := os.ReadFile(bodies)
	os.WriteFile(bodies, b[:len(b)/2], 0o640)
	if err := CheckFile(path); err == nil || !strings.Contains(err.Error(), "bodies file") {
		t.Errorf("truncated bodies file: %v", err)
	}
	os.Remove(bodies)
	if err := CheckFile(path); err == nil || !strings.Contains(err.Error(), "names") {
		t.Errorf("missing bodies file: %v", err)
	}
	os.WriteFile(bodies, b, 0o640)

	// Overwrite the second half of the database's pages.
	db, _ := os.ReadFile(path)
	for i := len(db) / 2; i < len(db); i++ {
		db[i] = 0xA5
	}
	os.WriteFile(path, db, 0o640)
	if err := CheckFile(path); err == nil {
		t.Error("damaged database passed")
	}
	os.WriteFile(path, []byte("not a database at all, just text\n"), 0o640)
	if err := CheckFile(path); err == nil {
		t.Error("a text file passed")
	}
}
