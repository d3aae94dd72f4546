package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/debian/mailgw/bus"
	"github.com/spf13/cobra"
)

const keygenLong = `Make an OpenPGP signing key (Ed25519 by default, RSA with --rsa BITS),
write the secret half (mode 0600) and the public half, both ASCII-armored,
and print the fingerprint on stdout.

The secret key goes to --secret, else the config's gpg_signing_key, else
the development key path in state_dir; the public key to --public, else
beside the secret key as NAME.pub.asc. An existing key file is never
overwritten without --force. docs/keys.md describes key rotation.

Exit status: 0 written; 1 a key file exists (without --force) or could not
be written; 64 usage error; 70 key generation failed; 78 the config is
unusable.`

// keygenOptions are keygen's flags.
type keygenOptions struct {
	secret, public, name, email string
	rsaBits                     int
	force                       bool
}

// newKeygenCmd is "mailgw keygen": make a signing key.
func newKeygenCmd(g *globals) *cobra.Command {
	var o keygenOptions
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	c := &cobra.Command{
		Use:   "keygen",
		Short: "make an OpenPGP signing key",
		Long:  keygenLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return exitWith(cmdKeygen(g.config, o, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringVar(&o.secret, "secret", "", "write the secret key to `FILE` (default: gpg_signing_key from the config)")
	f.StringVar(&o.public, "public", "", "write the public key to `FILE` (default: the secret key's name with .pub.asc)")
	f.IntVar(&o.rsaBits, "rsa", 0, "make an RSA key of `BITS` bits (2048 to 16384) instead of Ed25519")
	f.StringVar(&o.name, "name", "mailgw on "+host, "user ID name")
	f.StringVar(&o.email, "email", "mailgw@"+host, "user ID email address")
	f.BoolVar(&o.force, "force", false, "overwrite existing key files")
	// The defaults name this host: the man page says what they are.
	f.Lookup("name").DefValue = "mailgw on HOSTNAME"
	f.Lookup("email").DefValue = "mailgw@HOSTNAME"
	return c
}

// cmdKeygen writes a new key pair.
func cmdKeygen(configPath string, o keygenOptions, stdout, stderr io.Writer) int {
	secret, public, rsaBits := &o.secret, &o.public, &o.rsaBits
	name, email, force := &o.name, &o.email, &o.force
	if *rsaBits != 0 && (*rsaBits < 2048 || *rsaBits > 16384) {
		fmt.Fprintf(stderr, "mailgw keygen: --rsa %d: want 2048 to 16384 bits\n", *rsaBits)
		return exitUsage
	}
	if *secret == "" {
		cfg, err := loadConfig(configPath)
		if err != nil {
			fmt.Fprintf(stderr, "mailgw keygen: %v\n", err)
			return exitConfig
		}
		*secret = cfg.GPGSigningKey
		if *secret == "" {
			*secret = cfg.DevKeyPath()
		}
	} else if configPath != "" {
		if _, err := loadConfig(configPath); err != nil {
			fmt.Fprintf(stderr, "mailgw keygen: %v\n", err)
			return exitConfig
		}
	}
	if *public == "" {
		*public = strings.TrimSuffix(*secret, ".asc") + ".pub.asc"
	}
	if !*force {
		for _, p := range []string{*secret, *public} {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(stderr, "mailgw keygen: %s exists; use --force to replace it\n", p)
				return exitFailure
			}
		}
	}
	sec, pub, fpr, err := bus.GenerateKey(*name, *email, *rsaBits)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw keygen: %v\n", err)
		return exitSoftware
	}
	if err := writeKeyFile(*secret, sec, 0o600); err != nil {
		fmt.Fprintf(stderr, "mailgw keygen: secret key: %v\n", err)
		return exitFailure
	}
	if err := writeKeyFile(*public, pub, 0o644); err != nil {
		fmt.Fprintf(stderr, "mailgw keygen: public key: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "mailgw keygen: wrote secret key %s and public key %s\n", *secret, *public)
	fmt.Fprintln(stdout, fpr)
	return exitOK
}

// writeKeyFile writes data to path atomically (temporary file, fsync,
// rename) with mode perm, creating the directory (0700) if needed.
func writeKeyFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".keygen-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
