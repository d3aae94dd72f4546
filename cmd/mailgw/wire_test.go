package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/internal/config"
)

func TestLoadSignerDevKey(t *testing.T) {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	if _, err := loadSigner(cfg, false); err == nil {
		t.Fatal("no key and no dev key allowed: want an error")
	}
	s1, err := loadSigner(cfg, true)
	if err != nil || s1 == nil {
		t.Fatalf("dev key: %v", err)
	}
	fi, err := os.Stat(cfg.DevKeyPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev key file: %v %v", fi, err)
	}
	s2, err := loadSigner(cfg, true)
	if err != nil || s2.Fingerprint() != s1.Fingerprint() {
		t.Errorf("second start made a new key: %v", err)
	}
	// The configured key wins; a missing one is an error.
	cfg.GPGSigningKey = filepath.Join(t.TempDir(), "missing.asc")
	if _, err := loadSigner(cfg, true); err == nil {
		t.Error("missing gpg_signing_key: want an error")
	}
	cfg.GPGSigningKey = cfg.DevKeyPath()
	if s3, err := loadSigner(cfg, false); err != nil || s3.Fingerprint() != s1.Fingerprint() {
		t.Errorf("configured key: %v", err)
	}
	cfg.SignMessages = false
	if s, err := loadSigner(cfg, false); s != nil || err != nil {
		t.Errorf("unsigned: %v, %v", s, err)
	}
}

func TestNewClassifier(t *testing.T) {
	cfg := config.Defaults()
	cl, err := newClassifier(cfg)
	if err != nil || len(cl.Parsers) != 3 || cl.Parsers[0].Name() != "pts" || cl.Parsers[1].Name() != "dak" || cl.Parsers[2].Name() != "debbugs" {
		t.Fatalf("classifier %v, %v", cl, err)
	}
	cfg.UploadKeyrings = []string{filepath.Join(t.TempDir(), "nope.gpg")}
	if _, err := newClassifier(cfg); err == nil {
		t.Error("missing upload keyring: want an error")
	}
	if got := keyringName([]string{"/usr/share/keyrings/debian-keyring.gpg", "x/debian-maintainers.gpg"}); got != "debian-keyring+debian-maintainers" {
		t.Errorf("keyringName = %q", got)
	}
}
