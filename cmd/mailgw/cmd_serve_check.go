package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/smtpd"
)

// checkServeConfig is "serve --check-config": beyond config.Load's checks,
// the listen addresses parse, the bus endpoints are there, the key,
// passphrase and keyring files can be read (the signing key is loaded),
// and the state directories exist or can be made. It changes nothing.
func checkServeConfig(cfg *config.Config) error {
	var errs []error
	if err := smtpd.Check(cfg.SMTP); err != nil {
		errs = append(errs, err)
	}
	if a := cfg.Metrics.Listen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("metrics.listen %q: %v", a, err))
		}
	}
	eps := cfg.Endpoints[cfg.Name]
	if len(eps) == 0 {
		errs = append(errs, fmt.Errorf("endpoints: no entry for name %q (serve binds endpoints[name])", cfg.Name))
	}
	for _, ep := range eps {
		if err := checkEndpoint(ep); err != nil {
			errs = append(errs, fmt.Errorf("endpoints.%s: %v", cfg.Name, err))
		}
	}
	if ep, ok := cfg.ReplayEndpoints[cfg.Name]; ok {
		if err := checkEndpoint(ep); err != nil {
			errs = append(errs, fmt.Errorf("replay_endpoints.%s: %v", cfg.Name, err))
		}
	}
	if cfg.SignMessages && cfg.GPGSigningKey != "" {
		if _, err := bus.LoadSigner(cfg.GPGSigningKey, cfg.GPGPassphraseFile); err != nil {
			errs = append(errs, fmt.Errorf("gpg_signing_key: %v", err))
		}
	}
	for _, f := range cfg.Keyrings {
		errs = append(errs, readable("keyrings", f))
	}
	if _, err := newClassifier(cfg); err != nil {
		errs = append(errs, fmt.Errorf("upload_keyrings: %v", err))
	}
	if _, err := auth.New(cfg.Trust, nil); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range []struct{ key, path string }{
		{"state_dir", cfg.StateDir}, {"spool_dir", cfg.SpoolDir},
		{"quarantine_dir", cfg.QuarantineDir}, {"journal", filepath.Dir(cfg.Journal)},
	} {
		errs = append(errs, dirUsable(dir.key, dir.path))
	}
	return errors.Join(errs...)
}

func checkEndpoint(ep string) error {
	rest, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		if strings.HasPrefix(ep, "ipc://") {
			return nil
		}
		return fmt.Errorf("%q: want tcp://host:port or ipc://path", ep)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		return fmt.Errorf("%q: %v", ep, err)
	}
	return nil
}

func readable(key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %v", key, err)
	}
	f.Close()
	return nil
}

// dirUsable reports whether path is a directory serve may use, or could be
// created: its nearest existing ancestor is a directory serve may write.
func dirUsable(key, path string) error {
	p := filepath.Clean(path)
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s %s: %s is not a directory", key, path, p)
			}
			// serve reads, writes and creates entries there (or below it).
			if err := syscall.Access(p, 0o7); err != nil {
				return fmt.Errorf("%s %s: %s: %v", key, path, p, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: %v", key, path, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("%s %s: no existing parent directory", key, path)
		}
		p = parent
	}
}
