package amqpout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
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

// corpusJournal journals the signed events of every mail of the golden
// corpus and returns the journal, its path and the public key file.
func corpusJournal(t testing.TB) (*journal.Journal, string) {
	t.Helper()
	dir := t.TempDir()
	sec, pub, _, err := bus.GenerateKey("mailgw amqp test", "amqp@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	secFile, pubFile := filepath.Join(dir, "sec.asc"), filepath.Join(dir, "pub.asc")
	os.WriteFile(secFile, sec, 0o600)
	os.WriteFile(pubFile, pub, 0o644)
	signer, err := bus.LoadSigner(secFile, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Username = "amqp-test"
	d := dak.New(dak.Options{Compat: true, MaxBody: cfg.MaxBodyBytes})
	b := debbugs.New(debbugs.Options{Compat: true, MaxBody: cfg.MaxBodyBytes})
	cls := parsers.NewClassifier(pts.New(d, b), d, b)
	emls, _ := filepath.Glob("../../testdata/mails/*.eml")
	sort.Strings(emls)
	if len(emls) == 0 {
		t.Fatal("no corpus")
	}
	j, err := journal.Open(filepath.Join(dir, "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	now := time.Unix(1790000000, 0)
	var envs []*bus.Envelope
	for i, f := range emls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			continue
		}
		evs, _ := cls.Classify(m)
		for _, env := range pipeline.Build(cfg, m, evs, now.Add(time.Duration(i)*time.Second), false, nil) {
			if err := bus.Sign(env, signer); err != nil {
				t.Fatal(err)
			}
			envs = append(envs, env)
		}
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	return j, pubFile
}

// entries returns every journaled envelope.
func entries(t testing.TB, j *journal.Journal) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	for seq := int64(0); ; {
		es, err := j.After(seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		out = append(out, es...)
		seq = es[len(es)-1].SeqID
	}
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
