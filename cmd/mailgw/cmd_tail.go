package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/spf13/cobra"
)

const tailLong = `Subscribe to the bus and print what arrives, like fedmsg-tail. Endpoints
are every endpoint of every name in the config, or --endpoint (repeatable).
--topic PREFIX (repeatable) keeps topics that start with PREFIX.

Messages are validated (signature, envelope binding, routing_policy) when
keyrings are configured or given with --keyring; invalid ones are dropped
and logged on stderr. Without either, and without gpg_signing_key, the
public half of serve's development key is used when serve has made one
(STATE_DIR/keys/dev-signing.pub.asc; docs/keys.md) and no --endpoint is
given. --no-validate prints
everything well-formed. A validated envelope without msg.mailgw (fedmsg's
own: only msg is signed, not its topic, msg_id and timestamp) is "unbound";
mailgw's own topics and require_binding must be bound.

Output: one line per message: time, topic, msg_id, summary, with
"(unbound)" before the summary of an unbound one. --pretty: a "# trust: ..."
line saying what msg.mail.auth says, then the envelope as indented JSON;
--json: one canonical envelope per line on stdout and nothing else there
(logs go to stderr). Validated envelopes get a member
"validation": {"bound": true|false, "signer": FINGERPRINT} in both.
--count N exits after N messages. --trusted-only keeps the messages whose
msg.mail.auth.trusted is true: the gateway proved that the mail came from
dak, debbugs or the tracker (docs/trust.md); it means something only when
messages are validated.

` + tailGapHelp + `

Exit status: 0 after --count messages or when interrupted; 64 usage error;
70 stdout could not be written; 78 the config, a keyring or an endpoint is
unusable.`

// tailOptions are tail's flags.
type tailOptions struct {
	endpoints, topics, keyrings []string
	noValidate, pretty, json    bool
	trustedOnly                 bool
	count                       int
	gap                         *gapFlags
}

// newTailCmd is "mailgw tail": subscribe, validate and print.
func newTailCmd(g *globals) *cobra.Command {
	var o tailOptions
	c := &cobra.Command{
		Use:   "tail",
		Short: "subscribe to the bus, validate, filter and print messages",
		Long:  tailLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return exitWith(cmdTail(ctx, g.config, o, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.endpoints, "endpoint", nil, "endpoint `EP` to connect to (repeatable; default: every endpoint in the config)")
	f.StringArrayVar(&o.topics, "topic", nil, "keep topics that start with `PREFIX` (repeatable)")
	f.StringArrayVar(&o.keyrings, "keyring", nil, "public key `FILE` to validate with (repeatable; default: keyrings from the config)")
	f.BoolVar(&o.noValidate, "no-validate", false, "do not check signatures")
	f.BoolVar(&o.pretty, "pretty", false, "print each envelope as indented JSON")
	f.BoolVar(&o.json, "json", false, "print one canonical envelope per line")
	f.IntVar(&o.count, "count", 0, "exit after `N` messages (0: run until interrupted)")
	f.BoolVar(&o.trustedOnly, "trusted-only", false, "keep only messages whose msg.mail.auth.trusted is true")
	o.gap = addGapFlags(f)
	c.MarkFlagsMutuallyExclusive("pretty", "json")
	return c
}

// tailFilter is the step between receiving and printing: it gets every
// received message and returns the messages to print, in order. It
// passes each one through, or fills gaps (fetching missed seq_ids from
// the replay endpoint, dropping duplicates): see tail_gapfill.go.
type tailFilter func(ctx context.Context, m bus.Message) []bus.Message

// cmdTail subscribes and prints until ctx ends or o.count messages.
func cmdTail(ctx context.Context, cfgPath string, o tailOptions, stdout, stderr io.Writer) int {
	endpoints, topics, keyrings, gap := o.endpoints, o.topics, o.keyrings, o.gap
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitConfig
	}
	log := loggerTo(cfg, stderr)
	slog.SetDefault(log)
	if len(endpoints) == 0 {
		gap.discoverEndpoints(ctx, cfg, log)
		endpoints = allEndpoints(cfg)
	}
	switch {
	case len(keyrings) > 0 || o.noValidate:
	case len(o.endpoints) == 0:
		keyrings = trustedKeyrings(cfg, log)
	default:
		// Another publisher's endpoint: a local development key says
		// nothing about its messages.
		keyrings = cfg.Keyrings
	}
	opts := bus.SubOptions{Logger: log}
	if o.trustedOnly && (o.noValidate || len(keyrings) == 0) {
		log.Warn("tail: --trusted-only without validation: anyone who can publish can claim trusted = true")
	}
	switch {
	case o.noValidate:
	case len(keyrings) == 0:
		log.Warn("tail: no keyring configured: messages are NOT validated")
	default:
		kr, err := loadKeyring(cfg, keyrings)
		if err != nil {
			fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
			return exitConfig
		}
		pol := verifyPolicy(cfg)
		opts.Verify = func(env *bus.Envelope) (string, error) { return kr.Verify(env, pol) }
	}
	sub, err := bus.Subscribe(ctx, endpoints, topics, opts)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitConfig
	}
	defer sub.Close()
	log.Debug("tail: subscribed", "endpoints", endpoints, "topics", topics)

	out := bufio.NewWriter(stdout)
	filter, pending, err := gap.setup(ctx, cfg, endpoints, topics, opts.Verify, log)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitUsage
	}
	for n := 0; o.count == 0 || n < o.count; {
		if len(pending) == 0 {
			m, err := sub.Next(ctx)
			if err != nil {
				break // interrupted
			}
			pending = filter(ctx, m)
			continue
		}
		if o.trustedOnly && !isTrusted(pending[0].Env.Msg) {
			pending = pending[1:]
			continue
		}
		if err := printEnvelope(out, pending[0], o.pretty, o.json); err != nil {
			fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
			return exitSoftware
		}
		pending = pending[1:]
		n++
		if len(pending) == 0 {
			if err := out.Flush(); err != nil {
				return exitSoftware // stdout closed
			}
		}
	}
	if err := out.Flush(); err != nil {
		return exitSoftware
	}
	return exitOK
}

