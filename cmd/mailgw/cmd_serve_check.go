package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/internal/amqpout"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/smtpd"
)

// checkServeConfig is "serve --check-config": beyond config.Load's checks
// (values, listen address and endpoint forms), the bus endpoint is there,
// every TCP address serve binds can be bound now, the key, passphrase and
// keyring files can be read (the signing key is loaded), so can [amqp]'s
// TLS files (the broker is not contacted), the state
// directories exist or can be made, and the journal is not damaged. It
// changes nothing. Each problem is one error; temporary ones (an address
// in use, by another program or a running serve) are marked temporary,
// so that the caller exits 75 when all problems are of that kind, and 78
// otherwise.
func checkServeConfig(cfg *config.Config) []error {
	var errs []error
	if err := smtpd.Check(cfg.SMTP); err != nil {
		errs = append(errs, err)
	}
	if len(cfg.Endpoints[cfg.Name]) == 0 {
		errs = append(errs, fmt.Errorf("endpoints: no entry for name %q (serve binds endpoints[name])", cfg.Name))
	}
	errs = append(errs, checkBinds(cfg)...)
	if cfg.SignMessages && cfg.GPGSigningKey != "" {
		if err := checkSecrets(cfg); err != nil {
			errs = append(errs, err)
		} else if _, err := bus.LoadSigner(cfg.GPGSigningKey, cfg.GPGPassphraseFile); err != nil {
			errs = append(errs, fmt.Errorf("gpg_signing_key: %v", err))
		}
	}
	for _, f := range cfg.Keyrings {
		errs = append(errs, readable("keyrings", f))
	}
	if _, err := newClassifier(cfg); err != nil {
		errs = append(errs, fmt.Errorf("upload_keyrings: %v", err))
	}
	if cfg.AMQP.Enabled {
		errs = append(errs, amqpout.Check(cfg.AMQP))
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
	errs = append(errs, journal.CheckFile(cfg.Journal))
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// checkSecrets refuses a signing key or passphrase file that others may
// read, or that sits in a directory others may write (serve and
// --check-config).
func checkSecrets(cfg *config.Config) error {
	var errs []error
	if cfg.GPGSigningKey != "" {
		errs = append(errs, config.CheckSecretFile("gpg_signing_key", cfg.GPGSigningKey))
	}
	if cfg.GPGPassphraseFile != "" {
		errs = append(errs, config.CheckSecretFile("gpg_passphrase_file", cfg.GPGPassphraseFile))
	}
	return errors.Join(errs...)
}

// temporary marks a problem that may go away by itself (exit 75).
type temporary struct{ error }

func (t temporary) Unwrap() error { return t.error }

// checkExitCode is --check-config's exit code for errs: 75 when every
// problem is temporary, else 78.
func checkExitCode(errs []error) int {
	for _, err := range errs {
		var t temporary
		if !errors.As(err, &t) {
			return exitConfig
		}
	}
	return exitTempFail
}

// checkBinds binds every TCP address serve would bind (SMTP, LMTP,
// metrics, the bus endpoints and the replay endpoint of name), all at
// once so that two keys naming one address are caught, and releases them.
// ipc:// endpoints and port 0 are left out.
func checkBinds(cfg *config.Config) []error {
	type bind struct{ key, addr string }
	var binds []bind
	for _, l := range []bind{{"smtp.listen", cfg.SMTP.Listen}, {"smtp.lmtp_listen", cfg.SMTP.LMTPListen}, {"metrics.listen", cfg.Metrics.Listen}, {"web.listen", cfg.Web.Listen}} {
		if l.addr != "" {
			binds = append(binds, l)
		}
	}
	eps := cfg.Endpoints[cfg.Name]
	keys := slices.Repeat([]string{"endpoints." + cfg.Name}, len(eps))
	if ep := cfg.ReplayEndpoints[cfg.Name]; ep != "" {
		eps, keys = append(eps, ep), append(keys, "replay_endpoints."+cfg.Name)
	}
	for i, ep := range eps {
		if network, addr, err := zmtp.SplitEndpoint(ep); err == nil && network == "tcp" {
			binds = append(binds, bind{keys[i], addr})
		}
	}
	var errs []error
	var open []net.Listener
	defer func() {
		for _, ln := range open {
			ln.Close()
		}
	}()
	for _, b := range binds {
		if _, port, _ := net.SplitHostPort(b.addr); port == "0" {
			continue
		}
		ln, err := net.Listen("tcp", b.addr)
		switch {
		case err == nil:
			open = append(open, ln)
		case errors.Is(err, syscall.EADDRINUSE):
			errs = append(errs, temporary{fmt.Errorf("%s %s: address in use (by another program, a running serve, or another key of this file)", b.key, b.addr)})
		default:
			errs = append(errs, fmt.Errorf("%s %s: cannot bind: %v", b.key, b.addr, err))
		}
	}
	return errs
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
