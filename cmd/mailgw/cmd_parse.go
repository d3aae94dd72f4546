package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
	"github.com/spf13/cobra"
)

const parseLong = `Print the events each mail would produce; publishes and stores nothing.
FILE is one mail ("-" reads stdin); a file that starts with an mbox "From "
line is read as one mail (use 'mailgw replay --dry-run' for mailboxes).

For each event: the topic, the rule that matched and the mail's trust
(msg.mail.auth: the [trust] policy is applied and DKIM keys are looked up,
as serve does), then the envelope as pretty JSON. A mail that yields no
event (the policy's quarantine included) gets one line on stderr with the
reason. Envelopes are unsigned unless --sign is given (which needs
gpg_signing_key in the config). msg_id is the one serve would publish
for the mail delivered as --relay and --sender say (a mail the policy
proves has other msg_ids than an unproven one, docs/dedup.md; by default
only DKIM and Authentication-Results can prove it); timestamp is the
current time. With --json, stdout has one canonical
envelope per line and nothing else.

Exit status: 0 when every file was read (whether or not it yields events);
1 when some file could not be read or signed; 64 usage error; 78 the config
is unusable.`

// parseOptions are parse's flags.
type parseOptions struct {
	json, sign    bool
	relay, sender string
}

// newParseCmd is "mailgw parse FILE...": the events a mail would produce.
func newParseCmd(g *globals) *cobra.Command {
	var o parseOptions
	c := &cobra.Command{
		Use:   "parse FILE...",
		Short: "print the events a mail would produce; publishes nothing",
		Long:  parseLong,
		Args:  minArgs(1, "FILE (a mail, or - for stdin)"),
		RunE: func(c *cobra.Command, args []string) error {
			return exitWith(cmdParse(g.config, o, args, c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "one canonical envelope per line on stdout, nothing else")
	c.Flags().BoolVar(&o.sign, "sign", false, "sign the envelopes with gpg_signing_key")
	c.Flags().StringVar(&o.relay, "relay", "", "judge the mails as received over SMTP or LMTP from `ADDR` (an IP address)")
	c.Flags().StringVar(&o.sender, "sender", "", "judge the mails as piped to mailgw deliver with envelope sender `ADDR`")
	return c
}

// cmdParse prints the events of the files. Exit status 0 when every file
// was read, 1 when some could not be, 78 for a bad config.
func cmdParse(cfgPath string, o parseOptions, files []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	cl, err := newClassifier(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	var signer bus.Signer
	if o.sign {
		slog.SetDefault(newLogger(cfg))
		if signer, err = loadSigner(cfg, false); err != nil {
			fmt.Fprintf(stderr, "mailgw parse: %v\n", err)
			return exitConfig
		}
	}
	in := spool.Origin{Sender: o.sender}
	if o.relay != "" {
		if in.Relay, err = netip.ParseAddr(o.relay); err != nil {
			fmt.Fprintf(stderr, "mailgw parse: --relay: %v\n", err)
			return exitUsage
		}
	}
	verifier, err := auth.New(cfg.Trust, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	now := time.Now()
	prep, err := pipeline.NewPreparer(cfg, cl, verifier, func() time.Time { return now })
	if err != nil {
		fmt.Fprintf(stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	code := exitOK
	for _, name := range files {
		if err := parseOne(out, stderr, stdin, prep, in, signer, name, o.json); err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "mailgw parse: %s: %v\n", name, err)
			code = exitFailure
		}
	}
	return code
}

// parseOne prints the events of one file.
func parseOne(out, stderr io.Writer, stdin io.Reader, prep *pipeline.Preparer, in spool.Origin, signer bus.Signer, name string, asJSON bool) error {
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	pp := prep.Prepare(raw, pipeline.Intake{Origin: in})
	switch {
	case pp.Held != "":
		fmt.Fprintf(stderr, "%s: held (serve would retry): %s\n", name, pp.Held)
		return nil
	case pp.Quarantine != "":
		fmt.Fprintf(stderr, "%s: no event: %s\n", name, pp.Quarantine)
		return nil
	}
	envs, evs := pp.Envelopes, pp.Events
	for i, env := range envs {
		if signer != nil {
			if err := bus.Sign(env, signer); err != nil {
				return err
			}
		}
		body, err := env.Marshal()
		if err != nil {
			return err
		}
		if asJSON {
			out.Write(body)
			out.Write([]byte{'\n'})
			continue
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, body, "", "  "); err != nil {
			return err
		}
		fmt.Fprintf(out, "# %s: %s\n# rule: %s\n# trust: %s\n%s\n\n", name, env.Topic, evs[i].Rule, trustLine(env.Msg), pretty.Bytes())
	}
	return nil
}
