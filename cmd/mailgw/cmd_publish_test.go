package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

// busTestKeys writes an Ed25519 key pair and a config that signs with it
// and trusts it; it returns the config path and the public key file.
func busTestKeys(t *testing.T) (cfgPath, pubPath string) {
	t.Helper()
	dir := t.TempDir()
	sec, pub, _, err := bus.GenerateKey("mailgw test", "test@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	secPath := filepath.Join(dir, "sec.asc")
	pubPath = filepath.Join(dir, "pub.asc")
	if err := os.WriteFile(secPath, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "mailgw.toml")
	cfg := fmt.Sprintf("username = \"tester\"\nstate_dir = %q\ngpg_signing_key = %q\nkeyrings = [%q]\n", dir, secPath, pubPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, pubPath
}

// busTestSigner is busTestKeys with the configured signing key loaded.
func busTestSigner(t *testing.T) (cfgPath string, signer bus.Signer) {
	t.Helper()
	cfgPath, _ = busTestKeys(t)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadSigner(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	return cfgPath, s
}

func TestPublishBadInput(t *testing.T) {
	cfgPath, _ := busTestKeys(t)
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
	}{
		{[]string{"--json-input"}, "{not json", exitDataErr},
		{[]string{"--json-input"}, "[1,2]", exitDataErr},
		{[]string{"--json-input", "--message", `{"f":1e400}`, "--settle", "0s"}, "", exitDataErr},
		{[]string{"--bogus"}, "", exitUsage},
		{[]string{"extra-arg"}, "", exitUsage},
	} {
		var stderr bytes.Buffer
		args := append([]string{"--config", cfgPath, "--endpoint", "tcp://127.0.0.1:0"}, tc.args...)
		if code := runPublish(context.Background(), args, strings.NewReader(tc.stdin), &stderr); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, stderr.String())
		}
	}
}
