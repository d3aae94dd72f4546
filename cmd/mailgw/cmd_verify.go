package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/debian/mailgw/bus"
	"github.com/spf13/cobra"
)

// maxEnvelopeBytes bounds what verify reads: far above any real envelope.
const maxEnvelopeBytes = 64 << 20

const verifyLong = `Read one envelope (canonical or any other JSON form) from FILE or stdin
("-" or no FILE) and check its signature, its envelope binding (topic,
msg_id and timestamp must agree with the signed copy in msg.mailgw) and the
routing policy (which keys may sign which topics). Valid: "valid: signed by
FPR" on stdout, followed by ", unbound: ..." for an envelope without
msg.mailgw (fedmsg's own: only msg is signed, not topic, msg_id and
timestamp). Invalid: "invalid: REASON" on stderr (bad signature, unknown or
expired key, a SHA-1 signature without allow_sha1_signatures, a field that
disagrees with the signed copy, no msg.mailgw on one of mailgw's own topics
or under require_binding, a topic the key may not sign).

Keyrings come from --keyring, else the config's keyrings, else (without
gpg_signing_key) the public half of serve's development key; the policy from
--policy-prefix (and --nitpicky), else the config's routing_policy and
routing_nitpicky. docs/wire.md describes envelopes and signatures.

Exit status: 0 valid; 1 invalid, or FILE could not be read; 64 usage error;
78 no keyring, or the config or a keyring is unusable.`

// verifyOptions are verify's flags.
type verifyOptions struct {
	keyrings, prefixes []string
	nitpicky           bool
}

// newVerifyCmd is "mailgw verify [FILE|-]".
func newVerifyCmd(g *globals) *cobra.Command {
	var o verifyOptions
	c := &cobra.Command{
		Use:   "verify [FILE|-]",
		Short: "verify a signed envelope against a keyring and policy",
		Long:  verifyLong,
		Args:  maxArgs(1, "envelope (FILE, or - for stdin)"),
		RunE: func(c *cobra.Command, args []string) error {
			file := ""
			if len(args) > 0 {
				file = args[0]
			}
			return exitWith(cmdVerify(g.config, o, file, c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.keyrings, "keyring", nil, "public key `FILE`, armored or binary (repeatable; default: keyrings from the config)")
	f.StringArrayVar(&o.prefixes, "policy-prefix", nil, "`PREFIX=FPR`: FPR may sign topics under PREFIX (repeatable; default: routing_policy from the config)")
	f.BoolVar(&o.nitpicky, "nitpicky", false, "reject topics that no policy prefix covers")
	return c
}

// cmdVerify verifies the envelope in file ("" or "-": stdin).
func cmdVerify(configPath string, o verifyOptions, file string, stdin io.Reader, stdout, stderr io.Writer) int {
	keyrings, prefixes, nitpicky := o.keyrings, o.prefixes, &o.nitpicky
	flagPrefixes := map[string][]string{}
	for _, p := range prefixes {
		prefix, fpr, ok := strings.Cut(p, "=")
		if !ok || prefix == "" || fpr == "" {
			fmt.Fprintf(stderr, "mailgw verify: --policy-prefix %q: want PREFIX=FINGERPRINT\n", p)
			return exitUsage
		}
		flagPrefixes[prefix] = append(flagPrefixes[prefix], fpr)
	}
	cfg, err := loadConfig(configPath) // "" is the defaults: mailgw's own topics stay bound
	if err != nil {
		fmt.Fprintf(stderr, "mailgw verify: %v\n", err)
		return exitConfig
	}
	if len(keyrings) == 0 {
		keyrings = trustedKeyrings(cfg, loggerTo(cfg, stderr))
	}
	policy := verifyPolicy(cfg)
	policy.Nitpicky = policy.Nitpicky || *nitpicky
	if len(prefixes) > 0 {
		policy.Prefixes, policy.Nitpicky = flagPrefixes, *nitpicky
	}
	if len(keyrings) == 0 {
		fmt.Fprintln(stderr, "mailgw verify: no keyring: give --keyring FILE or set keyrings in the config")
		return exitConfig
	}
	kr, err := loadKeyring(cfg, keyrings)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw verify: %v\n", err)
		return exitConfig
	}
	body, err := readEnvelopeInput(file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw verify: %v\n", err)
		return exitFailure
	}
	env, err := bus.ParseEnvelope(body)
	if err != nil {
		fmt.Fprintf(stderr, "invalid: %v\n", err)
		return exitFailure
	}
	fpr, err := kr.Verify(env, policy)
	if err != nil {
		fmt.Fprintf(stderr, "invalid: %v\n", err)
		return exitFailure
	}
	if env.Bound() {
		fmt.Fprintf(stdout, "valid: signed by %s\n", fpr)
	} else {
		fmt.Fprintf(stdout, "valid: signed by %s, unbound: msg is signed, topic, msg_id and timestamp are not (no msg.mailgw)\n", fpr)
	}
	return exitOK
}

// readEnvelopeInput reads FILE, or stdin for "" and "-", up to
// maxEnvelopeBytes.
func readEnvelopeInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
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
