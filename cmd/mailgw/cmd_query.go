package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/spf13/cobra"
)

const queryLong = `Ask a replay endpoint (docs/replay.md) for envelopes from its journal and
print them: by msg_id (--msg-id, repeatable), by seq_id (--seq N or --seq
LO-HI, inclusive, repeatable) or by time (--since TIME, --until TIME; TIME
is RFC 3339, a date YYYY-MM-DD in UTC, or Unix seconds; --until defaults to
now). Several selectors are OR-ed, as fedmsg's replay keys are; the
envelopes come in seq_id order. The endpoints are --replay-endpoint
(repeatable) or every replay endpoint of the config, asked in turn.

Envelopes are validated like tail's (signature, binding, routing_policy,
with the same keyrings; --no-validate prints everything well-formed);
invalid ones are logged on stderr and not printed. Output as tail's: one
line per envelope (time, topic, msg_id, summary), --terse the summary
alone, --pretty indented JSON, --json one canonical envelope per line on
stdout and nothing else there.

Exit status: 0 when every match was printed; 1 when nothing matched, the
endpoint refused the query (too many matches: ask for less) or some
envelope was invalid; 64 usage error; 70 stdout could not be written; 75 a
replay endpoint did not answer; 78 the config or a keyring is unusable.`

// queryOptions are query's flags.
type queryOptions struct {
	endpoints, keyrings, msgIDs, seqs []string
	since, until                      string
	noValidate, pretty, json, terse   bool
	timeout                           time.Duration
}

