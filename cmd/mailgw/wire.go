package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// Shared wiring for the subcommands: config, parsers, signing key, logger.

// loadConfig reads the config file (path "" means built-in defaults only).
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path)
}

// newClassifier wires the parsers, most specific first: PTS/tracker
// forwards (which parse a forwarded dak or debbugs mail with the inner
// parsers), then dak, then debbugs. upload_keyrings are loaded for dak's
// signature check.
func newClassifier(cfg *config.Config) (*parsers.Classifier, error) {
	dopts := dak.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes}
	if len(cfg.UploadKeyrings) > 0 {
		kr, err := dak.LoadKeyrings(cfg.UploadKeyrings...)
		if err != nil {
			return nil, err
		}
		dopts.Keyring = kr
		dopts.KeyringName = keyringName(cfg.UploadKeyrings)
	}
	d := dak.New(dopts)
	b := debbugs.New(debbugs.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	return parsers.NewClassifier(pts.New(d, b), d, b), nil
}

// keyringName names the upload keyrings in signature.keyring: the base
// names without extension, joined by "+" ("debian-keyring").
func keyringName(files []string) string {
	names := make([]string, len(files))
	for i, f := range files {
		b := filepath.Base(f)
		names[i] = strings.TrimSuffix(b, filepath.Ext(b))
	}
	return strings.Join(names, "+")
}

// loadSigner returns the signing key, or nil when sign_messages is false.
// With no gpg_signing_key configured and devKeyOK (serve, replay), it uses
// a development key at cfg.DevKeyPath(), generating an Ed25519 key there on
// first use, and warns loudly (through slog.Default()): consumers must not
// trust such a key.
func loadSigner(cfg *config.Config, devKeyOK bool) (bus.Signer, error) {
	log := slog.Default()
	if !cfg.SignMessages {
		log.Warn("sign_messages is false: publishing UNSIGNED envelopes")
		return nil, nil
	}
	if cfg.GPGSigningKey != "" {
		s, err := bus.LoadSigner(cfg.GPGSigningKey, cfg.GPGPassphraseFile)
		if err != nil {
			return nil, fmt.Errorf("gpg_signing_key: %w", err)
		}
		return s, nil
	}
	if !devKeyOK {
		return nil, errors.New("no gpg_signing_key configured (make one with 'mailgw keygen')")
	}
	path := cfg.DevKeyPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := writeDevKey(path); err != nil {
			return nil, err
		}
		log.Warn("WARNING: generated a DEVELOPMENT signing key; configure gpg_signing_key for real use", "path", path)
	}
	s, err := bus.LoadSigner(path, "")
	if err != nil {
		return nil, fmt.Errorf("development key: %w", err)
	}
	log.Warn("WARNING: signing with the DEVELOPMENT key; no consumer should trust it", "path", path, "fingerprint", s.Fingerprint())
	return s, nil
}

// trustedKeyrings are the public keys tail and verify check against when
// no --keyring is given: the config's keyrings; failing those, when no
// gpg_signing_key is configured and serve has made a development key,
// that key's public half (so a first try on the defaults validates).
func trustedKeyrings(cfg *config.Config, log *slog.Logger) []string {
	if len(cfg.Keyrings) > 0 {
		return cfg.Keyrings
	}
	if cfg.GPGSigningKey != "" {
		return nil
	}
	pub := devPublicKeyPath(cfg.DevKeyPath())
	if _, err := os.Stat(pub); err != nil {
		return nil
	}
	log.Info("no keyrings configured: validating with the development key's public half (trust it for trying only)", "path", pub)
	return []string{pub}
}

// devPublicKeyPath is where writeDevKey puts the public half of the key
// at path.
func devPublicKeyPath(path string) string {
	return strings.TrimSuffix(path, ".asc") + ".pub.asc"
}

// writeDevKey generates an Ed25519 key: the secret half at path (0600),
// the public half beside it as .pub.asc.
func writeDevKey(path string) error {
	sec, pub, _, err := bus.GenerateKey("mailgw development key", "mailgw-dev@localhost", 0)
	if err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	pubPath := devPublicKeyPath(path)
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, sec, 0o600); err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	return os.Rename(tmp, path)
}

// loadKeyring loads the public keys that tail and verify trust, with the
// config's allow_sha1_signatures.
func loadKeyring(cfg *config.Config, files []string) (*bus.Keyring, error) {
	kr, err := bus.LoadKeyring(files...)
	if err != nil {
		return nil, err
	}
	kr.AllowSHA1 = cfg.AllowSHA1Signatures
	return kr, nil
}

// verifyPolicy is the config's policy for tail and verify: routing_policy
// and routing_nitpicky, and the binding required on mailgw's own topics
// and on require_binding.
func verifyPolicy(cfg *config.Config) *bus.Policy {
	return &bus.Policy{
		Prefixes:       cfg.RoutingPolicy,
		Nitpicky:       cfg.RoutingNitpicky,
		RequireBinding: append(pipeline.OwnTopics(cfg), cfg.RequireBinding...),
	}
}

// newLogger returns the stderr logger that the log section configures.
// Commands also make it slog's default.
func newLogger(cfg *config.Config) *slog.Logger {
	return loggerTo(cfg, os.Stderr)
}

// openSpool opens the configured spool with its quarantine directory;
// create makes the directories first (serve, replay), while deliver and
// spool leave a missing spool an error.
func openSpool(cfg *config.Config, create bool) (*spool.Spool, error) {
	if create {
		if err := spool.Create(cfg.SpoolDir); err != nil {
			return nil, err
		}
	}
	sp, err := spool.Open(cfg.SpoolDir, cfg.SpoolMinFreeBytes)
	if err != nil {
		return nil, err
	}
	sp.QuarantineDir = cfg.QuarantineDir
	return sp, nil
}

// newVerifier builds the trust policy of the config ([trust]): what proves
// a mail, checked once per mail before its events are signed. Without a
// policy it says once, through slog.Default(), that every event will be
// published untrusted.
func newVerifier(cfg *config.Config) (*auth.Verifier, error) {
	v, err := auth.New(cfg.Trust, nil)
	if err != nil {
		return nil, err
	}
	if !cfg.Trust.Configured() {
		slog.Default().Warn("trust: no [trust] policy configured: every event is published with msg.mail.auth.trusted = false (see docs/trust.md)")
	}
	return v, nil
}

// messageVerifier returns the check that tail and query apply to every
// envelope (signature, binding, routing_policy), or nil when messages go
// unchecked: with noValidate, or when no keyring is known (then logged as
// a warning). keyrings are the --keyring files; without them the
// configured keyrings are used, and, for the configured publishers
// (ownEndpoints) only, the development key (trustedKeyrings).
func messageVerifier(cfg *config.Config, keyrings []string, ownEndpoints, noValidate bool, log *slog.Logger, cmd string) (func(*bus.Envelope) (string, error), error) {
	switch {
	case noValidate:
		return nil, nil
	case len(keyrings) > 0:
	case ownEndpoints:
		keyrings = trustedKeyrings(cfg, log)
	default:
		// Another publisher's endpoint: a local development key says
		// nothing about its messages.
		keyrings = cfg.Keyrings
	}
	if len(keyrings) == 0 {
		log.Warn(cmd + ": no keyring configured: messages are NOT validated")
		return nil, nil
	}
	kr, err := loadKeyring(cfg, keyrings)
	if err != nil {
		return nil, err
	}
	pol := verifyPolicy(cfg)
	return func(env *bus.Envelope) (string, error) { return kr.Verify(env, pol) }, nil
}
