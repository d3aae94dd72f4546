package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/debian/mailgw/bus"
)

// listFlag is a repeatable string flag.
type listFlag []string

// String joins the values with commas (flag.Value).
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one value (flag.Value).
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// maxEnvelopeBytes bounds what verify reads: far above any real envelope.
const maxEnvelopeBytes = 64 << 20

// cmdVerify runs "mailgw verify [FILE|-]": it reads one envelope (canonical
// or any other JSON form) and checks its signature, its envelope binding
// and the routing policy (bus.Keyring.Verify). Valid: exit 0 and "valid:
// signed by FPR" on stdout, followed by ", unbound: …" for an envelope
// without msg.mailgw (fedmsg's own, whose topic, msg_id and timestamp are
// not signed). Invalid: exit 1 and "invalid: REASON" on stderr. Keyrings
// come from --keyring, else the config's keyrings; the routing policy from
// --policy-prefix (and --nitpicky), else the config's routing_policy and
// routing_nitpicky; the binding is required on mailgw's own topics and
// the config's require_binding; allow_sha1_signatures comes from the
// config.
func cmdVerify(args []string) int {
	fl := flag.NewFlagSet("mailgw verify", flag.ContinueOnError)
	configPath := fl.String("config", "", "config file (TOML)")
	var keyrings, prefixes listFlag
	fl.Var(&keyrings, "keyring", "public key file, armored or binary (repeatable; default: keyrings from the config)")
	fl.Var(&prefixes, "policy-prefix", "PREFIX=FPR: FPR may sign topics under PREFIX (repeatable; default: routing_policy from the config)")
	nitpicky := fl.Bool("nitpicky", false, "reject topics that no policy prefix covers")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: mailgw verify [--config FILE] [--keyring FILE]... [--policy-prefix PREFIX=FPR]... [--nitpicky] [FILE|-]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() > 1 {
		fmt.Fprintln(os.Stderr, "mailgw verify: one envelope at a time (FILE or - for stdin)")
		return exitUsage
	}
	flagPrefixes := map[string][]string{}
	for _, p := range prefixes {
		prefix, fpr, ok := strings.Cut(p, "=")
		if !ok || prefix == "" || fpr == "" {
			fmt.Fprintf(os.Stderr, "mailgw verify: --policy-prefix %q: want PREFIX=FINGERPRINT\n", p)
			return exitUsage
		}
		flagPrefixes[prefix] = append(flagPrefixes[prefix], fpr)
	}
	cfg, err := loadConfig(*configPath) // "" is the defaults: mailgw's own topics stay bound
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw verify: %v\n", err)
		return exitConfig
	}
	if len(keyrings) == 0 {
		keyrings = cfg.Keyrings
	}
	policy := verifyPolicy(cfg)
	policy.Nitpicky = policy.Nitpicky || *nitpicky
	if len(prefixes) > 0 {
		policy.Prefixes, policy.Nitpicky = flagPrefixes, *nitpicky
	}
	if len(keyrings) == 0 {
		fmt.Fprintln(os.Stderr, "mailgw verify: no keyring: give --keyring FILE or set keyrings in the config")
		return exitConfig
	}
	kr, err := loadKeyring(cfg, keyrings)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw verify: %v\n", err)
		return exitConfig
	}
	body, err := readEnvelopeInput(fl.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw verify: %v\n", err)
		return exitFailure
	}
	env, err := bus.ParseEnvelope(body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid: %v\n", err)
		return exitFailure
	}
	fpr, err := kr.Verify(env, policy)
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid: %v\n", err)
		return exitFailure
	}
	if env.Bound() {
		fmt.Printf("valid: signed by %s\n", fpr)
	} else {
		fmt.Printf("valid: signed by %s, unbound: msg is signed, topic, msg_id and timestamp are not (no msg.mailgw)\n", fpr)
	}
	return exitOK
}

// readEnvelopeInput reads FILE, or stdin for "" and "-", up to
// maxEnvelopeBytes.
func readEnvelopeInput(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, maxEnvelopeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxEnvelopeBytes {
		return nil, fmt.Errorf("envelope larger than %d bytes", maxEnvelopeBytes)
	}
	return body, nil
}
