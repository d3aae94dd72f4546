//go:build e2e

package amqpout

// The tests against a real broker: a private RabbitMQ from Debian's
// rabbitmq-server (rabbittest), behind the e2e build tag.

import (
	"context"
	"fmt"
	"os"
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

// The broker is shared by the tests of this binary (Erlang starts in
// seconds); each test publishes to an exchange of its own.
var (
	brokerOnce sync.Once
	broker     *rabbittest.Broker
	brokerErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if broker != nil {
		broker.Stop()
	}
	os.Exit(code)
}

// sharedBroker starts the broker on first use.
func sharedBroker(t testing.TB) *rabbittest.Broker {
	t.Helper()
	brokerOnce.Do(func() {
		start := time.Now()
		broker, brokerErr = rabbittest.Start(rabbittest.Options{Users: []rabbittest.User{
			{Name: "publisher", Password: "pub-secret", Configure: "^$", Write: "^amq\\.topic$", Read: "^$"},
		}})
		if brokerErr == nil {
			fmt.Fprintf(os.Stderr, "amqpout: broker up in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if brokerErr != nil {
		t.Fatal(brokerErr)
	}
	return broker
}

// consumer reads one queue, from its first drain on.
type consumer struct {
	t    testing.TB
	ch   *amqp.Channel
	name string
	ds   <-chan amqp.Delivery
}

// queue declares a topic exchange and a durable queue bound to it with
// binding (a consumer's declarations, docs/amqp.md), as the admin; args
// are the queue's arguments.
func queue(t testing.TB, b *rabbittest.Broker, exchange, name, binding string, args amqp.Table) *consumer {
	t.Helper()
	c, err := amqp.Dial(b.URL(rabbittest.Admin, rabbittest.AdminPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if exchange != "amq.topic" {
		if err := ch.ExchangeDeclare(exchange, "topic", true, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(name, binding, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	return &consumer{t: t, ch: ch, name: name}
}

// drain reads until want messages arrived or nothing came for quiet,
// acknowledging each.
func (c *consumer) drain(want int, quiet time.Duration) []amqp.Delivery {
	c.t.Helper()
	if c.ds == nil {
		var err error
		if c.ds, err = c.ch.Consume(c.name, "", false, false, false, false, nil); err != nil {
			c.t.Fatal(err)
		}
	}
	var got []amqp.Delivery
	for len(got) < want {
		select {
		case d, ok := <-c.ds:
			if !ok {
				c.t.Fatal("consumer channel closed")
			}
			got = append(got, d)
			d.Ack(false)
		case <-time.After(quiet):
			return got
		}
	}
	return got
}

// runOutlet starts an outlet on j and stops it at the end of the test.
func runOutlet(t testing.TB, j Journal, c config.AMQP) (*Outlet, func()) {
	t.Helper()
	return runOutletWith(t, Options{Config: c, Journal: j})
}

// runOutletWith is runOutlet with all the options; the outlet starts at
// the journal's beginning unless o says otherwise.
func runOutletWith(t testing.TB, o Options) (*Outlet, func()) {
	t.Helper()
	o.Config.Enabled = true
	if o.Config.Start == "" {
		o.Config.Start = "beginning"
	}
	out, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { out.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return out, stop
}

// waitStatus waits until cond holds for the outlet's status.
func waitStatus(t testing.TB, out *Outlet, timeout time.Duration, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := out.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; status %+v", timeout, what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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

func (l limitJournal) ReadAfter(seq int64, limit int, b *journal.Batch) error {
	err := l.Journal.ReadAfter(seq, limit, b)
	for len(b.Entries) > 0 && b.Entries[len(b.Entries)-1].SeqID > l.last {
		b.Entries = b.Entries[:len(b.Entries)-1]
	}
	return err
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

// BenchmarkOutlet publishes the corpus's events, journaled again and
// again under new msg_ids, to the test broker with confirms: messages/s
// and the outlet's CPU per message (run with -cpuprofile to see where).
func BenchmarkOutlet(b *testing.B) {
	br := sharedBroker(b)
	j, _ := corpusJournal(b)
	es := entries(b, j)
	for len(es) < b.N {
		var envs []*bus.Envelope
		for _, e := range es[:min(len(es), b.N-len(es))] {
			env, err := bus.ParseEnvelope(e.Body)
			if err != nil {
				b.Fatal(err)
			}
			env.MsgID = fmt.Sprintf("%s-%d", env.MsgID, len(es))
			env.SeqID = 0
			envs = append(envs, env)
		}
		if _, err := j.Add(envs); err != nil {
			b.Fatal(err)
		}
		es = entries(b, j)
	}
	queue(b, br, "amq.topic", "bench-outlet", "org.debian.#", nil)
	last := es[b.N-1].SeqID
	b.ResetTimer()
	cpu0 := cpuTime()
	out, stop := runOutlet(b, limitJournal{j, last}, config.AMQP{URL: br.URL(rabbittest.Admin, rabbittest.AdminPassword), Exchange: "amq.topic"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := out.Wait(ctx, last); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
