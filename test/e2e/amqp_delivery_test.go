//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
)

// TestAMQPCorpus: serve with [amqp] on, as the least-privileged user of
// docs/amqp.md, gets every mail of the corpus over SMTP; python3-pika
// reads a durable queue bound to org.debian.# on amq.topic: every
// journaled event arrives once, with fedora-messaging's properties and
// headers (types as pika decodes them, the header schema of
// fedora-messaging's base Message class checked with python3-jsonschema),
// its body byte for byte the canonical msg, and mailgw_signature
// verifying over the body with gpg.
func TestAMQPCorpus(t *testing.T) {
	b := sharedBroker(t)
	gpg := need(t, "gpg")
	declareQueue(t, b, "amq.topic", "e2e-corpus")
	d := newDaemon(t, amqpConf(fmt.Sprintf("url = %q", b.URL(gwUser, gwPassword))))
	d.start()
	files, _ := filepath.Glob(corpus("*.eml"))
	sort.Strings(files)
	sendMany(t, d, len(files), 4, func(i int) []byte {
		raw, err := os.ReadFile(files[i])
		if err != nil {
			t.Error(err)
		}
		return raw
	})
	waitFor(t, 60*time.Second, "the spool to empty", d.spoolEmpty)
	d.amqpCaughtUp(t, 60*time.Second)
	d.stop()
	envs := d.journalEntries(t)
	if want := parseIDs(t, files...); len(envs) < len(want) || len(want) < 150 {
		t.Fatalf("journal has %d events, the corpus parses to %d", len(envs), len(want))
	}
	msgs := consumeQueue(t, b, "e2e-corpus", len(envs)+100, 3*time.Second)
	if len(msgs) != len(envs) {
		t.Fatalf("%d messages for %d journaled events", len(msgs), len(envs))
	}

	gnupg := t.TempDir()
	if out, err := exec.Command(gpg, "--homedir", gnupg, "--batch", "--import",
		filepath.Join(d.state, "keys", "dev-signing.pub.asc")).CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	sentAt := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)
	seen := map[string]bool{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, m := range msgs {
		p, h := m.Properties, m.Headers
		env := envs[p.MessageID]
		if env == nil || seen[p.MessageID] {
			t.Fatalf("message_id %q: not journaled, or seen twice", p.MessageID)
		}
		seen[p.MessageID] = true
		canon, _ := bus.Canonical(env.Msg)
		if m.RoutingKey != env.Topic || m.Exchange != "amq.topic" || string(m.Body) != string(canon) ||
			p.ContentType != "application/json" || p.ContentEncoding != "utf-8" || p.DeliveryMode != 2 ||
			p.Priority != nil || len(m.FMErrors) > 0 {
			t.Fatalf("%s: routing key %s, body %.200s, properties %+v, fedora-messaging: %v", p.MessageID, m.RoutingKey, m.Body, p, m.FMErrors)
		}
		typed := map[string]string{
			"fedora_messaging_schema": "str", "fedora_messaging_schema_package": "str", "fedora_messaging_severity": "int",
			"sent-at": "str", "priority": "int", "mailgw_crypto": "str", "mailgw_signature": "str", "mailgw_i": "int",
			"mailgw_timestamp": "int", "mailgw_seq_id": "int", "mailgw_username": "str",
		}
		for k, typ := range typed {
			if h[k][0] != typ {
				t.Fatalf("%s: header %s is %v, want a %s", p.MessageID, k, h[k], typ)
			}
		}
		if h["mailgw_signature"][1] != env.Signature || h["mailgw_timestamp"][1] != float64(env.Timestamp) ||
			h["mailgw_i"][1].(float64) < 1 || h["mailgw_seq_id"][1] != float64(env.SeqID) ||
			!sentAt.MatchString(h["sent-at"][1].(string)) {
			t.Fatalf("%s: headers %v do not match the envelope", p.MessageID, h)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, m amqpMsg) {
			defer func() { <-sem; wg.Done() }()
			dir := t.TempDir()
			body, sigFile := filepath.Join(dir, "body"), filepath.Join(dir, "sig")
			sig, _ := base64.StdEncoding.DecodeString(m.Headers["mailgw_signature"][1].(string))
			os.WriteFile(body, m.Body, 0o644)
			os.WriteFile(sigFile, sig, 0o644)
			if out, err := exec.Command(gpg, "--homedir", gnupg, "--batch", "--verify", sigFile, body).CombinedOutput(); err != nil {
				t.Errorf("%s: gpg --verify of the body: %v\n%s", m.Properties.MessageID, err, out)
			}
		}(i, m)
	}
	wg.Wait()
	t.Logf("%d events from %d corpus mails: each once on the queue, signatures verified by gpg", len(msgs), len(files))
}

// TestAMQPBrokerKilled: the broker is killed with SIGKILL in the middle
// of a 5,000-mail SMTP stream and restarted; serve goes on taking mail,
// and in the end every journaled event is on the durable queue, each
// message_id at least once. The duplicates (sent but not confirmed when
// the broker died) are counted.
func TestAMQPBrokerKilled(t *testing.T) {
	const mails = 5000
	b := sharedBroker(t)
	declareQueue(t, b, "e2e-kill", "e2e-kill")
	d := newDaemon(t, amqpConf(fmt.Sprintf("url = %q", b.URL(rabbittest.Admin, rabbittest.AdminPassword)), `exchange = "e2e-kill"`))
	d.start()
	tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
	sent := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sent)
		sendMany(t, d, mails, 8, func(i int) []byte { return tmpl(fmt.Sprintf("kill-%05d@e2e.test", i)) })
	}()
	waitFor(t, 120*time.Second, "1,500 events confirmed", func() bool {
		v, ok := d.metric("mailgw_amqp_confirmed_seq_id")
		return ok && v >= 1500
	})
	killedAt, _ := d.metric("mailgw_amqp_confirmed_seq_id")
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	_, journaledAtKill, _ := d.journal()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	<-sent
	sendTime := time.Since(start)
	waitFor(t, 120*time.Second, "the spool to empty", d.spoolEmpty)
	d.amqpCaughtUp(t, 180*time.Second)
	failures, _ := d.metric("mailgw_amqp_connection_failures_total")
	published, _ := d.metric("mailgw_amqp_published_total")
	ids, last, n := d.journal()
	if n != 2*mails || int(last) != n {
		t.Fatalf("journal: %d events, last seq_id %d; want %d", n, last, 2*mails)
	}
	msgs := queueIDs(t, b, "e2e-kill", 3*n, 3*time.Second)
	got := map[string]int{}
	for _, id := range msgs {
		if ids[id] == 0 {
			t.Fatalf("message_id %q is not journaled", id)
		}
		got[id]++
	}
	dups := 0
	for id := range ids {
		if got[id] == 0 {
			t.Fatalf("event %s never reached the queue", id)
		}
		dups += got[id] - 1
	}
	if failures < 1 {
		t.Errorf("mailgw_amqp_connection_failures_total %v: the broker's death went unnoticed", failures)
	}
	t.Logf("%d mails sent in %v; broker killed with %v events confirmed and %d journaled; "+
		"%d events, %d deliveries, %d duplicates (same message_id), %v messages published by the outlet",
		mails, sendTime.Round(time.Millisecond), killedAt, journaledAtKill, n, len(msgs), dups, published)
}