// allEndpoints lists every endpoint of every name in the config, sorted
// by name, without repeats.
func allEndpoints(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Endpoints))
	for name := range cfg.Endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var out []string
	for _, name := range names {
		for _, ep := range cfg.Endpoints[name] {
			if !seen[ep] {
				seen[ep] = true
				out = append(out, ep)
			}
		}
	}
	return out
}

// printEnvelope writes one message in the chosen format.
func printEnvelope(w io.Writer, m bus.Message, pretty, asJSON bool) error {
	validated := m.Signer != ""
	if !pretty && !asJSON {
		mark := ""
		if validated && !m.Env.Bound() {
			mark = "(unbound) "
		}
		_, err := fmt.Fprintf(w, "%s %s %s %s%s\n",
			time.Unix(m.Env.Timestamp, 0).UTC().Format(time.RFC3339), m.Env.Topic, m.Env.MsgID, mark, summary(m.Env))
		return err
	}
	body, err := m.Env.Marshal()
	if err != nil {
		return err
	}
	if validated {
		// "validation" sorts after "username", the last member of every
		// envelope body: the output stays canonical.
		v, err := bus.Canonical(map[string]any{"bound": m.Env.Bound(), "signer": m.Signer})
		if err != nil {
			return err
		}
		body = append(append(append(body[:len(body)-1], `,"validation":`...), v...), '}')
	}
	if pretty {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "# trust: %s\n", trustLine(m.Env.Msg))
		if err := json.Indent(&buf, body, "", "  "); err != nil {
			return err
		}
		body = buf.Bytes()
	}
	_, err = w.Write(append(body, '\n'))
	return err
}

// summary is a short one-line description of an envelope's msg: the log
// text, else the source mail's subject, else a title, else its keys
// (without the mailgw binding).
func summary(env *bus.Envelope) string {
	s := ""
	if v, ok := env.Msg["log"].(string); ok {
		s = v
	} else if mail, ok := env.Msg["mail"].(map[string]any); ok && mail["subject"] != nil {
		s = fmt.Sprint(mail["subject"])
	} else if v, ok := env.Msg["title"].(string); ok {
		s = v
	} else {
		keys := make([]string, 0, len(env.Msg))
		for k := range env.Msg {
			if k != "mailgw" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		s = "{" + strings.Join(keys, ",") + "}"
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

// loggerTo is newLogger writing to w instead of os.Stderr.
func loggerTo(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
