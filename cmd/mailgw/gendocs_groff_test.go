//go:build e2e

package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestManPagesRender: man(1) formats every generated page without a
// warning (groff's -ww), so a roff mistake in a help text shows here.
func TestManPagesRender(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/man/*.8")
	if len(pages) < 10 {
		t.Fatalf("only %d man pages", len(pages))
	}
	for _, p := range pages {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", p)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", p, err, out)
		}
	}
}
