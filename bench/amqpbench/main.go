// Command amqpbench measures the AMQP outlet for bench/run.sh, on a
// private RabbitMQ from Debian's rabbitmq-server (internal/amqpout/rabbittest),
// everything side by side in one run:
//
//   - replay: "mailgw replay --publish" of MBOX without and with [amqp],
//     alternating, RUNS times each: mails/s from start to exit (with
//     [amqp], replay exits once the broker confirmed every event);
//
//   - publish: the outlet publishing the journal of the first replay (its
//     events, as AMQP messages) with confirms into a durable queue, and
//     python3-pika publishing the same messages (routing key, properties,
//     headers, body) with confirms as fedora-messaging's api.publish does,
//     one message at a time, each waiting for its confirm.
//
//     amqpbench -mailgw BIN -key KEY.asc -pika bench/amqp_pika.py -runs N -pika-n N MBOX
//
// It prints one line per measurement: "replay plain|amqp OWN mails/s to
// exit WALL mails/s", "publish mailgw|pika RATE msg/s".
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/internal/amqpout"
	"github.com/debian/mailgw/internal/amqpout/rabbittest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
)

func main() {
	bin := flag.String("mailgw", "mailgw", "the mailgw `BINARY`")
	key := flag.String("key", "", "signing key `FILE`")
	pika := flag.String("pika", "bench/amqp_pika.py", "the pika publisher `SCRIPT`")
	runs := flag.Int("runs", 5, "runs of each measurement")
	pikaN := flag.Int("pika-n", 0, "messages pika publishes per run (0: every event of the journal, as the outlet does)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: amqpbench [flags] MBOX")
		os.Exit(64)
	}
	if err := run(*bin, *key, *pika, flag.Arg(0), *runs, *pikaN); err != nil {
		fmt.Fprintln(os.Stderr, "amqpbench:", err)
		os.Exit(1)
	}
}

const queue = "bench"

func run(bin, key, pika, mbox string, runs, pikaN int) error {
	b, err := rabbittest.Start(rabbittest.Options{})
	if err != nil {
		return err
	}
	defer b.Stop()
	admin, err := amqp.Dial(b.URL(rabbittest.Admin, rabbittest.AdminPassword))
	if err != nil {
		return err
	}
	defer admin.Close()
	ch, err := admin.Channel()
	if err != nil {
		return err
	}
	// What a consumer declares (docs/amqp.md): the messages are stored
	// as they would be for a real consumer.
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.QueueBind(queue, "org.debian.#", "amq.topic", false, nil); err != nil {
		return err
	}
	purge := func() error { _, err := ch.QueuePurge(queue, false); return err }
	work, err := os.MkdirTemp("", "amqpbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var firstJournal string
	for i := range runs {
		for _, withAMQP := range []bool{false, true} {
			state := filepath.Join(work, fmt.Sprintf("state-%d-%v", i, withAMQP))
			own, wall, cpu, err := replay(bin, key, state, mbox, withAMQP, b.URL(rabbittest.Admin, rabbittest.AdminPassword))
			if err != nil {
				return err
			}
			name := map[bool]string{false: "plain", true: "amqp"}[withAMQP]
			fmt.Printf("replay %s %.1f mails/s to exit %.1f mails/s cpu %.1f mails/cpu-s\n", name, own, wall, cpu)
			if err := purge(); err != nil {
				return err
			}
			if i == 0 && !withAMQP {
				firstJournal = filepath.Join(state, "journal.sqlite")
			} else {
				os.RemoveAll(state)
			}
		}
	}

	msgs := filepath.Join(work, "messages.jsonl")
	j, err := journal.Open(firstJournal)
	if err != nil {
		return err
	}
	defer j.Close()
	if err := dumpMessages(j, msgs, pikaN); err != nil {
		return err
	}
	for range runs {
		rate, err := outletRate(j, b.URL(rabbittest.Admin, rabbittest.AdminPassword))
		if err != nil {
			return err
		}
		fmt.Printf("publish mailgw %.1f msg/s\n", rate)
		if err := purge(); err != nil {
			return err
		}
		out, err := exec.Command("/usr/bin/python3", pika, b.URL(rabbittest.Admin, rabbittest.AdminPassword), msgs).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pika: %v\n%s", err, out)
		}
		fmt.Printf("publish pika %s", out)
		if err := purge(); err != nil {
			return err
		}
	}
	return nil
}

