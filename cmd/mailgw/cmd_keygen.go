package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/debian/mailgw/bus"
)

// cmdKeygen runs "mailgw keygen": make an OpenPGP signing key (Ed25519 by
// default, RSA with --rsa BITS), write the secret half (mode 0600) and the
// public half ASCII-armored, and print the fingerprint on stdout.
//
// The secret key goes to --secret, else the config's gpg_signing_key, else
// the development key path in state_dir; the public key to --public, else
// beside the secret key as NAME.pub.asc. An existing secret key is never
// overwritten without --force.
func cmdKeygen(args []string) int {
	fl := flag.NewFlagSet("mailgw keygen", flag.ContinueOnError)
	configPath := fl.String("config", "", "config file (TOML)")
	secret := fl.String("secret", "", "write the secret key here (default: gpg_signing_key from the config)")
	public := fl.String("public", "", "write the public key here (default: the secret key's name with .pub.asc)")
	rsaBits := fl.Int("rsa", 0, "make an RSA key of this many bits instead of Ed25519")
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	name := fl.String("name", "mailgw on "+host, "user ID name")
	email := fl.String("email", "mailgw@"+host, "user ID email address")
	force := fl.Bool("force", false, "overwrite existing key files")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: mailgw keygen [--config FILE] [--secret FILE] [--public FILE] [--rsa BITS] [--name N] [--email E] [--force]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mailgw keygen: unexpected argument %q\n", fl.Arg(0))
		return exitUsage
	}
	if *rsaBits != 0 && (*rsaBits < 2048 || *rsaBits > 16384) {
		fmt.Fprintf(os.Stderr, "mailgw keygen: --rsa %d: want 2048 to 16384 bits\n", *rsaBits)
		return exitUsage
	}
	if *secret == "" {
		cfg, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailgw keygen: %v\n", err)
			return exitConfig
		}
		*secret = cfg.GPGSigningKey
		if *secret == "" {
			*secret = cfg.DevKeyPath()
		}
	} else if *configPath != "" {
		if _, err := loadConfig(*configPath); err != nil {
			fmt.Fprintf(os.Stderr, "mailgw keygen: %v\n", err)
			return exitConfig
		}
	}
	if *public == "" {
		*public = strings.TrimSuffix(*secret, ".asc") + ".pub.asc"
	}
	if !*force {
		for _, p := range []string{*secret, *public} {
			if _, err := os.Stat(p); err == nil {
				fmt.Fprintf(os.Stderr, "mailgw keygen: %s exists; use --force to replace it\n", p)
				return exitFailure
			}
		}
	}
	sec, pub, fpr, err := bus.GenerateKey(*name, *email, *rsaBits)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw keygen: %v\n", err)
		return exitSoftware
	}
	if err := writeKeyFile(*secret, sec, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "mailgw keygen: secret key: %v\n", err)
		return exitFailure
	}
	if err := writeKeyFile(*public, pub, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "mailgw keygen: public key: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(os.Stderr, "mailgw keygen: wrote secret key %s and public key %s\n", *secret, *public)
	fmt.Println(fpr)
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
