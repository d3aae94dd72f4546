package pidlock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestAcquire: a second holder is refused with the first one's pid, and
// the lock is free again once released (a second serve process is
// test/e2e's TestHostileSecretsAndLock).
func TestAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another open file description in this process is refused too.
	_, err = Acquire(path)
	var he *HeldError
	if !errors.As(err, &he) || he.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v, want a *HeldError with pid %d", err, os.Getpid())
	}
	l.Release()
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}
