//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/amqpout/rabbittest"
)

// TestAMQPBrokerTrouble: a wrong password, a wrong CA, a broker absent
// at start. Each time serve says why in its log and on /healthz, keeps
// accepting mail (SMTP 250) and publishing it on ZeroMQ (a python3-zmq
// subscriber gets every event), and once the problem is fixed (the
// broker's password changed, the config's CA fixed and reloaded, the
// broker appearing on its port) the AMQP outlet catches up: every event
// on the queue.
func TestAMQPBrokerTrouble(t *testing.T) {
	b := sharedBroker(t)
	cases := []struct {
		name   string
		conf   func() []string
		reason string
		fix    func(t *testing.T, d *daemon)
	}{{
		name: "password",
		conf: func() []string {
			return []string{fmt.Sprintf("url = %q", b.URL(pwUser, "config-side")), `exchange = "e2e-password"`}
		},
		reason: "username or password not allowed",
		fix: func(t *testing.T, d *daemon) {
			if _, err := b.Ctl("change_password", pwUser, "config-side"); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "ca",
		conf: func() []string {
			return []string{fmt.Sprintf("url = %q", b.TLSURL()), `exchange = "e2e-ca"`,
				fmt.Sprintf("ca_cert = %q", b.TLS.OtherCA), fmt.Sprintf("certfile = %q", b.TLS.ClientCert),
				fmt.Sprintf("keyfile = %q", b.TLS.ClientKey)}
		},
		reason: "does not verify with amqp.ca_cert",
		fix: func(t *testing.T, d *daemon) {
			cfg, err := os.ReadFile(d.config)
			if err != nil {
				t.Fatal(err)
			}
			fixed := strings.Replace(string(cfg), b.TLS.OtherCA, b.TLS.CA, 1)
			if err := os.WriteFile(d.config, []byte(fixed), 0o644); err != nil {
				t.Fatal(err)
			}
			d.reload()
		},
	}, {
		name: "absent",
		conf: func() []string {
			return []string{fmt.Sprintf("url = %q", fmt.Sprintf("amqp://%s:%s@127.0.0.1:%d/",
				rabbittest.Admin, rabbittest.AdminPassword, absentPort)), `exchange = "e2e-absent"`}
		},
		reason: "connection refused",
		fix:    func(t *testing.T, d *daemon) { proxy(t, absentPort, b.Port) },
	}}
	absentPort = freePort(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			exchange := "e2e-" + c.name
			declareQueue(t, b, exchange, exchange)
			d := newDaemon(t, amqpConf(c.conf()...))
			d.start()
			sub := d.subscribe(t)
			tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
			sendMany(t, d, 3, 1, func(i int) []byte { return tmpl(fmt.Sprintf("trouble-%s-%d@e2e.test", c.name, i)) })
			waitFor(t, 30*time.Second, "6 events on ZeroMQ", func() bool { return len(sub.messages()) == 6 })
			waitFor(t, 30*time.Second, "the reason in the log", func() bool {
				return strings.Contains(d.log.String(), "amqp: publishing stopped") && strings.Contains(d.log.String(), c.reason)
			})
			if code, body := d.healthz(t); code != 503 || !strings.Contains(body, "amqp: broker unreachable or refusing") ||
				!strings.Contains(body, c.reason) {
				t.Errorf("/healthz %d %q, want 503 with the reason", code, body)
			}
			if v, ok := d.metric("mailgw_amqp_connected"); !ok || v != 0 {
				t.Errorf("mailgw_amqp_connected %v %v", v, ok)
			}
			if v, ok := d.metric("mailgw_amqp_backlog"); !ok || v != 6 {
				t.Errorf("mailgw_amqp_backlog %v %v, want 6", v, ok)
			}
			// Still taking mail, still on ZeroMQ, while AMQP is down.
			sendMany(t, d, 2, 1, func(i int) []byte { return tmpl(fmt.Sprintf("trouble-%s-late-%d@e2e.test", c.name, i)) })
			waitFor(t, 30*time.Second, "10 events on ZeroMQ", func() bool { return len(sub.messages()) == 10 })

			c.fix(t, d)
			d.amqpCaughtUp(t, 90*time.Second)
			if code, body := d.healthz(t); code != 200 {
				t.Errorf("/healthz after the fix: %d %q", code, body)
			}
			ids, _, n := d.journal()
			msgs := queueIDs(t, b, exchange, n+10, 2*time.Second)
			seen := map[string]int{}
			for _, id := range msgs {
				seen[id]++
			}
			for id := range ids {
				if seen[id] != 1 {
					t.Errorf("event %s reached the queue %d times", id, seen[id])
				}
			}
			if len(msgs) != n || n != 10 {
				t.Errorf("%d messages for %d journaled events, want 10", len(msgs), n)
			}
		})
	}
}

// absentPort is where the "absent" case's broker appears once fixed.
var absentPort int

// reload sends serve SIGHUP (a config reload) and waits for its log line.
func (d *daemon) reload() {
	d.t.Helper()
	before := strings.Count(d.log.String(), "msg=reloaded")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
	waitFor(d.t, 30*time.Second, "serve to reload", func() bool {
		return strings.Count(d.log.String(), "msg=reloaded") > before
	})
}
