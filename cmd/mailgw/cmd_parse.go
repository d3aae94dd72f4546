package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/parsers"
)

const parseHelp = `usage: mailgw parse [--config FILE] [--json] [--sign] FILE...

Print the events each mail would produce; publishes and stores nothing.
FILE is one mail ("-" reads stdin); a file that starts with an mbox "From "
line is read as one mail (use 'mailgw replay --dry-run' for mailboxes).

For each event: the topic, the rule that matched and the mail's trust
(msg.mail.auth: the [trust] policy is applied, DKIM keys are looked up),
then the envelope as pretty JSON. A mail that yields no event (the policy's
quarantine included) gets one line on stderr with the reason. Envelopes are unsigned unless --sign is given (which needs
gpg_signing_key in the config). msg_id is the one serve would publish;
timestamp is the current time.

  --json   one canonical envelope per line on stdout and nothing else

Exit status: 0 when every file was read (whether or not it yields events),
1 when some file could not be read or signed, 64 on usage errors, 78 when
the config is unusable.
`

// cmdParse runs "mailgw parse": the events a mail would produce, printed.
// Exit status 0 when every file was read, 1 when some could not be, 64 for
// usage errors, 78 for a bad config.
func cmdParse(args []string) int {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, parseHelp) }
	cfgPath := fs.String("config", "", "config `FILE`")
	asJSON := fs.Bool("json", false, "one canonical envelope per line")
	sign := fs.Bool("sign", false, "sign with gpg_signing_key")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(os.Stderr, parseHelp)
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	cl, err := newClassifier(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	var signer bus.Signer
	if *sign {
		slog.SetDefault(newLogger(cfg))
		if signer, err = loadSigner(cfg, false); err != nil {
			fmt.Fprintf(os.Stderr, "mailgw parse: %v\n", err)
			return exitConfig
		}
	}
	verifier, err := newVerifier(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw parse: %v\n", err)
		return exitConfig
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer out.Flush()
	code := exitOK
	now := time.Now()
	for _, name := range fs.Args() {
		if err := parseOne(out, cfg, cl, verifier, signer, name, now, *asJSON); err != nil {
			out.Flush()
			fmt.Fprintf(os.Stderr, "mailgw parse: %s: %v\n", name, err)
			code = exitFailure
		}
	}
	return code
}

// parseOne prints the events of one file.
func parseOne(out io.Writer, cfg *config.Config, cl *parsers.Classifier, v *auth.Verifier, signer bus.Signer, name string, now time.Time, asJSON bool) error {
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: no event: %v\n", name, err)
		return nil
	}
	evs, reason := cl.Classify(m)
	if len(evs) == 0 {
		fmt.Fprintf(os.Stderr, "%s: no event: %s\n", name, reason)
		return nil
	}
	dec := v.Check(m, auth.Intake{}, evs)
	switch {
	case dec.Retry != "":
		fmt.Fprintf(os.Stderr, "%s: held (serve would retry): %s\n", name, dec.Retry)
		return nil
	case dec.Quarantine != "":
		fmt.Fprintf(os.Stderr, "%s: no event: %s\n", name, dec.Quarantine)
		return nil
	}
	envs := pipeline.Build(cfg, m, evs, now, false, dec.Object())
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
