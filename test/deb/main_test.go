// Package deb tests the Debian package (debian/): its copyright file
// against go.mod's modules, the systemd unit's hardening, and the whole
// life of the .deb — build offline, lintian, install, run, purge.
package deb

import (
	"path/filepath"
	"runtime"
)

// repoRoot is the module root.
var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()
