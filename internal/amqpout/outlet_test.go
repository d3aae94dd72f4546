package amqpout

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
)

// TestOutletDelivers: the corpus, then envelopes journaled while the
// outlet runs, reach a durable queue bound to org.debian.# once each and
// in seq_id order, published by a user with only write permission on
// the exchange; the watermark in the journal follows, and a restarted
// outlet sends nothing again.
func TestOutletDelivers(t *testing.T) {
	b := sharedBroker(t)
	j, _ := corpusJournal(t)
	es := entries(t, j)
	ch := queue(t, b, "amq.topic", "delivers", "org.debian.#", nil)
	cfg := config.AMQP{Enabled: true, URL: b.URL("publisher", "pub-secret"), Exchange: "amq.topic"}
	out, stop := runOutlet(t, j, cfg)
	got := ch.drain(len(es), 30*time.Second)
	if len(got) != len(es) {
		t.Fatalf("%d of %d messages arrived", len(got), len(es))
	}
	for i, d := range got {
		if d.MessageId != es[i].MsgID || d.RoutingKey != es[i].Topic || d.Headers[hdrSeqID] != es[i].SeqID {
			t.Fatalf("message %d: %s %s %v, want %s %s seq_id %d", i, d.MessageId, d.RoutingKey,
				d.Headers[hdrSeqID], es[i].MsgID, es[i].Topic, es[i].SeqID)
		}
	}
	last := es[len(es)-1].SeqID
	waitStatus(t, out, 30*time.Second, "every message confirmed", func(s Status) bool { return s.Mark == last })

	// Journaled while the outlet waits: it wakes up for them.
	var envs []*bus.Envelope
	for i := range 5 {
		envs = append(envs, bus.NewEnvelope("org.debian.dev.dak.package.upload",
			map[string]any{"source": "late"}, fmt.Sprintf("2026-late-%d", i), 1790000000, "u"))
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	late := ch.drain(5, 30*time.Second)
	if len(late) != 5 || late[0].MessageId != "2026-late-0" || late[4].MessageId != "2026-late-4" {
		t.Fatalf("late envelopes: %d arrived", len(late))
	}
	st := waitStatus(t, out, 30*time.Second, "late ones confirmed", func(s Status) bool { return s.Mark == last+5 })
	stop()
	if st.Published != uint64(len(es)+5) || st.Confirmed != st.Published || st.Connects != 1 || st.Failures != 0 {
		t.Errorf("status %+v", st)
	}
	if m, err := j.OutletMark(OutletName); err != nil || m != last+5 {
		t.Fatalf("journal watermark %d, %v; want %d", m, err, last+5)
	}

	// Restarted: nothing new, nothing sent again.
	out2, stop2 := runOutlet(t, j, cfg)
	waitStatus(t, out2, 30*time.Second, "connected", func(s Status) bool { return s.Connected })
	stop2()
	if st := out2.Status(); st.Published != 0 {
		t.Fatalf("restarted outlet published %d", st.Published)
	}
	if extra := ch.drain(1, 500*time.Millisecond); len(extra) != 0 {
		t.Fatalf("%d messages sent again", len(extra))
	}
}

// TestOutletNacked: a queue that refuses messages beyond its length
// (x-overflow reject-publish) makes the broker nack; the outlet stops,
// says why, and sends again from its watermark until everything is in,
// in order; only nacked messages come twice.
func TestOutletNacked(t *testing.T) {
	b := sharedBroker(t)
	j, _ := corpusJournal(t)
	es := entries(t, j)[:40]
	ch := queue(t, b, "t-nacked", "nacked", "org.debian.#", amqp.Table{"x-max-length": int32(10), "x-overflow": "reject-publish"})
	out, _ := runOutlet(t, limitJournal{j, es[len(es)-1].SeqID},
		config.AMQP{Enabled: true, URL: b.URL(rabbittest.Admin, rabbittest.AdminPassword), Exchange: "t-nacked"})
	st := waitStatus(t, out, 30*time.Second, "a nack", func(s Status) bool { return s.Nacked > 0 && !s.Connected })
	if st.Err == nil || !strings.Contains(st.Err.Error(), "nacked") {
		t.Fatalf("status error %v, want the nack", st.Err)
	}
	var got []amqp.Delivery
	seen := map[string]int{}
	deadline := time.Now().Add(90 * time.Second)
	for len(seen) < len(es) && time.Now().Before(deadline) {
		for _, d := range ch.drain(10, 500*time.Millisecond) {
			got = append(got, d)
			seen[d.MessageId]++
		}
	}
	if len(seen) != len(es) {
		t.Fatalf("%d of %d messages arrived", len(seen), len(es))
	}
	next := 0 // each message is es[next] or one sent before it again
	for _, d := range got {
		if next < len(es) && d.MessageId == es[next].MsgID {
			next++
		} else if seen[d.MessageId] < 2 {
			t.Fatalf("%s out of order and not a resend", d.MessageId)
		}
	}
	st = waitStatus(t, out, 30*time.Second, "all confirmed", func(s Status) bool { return s.Mark == es[len(es)-1].SeqID })
	t.Logf("%d messages, %d deliveries, %d nacked, %d connections", len(es), len(got), st.Nacked, st.Connects)
}

// limitJournal shows the outlet only the envelopes up to last.
type limitJournal struct {
	*journal.Journal
	last int64
}

func (l limitJournal) After(seq int64, limit int) ([]journal.Entry, error) {
	es, err := l.Journal.After(seq, limit)
	for len(es) > 0 && es[len(es)-1].SeqID > l.last {
		es = es[:len(es)-1]
	}
	return es, err
}

// TestOutletRefused: a wrong password, a missing exchange, a user
// without write permission, a CA that did not sign the broker's
// certificate: the outlet reports each clearly and keeps retrying; with
// the broker's client certificate login (EXTERNAL) it delivers, and a
// missing exchange declared later is caught up on.
func TestOutletRefused(t *testing.T) {
	b := sharedBroker(t)
	j, _ := corpusJournal(t)
	es := entries(t, j)
	type errCase struct {
		name string
		cfg  config.AMQP
		want string
	}
	for _, c := range []errCase{
		{"password", config.AMQP{URL: b.URL("publisher", "wrong")}, "username or password not allowed\" (check the user and password"},
		{"permission", config.AMQP{URL: b.URL("publisher", "pub-secret"), Exchange: "t-refused"}, "ACCESS_REFUSED"},
		{"ca", config.AMQP{URL: b.TLSURL(), CACert: b.TLS.OtherCA, CertFile: b.TLS.ClientCert, KeyFile: b.TLS.ClientKey},
			"does not verify with amqp.ca_cert"},
		{"absent", config.AMQP{URL: "amqp://guest:guest@127.0.0.1:1/"}, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.cfg.Exchange == "" {
				c.cfg.Exchange = "amq.topic"
			}
			if c.name == "permission" {
				queue(t, b, "t-refused", "refused", "#", nil)
			}
			var mu sync.Mutex
			var states []string
			o2, stop := runOutletWith(t, Options{Config: c.cfg, Journal: j, OnState: func(err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					states = append(states, err.Error())
				}
			}})
			st := waitStatus(t, o2, 30*time.Second, "an error", func(s Status) bool { return s.Err != nil && s.Failures > 0 })
			stop()
			if !strings.Contains(st.Err.Error(), c.want) || strings.Contains(st.Err.Error(), "pub-secret") {
				t.Fatalf("error %q, want it to say %q (and no password)", st.Err, c.want)
			}
			if st.Confirmed != 0 {
				t.Fatalf("confirmed %d", st.Confirmed)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(states) == 0 || !strings.Contains(states[0], c.want) {
				t.Fatalf("OnState got %q, want the error", states)
			}
		})
	}

	t.Run("x509 and a late exchange", func(t *testing.T) {
		cfg := config.AMQP{URL: b.TLSURL(), CACert: b.TLS.CA, CertFile: b.TLS.ClientCert, KeyFile: b.TLS.ClientKey, Exchange: "t-late"}
		out, _ := runOutlet(t, j, cfg)
		st := waitStatus(t, out, 30*time.Second, "exchange missing", func(s Status) bool { return s.Err != nil && s.Failures > 0 })
		if !strings.Contains(st.Err.Error(), "does not exist") {
			t.Fatalf("error %q, want the missing exchange", st.Err)
		}
		ch := queue(t, b, "t-late", "late", "org.debian.#", nil)
		got := ch.drain(len(es), 30*time.Second)
		seen := map[string]bool{}
		for _, d := range got {
			seen[d.MessageId] = true
		}
		if len(seen) != len(es) {
			t.Fatalf("%d of %d arrived over TLS", len(seen), len(es))
		}
	})
}
