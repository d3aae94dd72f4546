package deb

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestVersionsAgree: the package's version (debian/changelog, which the
// build injects into "mailgw --version") is the newest NEWS.md entry's,
// so that an operator's NEWS matches what they installed.
func TestVersionsAgree(t *testing.T) {
	cl, err := os.ReadFile(filepath.Join(repoRoot, "debian", "changelog"))
	if err != nil {
		t.Fatal(err)
	}
	news, err := os.ReadFile(filepath.Join(repoRoot, "NEWS.md"))
	if err != nil {
		t.Fatal(err)
	}
	deb := regexp.MustCompile(`^mailgw \(([^)]+)\) `).FindSubmatch(cl)
	top := regexp.MustCompile(`(?m)^## (\S+) \(`).FindSubmatch(news)
	if deb == nil || top == nil {
		t.Fatalf("no version: debian/changelog %q, NEWS.md %q", deb, top)
	}
	if string(deb[1]) != string(top[1]) {
		t.Errorf("debian/changelog is at %s, NEWS.md's newest entry is %s", deb[1], top[1])
	}
}
