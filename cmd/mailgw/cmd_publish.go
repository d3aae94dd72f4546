package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/debian/mailgw/bus"
)

const publishLong = `Publish messages on the bus, as fedmsg-logger does. The topic is
TOPIC_PREFIX.ENVIRONMENT.MODNAME.TOPIC (default ...logger.log).

--message TEXT publishes one message {"log": TEXT}; with --json-input, TEXT
is the msg itself (a JSON object). --json-input without --message: all of
stdin is one JSON object. With neither, every stdin line is one message
{"log": LINE}.

The PUB socket binds --endpoint (repeatable; default endpoints[name] from
the config), then waits --settle (fedmsg's post_init_sleep) so subscribers
can connect, or, with --subscribers N, until N subscribers have subscribed
(at most --wait). Envelopes are signed with gpg_signing_key unless
--unsigned is given. Close waits up to 1s for delivery.

Exit status: 0 published; 64 usage error; 65 bad JSON input; 70 publishing
failed; 75 could not bind; 78 bad config or key.`

// publishOptions are publish's flags.
type publishOptions struct {
	endpoints               []string
	topic, modname, message string
	jsonInput, unsigned     bool
	settle, wait            time.Duration
	subscribers             int
	msgSet                  bool // --message was given (even empty)
}

// newPublishCmd is "mailgw publish" (fedmsg-logger).
func newPublishCmd(g *globals) *cobra.Command {
	var o publishOptions
	c := &cobra.Command{
		Use:   "publish",
		Short: "publish a message from the command line or stdin (fedmsg-logger)",
		Long:  publishLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.msgSet = c.Flags().Changed("message")
			return exitWith(cmdPublish(ctx, g.config, o, c.InOrStdin(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.endpoints, "endpoint", nil, "endpoint `EP` to bind (repeatable; default: endpoints[name] from the config)")
	f.StringVar(&o.topic, "topic", "log", "the topic's last part, after the modname")
	f.StringVar(&o.modname, "modname", "logger", "module `NAME` in the topic")
	f.StringVar(&o.message, "message", "", "publish one message {\"log\": `TEXT`} (with --json-input: TEXT is the msg)")
	f.BoolVar(&o.jsonInput, "json-input", false, "the input is one JSON object, the msg itself")
	f.DurationVar(&o.settle, "settle", 500*time.Millisecond, "wait this long after binding before publishing")
	f.IntVar(&o.subscribers, "subscribers", 0, "wait for `N` subscribers instead of --settle")
	f.DurationVar(&o.wait, "wait", 10*time.Second, "longest wait for --subscribers")
	f.BoolVar(&o.unsigned, "unsigned", false, "publish unsigned envelopes")
	return c
}

// cmdPublish publishes the messages that o and stdin give.
func cmdPublish(ctx context.Context, cfgPath string, o publishOptions, stdin io.Reader, stderr io.Writer) int {
	endpoints, msgSet := o.endpoints, o.msgSet
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw publish: %v\n", err)
		return exitConfig
	}
	log := loggerTo(cfg, stderr)
	slog.SetDefault(log)
	var signer bus.Signer
	if !o.unsigned {
		if signer, err = loadSigner(cfg, false); err != nil {
			fmt.Fprintf(stderr, "mailgw publish: %v (or give --unsigned)\n", err)
			return exitConfig
		}
	}
	if len(endpoints) == 0 {
		endpoints = cfg.Endpoints[cfg.Name]
	}
	if len(endpoints) == 0 {
		fmt.Fprintf(stderr, "mailgw publish: no endpoint: give --endpoint or set endpoints.%s\n", cfg.Name)
		return exitConfig
	}

	// Read a single message before binding, so bad JSON fails early.
	var one map[string]any
	switch {
	case msgSet && o.jsonInput:
		one, err = decodeObject(strings.NewReader(o.message))
	case msgSet:
		one = map[string]any{"log": o.message}
	case o.jsonInput:
		one, err = decodeObject(stdin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgw publish: JSON input: %v\n", err)
		return exitDataErr
	}

	pub, err := bus.NewZMQPublisher(ctx, endpoints, cfg.HighWaterMark)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw publish: %v\n", err)
		return exitTempFail
	}
	defer pub.Close()
	log.Debug("publish: bound", "endpoints", pub.Addrs())
	if o.subscribers > 0 {
		wctx, cancel := context.WithTimeout(ctx, o.wait)
		err = pub.WaitSubscribers(wctx, o.subscribers)
		cancel()
		if err != nil {
			log.Warn("publish: publishing anyway", "err", err)
		}
	} else {
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
		}
	}

	fullTopic := bus.Topic(cfg.TopicPrefix, cfg.Environment, o.modname+"."+o.topic)
	send := func(msg map[string]any) error {
		now := time.Now()
		env := bus.NewEnvelope(fullTopic, msg, bus.MsgID(now.Year(), uuid.NewString()), now.Unix(), cfg.Username)
		if signer != nil {
			if err := bus.Sign(env, signer); err != nil {
				return err
			}
		}
		if err := pub.Publish(ctx, env); err != nil {
			return err
		}
		log.Debug("publish: sent", "topic", env.Topic, "msg_id", env.MsgID, "i", env.I)
		return nil
	}
	if one != nil {
		err = send(one)
	} else {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for err == nil && sc.Scan() {
			err = send(map[string]any{"log": strings.TrimSpace(sc.Text())})
		}
		if err == nil {
			err = sc.Err()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgw publish: %v\n", err)
		var ce *bus.CanonicalError
		if errors.As(err, &ce) {
			return exitDataErr
		}
		return exitSoftware
	}
	return exitOK
}

// decodeObject reads one JSON object, keeping numbers exact; anything
// after it is an error.
func decodeObject(r io.Reader) (map[string]any, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxEnvelopeBytes))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want a JSON object")
	}
	return m, nil
}
