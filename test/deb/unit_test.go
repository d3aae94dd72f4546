//go:build e2e

package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest "systemd-analyze security" score the unit
// may have (0 is locked down, 10 fully exposed; 2.0 is the bound).
const maxExposure = 2.0

// exposure runs "systemd-analyze security --offline" on a unit file and
// returns its overall exposure score.
func exposure(t *testing.T, unit string) float64 {
	t.Helper()
	need(t, "systemd-analyze")
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for mailgw\.service: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > maxExposure {
		t.Errorf("%s: exposure %.1f, want <= %.1f:\n%s", unit, score, maxExposure, out)
	}
	return score
}

// unitSettings returns the [Service] settings of a unit file, by key (a
// repeated key keeps every value).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestUnitSecurity: the systemd unit is Type=notify with a reload
// command, runs as mailgw, and its hardening keeps
// "systemd-analyze security --offline" at 2.0 or better.
func TestUnitSecurity(t *testing.T) {
	unit := filepath.Join(repoRoot, "etc", "systemd", "mailgw.service")
	s := unitSettings(t, unit)
	for k, want := range map[string]string{
		"Type": "notify", "User": "mailgw", "ExecReload": "/bin/kill -HUP $MAINPID",
		"ExecStart": "/usr/local/bin/mailgw serve --config /etc/mailgw/mailgw.toml",
	} {
		if len(s[k]) != 1 || s[k][0] != want {
			t.Errorf("%s=%v, want %q", k, s[k], want)
		}
	}
	t.Logf("exposure %.1f", exposure(t, unit))
}