// replay runs "mailgw replay --publish" into a fresh state directory and
// returns its own rate (its summary line: mails read, signed, journaled
// and on the ZeroMQ socket per second, the AMQP outlet running beside it)
// the rate from its start to its exit (with [amqp], replay exits once the
// broker confirmed every event), and mails per CPU-second of the mailgw
// process (the AMQP outlet's own cost, whatever else runs on the machine;
// the broker's is not in it).
func replay(bin, key, state, mbox string, withAMQP bool, url string) (own, wall, cpu float64, err error) {
	if err := os.MkdirAll(state, 0o750); err != nil {
		return 0, 0, 0, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := fmt.Sprintf("state_dir = %q\ngpg_signing_key = %q\n[endpoints]\nmailgw = [\"tcp://127.0.0.1:%d\"]\n", state, key, port)
	if withAMQP {
		cfg += fmt.Sprintf("[amqp]\nenabled = true\nurl = %q\nstart = \"beginning\"\n", url)
	}
	cfgFile := filepath.Join(state, "mailgw.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o640); err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	cmd := exec.Command(bin, "replay", "--config", cfgFile, "--publish", "--no-progress", mbox)
	out, err := cmd.CombinedOutput()
	secs := time.Since(t0).Seconds()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("replay: %v\n%s", err, out)
	}
	if withAMQP && strings.Contains(string(out), "waits in the journal") {
		return 0, 0, 0, fmt.Errorf("replay left events unconfirmed:\n%s", out)
	}
	m := regexp.MustCompile(`(\d+) mails \(.*, ([0-9.]+) mails/s`).FindSubmatch(out)
	if m == nil {
		return 0, 0, 0, fmt.Errorf("replay printed no summary:\n%s", out)
	}
	n, _ := strconv.ParseFloat(string(m[1]), 64)
	own, _ = strconv.ParseFloat(string(m[2]), 64)
	cpuSecs := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return own, n / secs, n / cpuSecs, nil
}

// outletRate publishes the whole journal with a new outlet (a fresh
// watermark) and returns messages/s until the broker confirmed the last.
func outletRate(j *journal.Journal, url string) (float64, error) {
	if _, _, err := j.DropOutlet(amqpout.OutletName); err != nil {
		return 0, err
	}
	last, err := j.LastSeq()
	if err != nil {
		return 0, err
	}
	out, err := amqpout.New(amqpout.Options{
		Config:  config.AMQP{Enabled: true, URL: url, Exchange: "amq.topic", Start: "beginning"},
		Journal: j, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t0 := time.Now()
	go func() { out.Run(ctx); close(done) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
	err = out.Wait(wctx, last)
	secs := time.Since(t0).Seconds()
	wcancel()
	cancel()
	<-done
	if err != nil {
		return 0, err
	}
	return float64(out.Status().Confirmed) / secs, nil
}

// dumpMessages writes the first n messages of the journal (n <= 0: all),
// as the outlet makes them, for the pika publisher: one JSON object per line.
func dumpMessages(j *journal.Journal, path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if n <= 0 {
		// Every event: pika then fills the queue as deep as the
		// outlet does (a deeper queue costs the broker more per
		// message: 2,121 messages into an empty queue went at
		// 6,112 msg/s, into one holding 30,000 at 5,138).
		last, err := j.LastSeq()
		if err != nil {
			return err
		}
		n = int(last)
	}
	es, err := j.After(0, n)
	if err != nil {
		return err
	}
	for i := range es {
		m, err := amqpout.NewMessage(&es[i], int64(i+1))
		if err != nil {
			return err
		}
		p := m.Publishing
		line, err := json.Marshal(map[string]any{"routing_key": m.RoutingKey, "body": p.Body, "headers": p.Headers,
			"content_type": p.ContentType, "content_encoding": p.ContentEncoding, "delivery_mode": p.DeliveryMode,
			"message_id": p.MessageId, "app_id": p.AppId})
		if err != nil {
			return err
		}
		w.Write(append(line, '\n'))
	}
	return w.Flush()
}
