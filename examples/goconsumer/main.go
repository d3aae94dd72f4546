// Command goconsumer is a minimal Go consumer of mailgw's bus: it
// subscribes to bug events, checks each signature against a public key,
// decodes each msg into its typed struct (package events, checked
// against the topic's JSON Schema) and prints one line per event: its
// summary, and for a new bug report its severity.
//
//	go run ./examples/goconsumer -endpoint tcp://127.0.0.1:9940 -key signing.pub.asc
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/events"
)

func main() {
	endpoint := flag.String("endpoint", "tcp://127.0.0.1:9940", "mailgw publisher")
	topic := flag.String("topic", "org.debian.dev.debbugs.bug.", "topic prefix")
	key := flag.String("key", "", "armored public key of the publisher (empty: no check)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var opts bus.SubOptions
	if *key != "" {
		ring, err := bus.LoadKeyring(*key)
		if err != nil {
			log.Fatal(err)
		}
		// mailgw's own topics must carry the msg.mailgw binding, so that
		// their topic, msg_id and timestamp are signed too.
		pol := &bus.Policy{RequireBinding: []string{"org.debian.*.debbugs"}}
		opts.Verify = func(env *bus.Envelope) (string, error) {
			return ring.Verify(env, pol)
		}
	}
	sub, err := bus.Subscribe(ctx, []string{*endpoint}, []string{*topic}, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return // context cancelled
		}
		ev, err := events.FromEnvelope(m.Env)
		if err != nil {
			log.Print(err) // another publisher's topic, or a msg its schema refuses
			continue
		}
		line := ev.Base().Mailgw.Summary
		if r, ok := ev.(*events.BugReport); ok {
			line += " [" + r.Severity + "]"
		}
		fmt.Println(m.Env.SeqID, m.Topic, line)
	}
}
