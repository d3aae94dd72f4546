//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
	"github.com/debian/mailgw/internal/journal"
)

// One private RabbitMQ for the AMQP tests of this binary (Erlang takes
// seconds to start); each test has its own queue, most their own
// exchange.
var (
	brokerOnce sync.Once
	broker     *rabbittest.Broker
	brokerErr  error
)

// Broker users besides rabbittest's admin and client-certificate user:
// "mailgw" has exactly the permissions docs/amqp.md gives the gateway's
// user; "e2e-pw" is the user whose password the broker and the config
// first disagree on.
const (
	gwUser, gwPassword = "mailgw", "mailgw-secret"
	pwUser             = "e2e-pw"
)

func sharedBroker(t testing.TB) *rabbittest.Broker {
	t.Helper()
	need(t, python)
	brokerOnce.Do(func() {
		start := time.Now()
		broker, brokerErr = rabbittest.Start(rabbittest.Options{Users: []rabbittest.User{
			{Name: gwUser, Password: gwPassword, Configure: "^$", Write: `^amq\.topic$`, Read: "^$"},
			{Name: pwUser, Password: "broker-side", Configure: "^$", Write: "^e2e-.*$", Read: "^$"},
		}})
		if brokerErr == nil {
			fmt.Fprintf(os.Stderr, "e2e: RabbitMQ up in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if brokerErr != nil {
		t.Fatal(brokerErr)
	}
	return broker
}

// stopBroker stops the shared broker, if a test started it.
func stopBroker() {
	if broker != nil {
		broker.Stop()
	}
}

// amqpConf is an [amqp] table for newDaemon's extra lines.
func amqpConf(lines ...string) string {
	return "\n[amqp]\nenabled = true\n" + strings.Join(lines, "\n")
}

// amqpMsg is one message as test/python/amqp_queue.py (python3-pika)
// received it.
type amqpMsg struct {
	RoutingKey  string `json:"routing_key"`
	Exchange    string `json:"exchange"`
	Redelivered bool   `json:"redelivered"`
	Body        []byte `json:"body"`
	Properties  struct {
		ContentType     string `json:"content_type"`
		ContentEncoding string `json:"content_encoding"`
		DeliveryMode    int    `json:"delivery_mode"`
		Priority        *int   `json:"priority"`
		MessageID       string `json:"message_id"`
		AppID           string `json:"app_id"`
	} `json:"properties"`
	// Headers: name → [Python type name, value].
	Headers  map[string][2]any `json:"headers"`
	FMErrors []string          `json:"fm_errors"`
}

// pika runs test/python/amqp_queue.py as the broker's admin.
func pika(t testing.TB, b *rabbittest.Broker, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join(repoRoot, "test", "python", "amqp_queue.py"),
		b.URL(rabbittest.Admin, rabbittest.AdminPassword)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("amqp_queue.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// declareQueue declares a durable queue bound to org.debian.# on exchange.
func declareQueue(t testing.TB, b *rabbittest.Broker, exchange, queue string) {
	t.Helper()
	pika(t, b, "declare", exchange, queue, "org.debian.#")
}

// consumeQueue reads up to count messages from queue, stopping after
// idle without one.
func consumeQueue(t testing.TB, b *rabbittest.Broker, queue string, count int, idle time.Duration) []amqpMsg {
	t.Helper()
	out := pika(t, b, "consume", queue, fmt.Sprint(count), fmt.Sprint(idle.Seconds()))
	var msgs []amqpMsg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m amqpMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("amqp_queue.py line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// queueIDs reads up to count messages from queue, stopping after idle
// without one, and returns their message_ids.
func queueIDs(t testing.TB, b *rabbittest.Broker, queue string, count int, idle time.Duration) []string {
	t.Helper()
	out := strings.TrimSpace(string(pika(t, b, "ids", queue, fmt.Sprint(count), fmt.Sprint(idle.Seconds()))))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// amqpCaughtUp waits until the outlet confirmed everything journaled.
func (d *daemon) amqpCaughtUp(t testing.TB, timeout time.Duration) int64 {
	t.Helper()
	var last float64
	waitFor(t, timeout, "the AMQP outlet to confirm every journaled event", func() bool {
		backlog, ok1 := d.metric("mailgw_amqp_backlog")
		mark, ok2 := d.metric("mailgw_amqp_confirmed_seq_id")
		_, lastSeq, _ := d.journal()
		last = mark
		return ok1 && ok2 && backlog == 0 && int64(mark) == lastSeq
	})
	return int64(last)
}

// healthz returns /healthz's status and body.
func (d *daemon) healthz(t testing.TB) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", d.admin))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// journalEntries returns the journal's envelopes by msg_id (serve
// stopped or running: the journal takes several processes).
func (d *daemon) journalEntries(t testing.TB) map[string]*bus.Envelope {
	t.Helper()
	j, err := journal.Open(filepath.Join(d.state, "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	out := map[string]*bus.Envelope{}
	for seq := int64(0); ; {
		es, err := j.After(seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			env, err := bus.ParseEnvelope(e.Body)
			if err != nil {
				t.Fatal(err)
			}
			out[env.MsgID] = env
		}
		seq = es[len(es)-1].SeqID
	}
}

// proxy forwards connections on 127.0.0.1:port to target until the test
// ends: a broker that appears on a port where nothing listened.
func proxy(t testing.TB, port, target int) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", target))
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}
