package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/debian/mailgw/bus"
)

const publishHelp = `usage: mailgw publish [--config FILE] [--endpoint EP]... [--topic TOPIC]
                      [--modname NAME] [--message TEXT] [--json-input]
                      [--settle DURATION] [--subscribers N] [--unsigned]

Publish messages on the bus, as fedmsg-logger does. The topic is
<topic_prefix>.<environment>.<modname>.<topic> (default ...logger.log).

  --message TEXT  publish one message {"log": TEXT}; with --json-input,
                  TEXT is the msg itself (a JSON object)
  --json-input    without --message: all of stdin is one JSON object
  (neither)       every stdin line is one message {"log": LINE}

The PUB socket binds --endpoint (repeatable; default endpoints[name] from
the config), then waits --settle (default 500ms, fedmsg's post_init_sleep)
so subscribers can connect, or until N subscribers have subscribed with
--subscribers N (at most --wait). Envelopes are signed with gpg_signing_key
unless --unsigned is given. Close waits up to 1s for delivery.

Exit status: 0 published, 64 usage, 65 bad JSON input, 75 could not bind,
78 bad config or key.
`

// cmdPublish runs "mailgw publish" (fedmsg-logger).
func cmdPublish(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runPublish(ctx, args, os.Stdin, os.Stderr)
}

// runPublish is cmdPublish with its input and error output given.
func runPublish(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, publishHelp) }
	cfgPath := fs.String("config", "", "config `FILE`")
	var endpoints listFlag
	fs.Var(&endpoints, "endpoint", "endpoint to bind (repeatable)")
	topic := fs.String("topic", "log", "topic after the modname")
	modname := fs.String("modname", "logger", "module name in the topic")
	message := fs.String("message", "", "the message")
	jsonInput := fs.Bool("json-input", false, "input is a JSON object")
	settle := fs.Duration("settle", 500*time.Millisecond, "wait before publishing")
	subscribers := fs.Int("subscribers", 0, "wait for this many subscribers instead of --settle")
	wait := fs.Duration("wait", 10*time.Second, "longest wait for --subscribers")
	unsigned := fs.Bool("unsigned", false, "publish unsigned envelopes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, publishHelp)
		return exitUsage
	}
	msgSet := false
	fs.Visit(func(f *flag.Flag) { msgSet = msgSet || f.Name == "message" })
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw publish: %v\n", err)
		return exitConfig
	}
	log := loggerTo(cfg, stderr)
	slog.SetDefault(log)
	var signer bus.Signer
	if !*unsigned {
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
	case msgSet && *jsonInput:
		one, err = decodeObject(strings.NewReader(*message))
	case msgSet:
		one = map[string]any{"log": *message}
	case *jsonInput:
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
	if *subscribers > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		err = pub.WaitSubscribers(wctx, *subscribers)
		cancel()
		if err != nil {
			log.Warn("publish: publishing anyway", "err", err)
		}
	} else {
		select {
		case <-time.After(*settle):
		case <-ctx.Done():
		}
	}

	fullTopic := bus.Topic(cfg.TopicPrefix, cfg.Environment, *modname+"."+*topic)
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
