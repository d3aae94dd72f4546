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
	"unicode"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/spf13/cobra"
)

const tailLong = `Subscribe to the bus and print what arrives, like fedmsg-tail. Endpoints
are every endpoint of every name in the config, or --endpoint (repeatable).
--topic PREFIX (repeatable) keeps topics that start with PREFIX (the
subscription itself filters on them). --include REGEX and --exclude REGEX
(each repeatable; Go regular expressions, matched anywhere in the topic)
keep the topics that match some --include and no --exclude. --package NAME
(repeatable) keeps the events whose msg.mailgw.packages names one of them
(a source package: docs/topics.md, "Meaning").

Messages are validated (signature, envelope binding, routing_policy) when
keyrings are configured or given with --keyring; invalid ones are dropped
and logged on stderr. Without either, and without gpg_signing_key, the
public half of serve's development key is used when serve has made one
(STATE_DIR/keys/dev-signing.pub.asc; docs/keys.md) and no --endpoint is
given. --no-validate prints
everything well-formed. A validated envelope without msg.mailgw (fedmsg's
own: only msg is signed, not its topic, msg_id and timestamp) is "unbound";
mailgw's own topics and require_binding must be bound.

Output: one line per message: time, topic, msg_id, summary (the event's
msg.mailgw.summary; for another publisher's message, its log text or
subject), with "(unbound)" before the summary of an unbound one. --terse:
the summary alone. --pretty: a "# trust: ..."
line saying what msg.mail.auth says, then the envelope as indented JSON;
--json: one canonical envelope per line on stdout and nothing else there
(logs go to stderr). Validated envelopes get a member
"validation": {"bound": true|false, "signer": FINGERPRINT} in both.
--exec CMD runs CMD with /bin/sh once per message, in order, each after
the previous one ended: the message as --json prints it on its standard
input, its topic, msg_id and seq_id (0 when it has none) in MAILGW_TOPIC,
MAILGW_MSG_ID and MAILGW_SEQ_ID; its output is tail's, and tail prints
nothing else on stdout. A CMD that fails, cannot start, or runs longer than
--exec-timeout (its process group is then killed) is logged on stderr and
the next message goes on. --count N exits after N messages. --trusted-only keeps the messages whose
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
	include, exclude, packages  []string
	noValidate, pretty, json    bool
	terse, trustedOnly          bool
	exec                        string
	execTimeout                 time.Duration
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
	f.StringArrayVar(&o.include, "include", nil, "keep topics that match `REGEX` (repeatable: any of them)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "drop topics that match `REGEX` (repeatable)")
	f.StringArrayVar(&o.packages, "package", nil, "keep events about source package `NAME` (msg.mailgw.packages; repeatable)")
	f.BoolVar(&o.terse, "terse", false, "print each message's summary line alone")
	f.StringVar(&o.exec, "exec", "", "run `CMD` (with /bin/sh) once per message, the envelope on its stdin")
	f.DurationVar(&o.execTimeout, "exec-timeout", 5*time.Minute, "kill an --exec command that runs longer than `DURATION` (0: never)")
	o.gap = addGapFlags(f)
	c.MarkFlagsMutuallyExclusive("pretty", "json", "terse", "exec")
	return c
}

// tailFilter is the step between receiving and printing: it gets every
// received message and returns the messages to print, in order. It
// passes each one through, or fills gaps (fetching missed seq_ids from
// the replay endpoint, dropping duplicates): see tail_gapfill.go.
type tailFilter func(ctx context.Context, m bus.Message) []bus.Message

// cmdTail subscribes and prints until ctx ends or o.count messages.
func cmdTail(ctx context.Context, cfgPath string, o tailOptions, stdout, stderr io.Writer) int {
	endpoints, topics, gap := o.endpoints, o.topics, o.gap
	sel, err := newTailSelect(o)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitUsage
	}
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
	verify, err := messageVerifier(cfg, o.keyrings, len(o.endpoints) == 0, o.noValidate, log, "tail")
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitConfig
	}
	opts := bus.SubOptions{Logger: log, Verify: verify}
	if o.trustedOnly && verify == nil {
		log.Warn("tail: --trusted-only without validation: anyone who can publish can claim trusted = true")
	}
	sub, err := bus.Subscribe(ctx, endpoints, topics, opts)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
		return exitConfig
	}
	defer sub.Close()
	log.Debug("tail: subscribed", "endpoints", endpoints, "topics", topics)

	out := bufio.NewWriter(stdout)
	var run *tailExec
	if o.exec != "" {
		run = &tailExec{command: o.exec, timeout: o.execTimeout, stdout: stdout, stderr: stderr, log: log}
	}
	filter, pending, err := gap.setup(ctx, cfg, endpoints, topics, verify, log)
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
		if !sel.keep(pending[0]) {
			pending = pending[1:]
			continue
		}
		if run != nil {
			body, err := jsonLine(pending[0])
			if err != nil {
				fmt.Fprintf(stderr, "mailgw tail: %v\n", err)
				return exitSoftware
			}
			run.run(ctx, pending[0], body)
		} else if err := printEnvelope(out, pending[0], o.pretty, o.json, o.terse); err != nil {
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
func printEnvelope(w io.Writer, m bus.Message, pretty, asJSON, terse bool) error {
	if terse {
		_, err := fmt.Fprintln(w, summary(m.Env))
		return err
	}
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
	body, err := jsonLine(m)
	if err != nil {
		return err
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

// jsonLine is the message as --json prints it: the canonical envelope,
// with "validation" when it was validated.
func jsonLine(m bus.Message) ([]byte, error) {
	body, err := m.Env.Marshal()
	if err != nil || m.Signer == "" {
		return body, err
	}
	// "validation" sorts after "username", the last member of every
	// envelope body: the output stays canonical.
	v, err := bus.Canonical(map[string]any{"bound": m.Env.Bound(), "signer": m.Signer})
	if err != nil {
		return nil, err
	}
	return append(append(append(body[:len(body)-1], `,"validation":`...), v...), '}'), nil
}

// summary is a one-line description of an envelope's msg: its
// msg.mailgw.summary, else the log text, else the source mail's subject,
// else a title, else its keys (without the mailgw binding); control
// characters are dropped (a terminal shows it), white space runs become
// one space, and it is cut at 200 characters.
func summary(env *bus.Envelope) string {
	s := eventSummary(env)
	mail, _ := env.Msg["mail"].(map[string]any)
	switch {
	case s != "":
	case env.Msg["log"] != nil:
		s = fmt.Sprint(env.Msg["log"])
	case mail["subject"] != nil:
		s = fmt.Sprint(mail["subject"])
	case env.Msg["title"] != nil:
		s = fmt.Sprint(env.Msg["title"])
	default:
		keys := make([]string, 0, len(env.Msg))
		for k := range env.Msg {
			if k != "mailgw" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		s = "{" + strings.Join(keys, ",") + "}"
	}
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
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
