// Package testlock serialises the tests that use the machine's default
// paths and ports rather than their own temporary ones: the README's
// "Try it" (state in /var/lib/mailgw, ports 2525 and 9940–9942) and the
// Debian package's install test (the mailgw user, /etc/mailgw,
// /var/lib/mailgw). go test runs packages in parallel; these take one
// lock file, so they never overlap.
package testlock

import (
	"os"
	"syscall"
	"testing"
)

// Path is the lock file.
const Path = "/tmp/mailgw-test-default-paths.lock"

// DefaultPaths blocks until no other test holds the default paths, then
// holds them until t's cleanup.
func DefaultPaths(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(Path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
