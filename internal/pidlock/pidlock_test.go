package pidlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAcquire: a second holder is refused with the first one's pid (here
// a flock(1) child process), and the lock is free again once released.
func TestAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another process: flock(1) on the same file must fail at once.
	if err := exec.Command("flock", "--nonblock", path, "true").Run(); err == nil {
		t.Errorf("flock(1) got the lock while it is held")
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
