//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig: "serve --check-config" exits 0 for a good config and
// 78 with the exact problem on stderr for a bad one, changing nothing.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name, toml string
		code       int
		stderr     string
	}{
		{"good", `state_dir = "` + state + `"`, 0, "configuration OK"},
		{"unknown key", `state_dir = "` + state + `"` + "\nfrobnicate = 1", 78, `unknown key "frobnicate"`},
		{"bad network", `state_dir = "` + state + `"` + "\n[smtp]\nallowed_networks = [\"10.0.0.0/40\"]", 78, "smtp.allowed_networks"},
		{"bad listen", `state_dir = "` + state + `"` + "\n[smtp]\nlisten = \"2525\"", 78, "smtp.listen"},
		{"missing key", `state_dir = "` + state + `"` + "\ngpg_signing_key = \"" + dir + "/nope.asc\"", 78, "gpg_signing_key"},
		{"state is a file", `state_dir = "` + filepath.Join(dir, "good.toml") + `"`, 78, "state_dir"},
		{"bad endpoint", `state_dir = "` + state + `"` + "\n[endpoints]\nmailgw = [\"udp://x\"]", 78, "endpoints.mailgw"},
	} {
		name := strings.ReplaceAll(tc.name, " ", "-")
		cfg := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(cfg, []byte(tc.toml+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(mailgw, "serve", "--config", cfg, "--check-config")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr.String(), tc.code, tc.stderr)
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("--check-config created the state directory")
	}
}