// newQueryCmd is "mailgw query": envelopes from a replay endpoint.
func newQueryCmd(g *globals) *cobra.Command {
	var o queryOptions
	c := &cobra.Command{
		Use:   "query",
		Short: "ask a replay endpoint for envelopes by msg_id, seq_id or time",
		Long:  queryLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return exitWith(cmdQuery(ctx, g.config, o, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.endpoints, "replay-endpoint", nil, "replay endpoint `EP` to ask (repeatable; default: every replay endpoint in the config)")
	f.StringArrayVar(&o.msgIDs, "msg-id", nil, "the envelope with msg_id `ID` (repeatable)")
	f.StringArrayVar(&o.seqs, "seq", nil, "seq_id `N` or the range LO-HI, inclusive (repeatable)")
	f.StringVar(&o.since, "since", "", "envelopes built at or after `TIME` (RFC 3339, YYYY-MM-DD or Unix seconds)")
	f.StringVar(&o.until, "until", "", "with --since: built at or before `TIME` (default now)")
	f.StringArrayVar(&o.keyrings, "keyring", nil, "public key `FILE` to validate with (repeatable; default: keyrings from the config)")
	f.BoolVar(&o.noValidate, "no-validate", false, "do not check signatures")
	f.BoolVar(&o.pretty, "pretty", false, "print each envelope as indented JSON")
	f.BoolVar(&o.json, "json", false, "print one canonical envelope per line")
	f.BoolVar(&o.terse, "terse", false, "print each envelope's summary line alone")
	f.DurationVar(&o.timeout, "timeout", replayd.DefaultTimeout, "give up on an endpoint after `DURATION`")
	c.MarkFlagsMutuallyExclusive("pretty", "json", "terse")
	return c
}

// cmdQuery asks the endpoints and prints what they answer.
func cmdQuery(ctx context.Context, cfgPath string, o queryOptions, stdout, stderr io.Writer) int {
	req, err := o.request(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "mailgw query: %v\n", err)
		return exitUsage
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw query: %v\n", err)
		return exitConfig
	}
	log := loggerTo(cfg, stderr)
	endpoints := o.endpoints
	if len(endpoints) == 0 {
		endpoints = replayEndpoints(cfg)
	}
	if len(endpoints) == 0 {
		fmt.Fprintln(stderr, "mailgw query: no replay endpoint: give --replay-endpoint or set replay_endpoints")
		return exitUsage
	}
	verify, err := messageVerifier(cfg, o.keyrings, len(o.endpoints) == 0, o.noValidate, log, "query")
	if err != nil {
		fmt.Fprintf(stderr, "mailgw query: %v\n", err)
		return exitConfig
	}
	out := bufio.NewWriter(stdout)
	code, found := exitOK, false
	for _, ep := range endpoints {
		frames, err := replayd.QueryRaw(ctx, ep, req, o.timeout)
		switch {
		case errors.Is(err, replayd.ErrNoMatch):
			continue
		case errors.As(err, new(*replayd.ReplyError)):
			fmt.Fprintf(stderr, "mailgw query: %s: %v\n", ep, err)
			code = max(code, exitFailure)
			continue
		case err != nil:
			fmt.Fprintf(stderr, "mailgw query: %s: %v\n", ep, err)
			code = max(code, exitTempFail)
			continue
		}
		for i, f := range frames {
			env, err := bus.ParseEnvelope(f)
			if err != nil {
				log.Warn("query: dropped a reply frame that is no envelope", "endpoint", ep, "frame", i, "err", err)
				code = max(code, exitFailure)
				continue
			}
			m := bus.Message{Topic: env.Topic, Env: env}
			if verify != nil {
				if m.Signer, err = verify(env); err != nil {
					log.Warn("query: dropped invalid envelope", "endpoint", ep, "seq_id", env.SeqID, "msg_id", env.MsgID, "err", err)
					code = max(code, exitFailure)
					continue
				}
			}
			found = true
			if err := printEnvelope(out, m, o.pretty, o.json, o.terse); err != nil {
				fmt.Fprintf(stderr, "mailgw query: %v\n", err)
				return exitSoftware
			}
		}
	}
	if err := out.Flush(); err != nil {
		return exitSoftware
	}
	if !found && code == exitOK {
		fmt.Fprintln(stderr, "mailgw query: no match")
		code = exitFailure
	}
	return code
}

// request turns the selectors into one replay request.
func (o queryOptions) request(now time.Time) (replayd.Request, error) {
	var req replayd.Request
	req.MsgIDs = o.msgIDs
	for _, s := range o.seqs {
		lo, hi, isRange := strings.Cut(s, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseInt(hi, 10, 64)
		}
		if err != nil || a < 1 || b < a {
			return req, fmt.Errorf("--seq %q: want N or LO-HI with 1 <= LO <= HI", s)
		}
		if isRange && req.SeqIDRange == nil {
			req.SeqIDRange = &[2]int64{a, b}
		} else if isRange {
			return req, errors.New("--seq: one range at most (fedmsg's seq_id_range)")
		} else {
			req.SeqIDs = append(req.SeqIDs, a)
		}
	}
	switch {
	case o.since != "":
		t0, err := parseWhen(o.since)
		if err != nil {
			return req, fmt.Errorf("--since: %v", err)
		}
		t1 := now.Unix()
		if o.until != "" {
			if t1, err = parseWhen(o.until); err != nil {
				return req, fmt.Errorf("--until: %v", err)
			}
		}
		if t1 < t0 {
			return req, errors.New("--until is before --since")
		}
		req.Time = &[2]int64{t0, t1}
	case o.until != "":
		return req, errors.New("--until needs --since")
	}
	if req.MsgIDs == nil && req.SeqIDs == nil && req.SeqIDRange == nil && req.Time == nil {
		return req, errors.New("say what to ask for: --msg-id, --seq or --since")
	}
	return req, nil
}

// parseWhen reads RFC 3339, YYYY-MM-DD (UTC) or Unix seconds.
func parseWhen(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("%q is not RFC 3339, YYYY-MM-DD or Unix seconds", s)
}

// replayEndpoints lists the config's replay endpoints, sorted by name.
func replayEndpoints(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.ReplayEndpoints))
	for name := range cfg.ReplayEndpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, cfg.ReplayEndpoints[n])
	}
	return out
}
