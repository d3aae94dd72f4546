// Command smtplatency measures mailgw's latency from the SMTP 250 reply to
// the event's arrival on the bus, for bench/smtp_ingest.sh. It sends
// copies of one mail (each with its own Message-ID) at a fixed rate over
// several SMTP connections, notes when each got its 250, subscribes to the
// bus, notes when the first event of each mail arrives, and prints the
// median, 99th percentile and maximum of the difference, and the first
// mail's.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/smtp"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
)

func main() {
	addr := flag.String("smtp", "127.0.0.1:2525", "serve's SMTP address")
	endpoint := flag.String("bus", "tcp://127.0.0.1:9940", "serve's bus endpoint")
	mailFile := flag.String("mail", "testdata/mails/100-report-476920-xulrunner-FTBFS-sparc.eml", "template mail")
	rate := flag.Int("rate", 500, "mails per second")
	n := flag.Int("n", 5000, "mails to send")
	conns := flag.Int("conns", 16, "SMTP connections")
	flag.Parse()
	if err := run(*addr, *endpoint, *mailFile, *rate, *n, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "smtplatency:", err)
		os.Exit(1)
	}
}

func run(addr, endpoint, mailFile string, rate, n, conns int) error {
	raw, err := os.ReadFile(mailFile)
	if err != nil {
		return err
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	re := regexp.MustCompile(`(?mi)^Message-ID:[^\n]*\n`)
	run := time.Now().UnixNano()
	mail := func(i int) (string, []byte) {
		id := fmt.Sprintf("lat-%d-%d@bench.test", run, i)
		return id, re.ReplaceAll(raw, []byte("Message-ID: <"+id+">\n"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := bus.Subscribe(ctx, []string{endpoint}, nil, bus.SubOptions{Buffer: 100000})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	acked := map[string]time.Time{}
	arrived := map[string]time.Time{}
	got := make(chan struct{})
	go func() {
		for m := range sub.C() {
			now := time.Now()
			mi, _ := m.Env.Msg["mail"].(map[string]any)
			id, _ := mi["message_id"].(string)
			id = strings.Trim(id, "<>")
			mu.Lock()
			if _, seen := arrived[id]; !seen && strings.HasPrefix(id, "lat-") {
				arrived[id] = now
				if len(arrived) == n {
					close(got)
				}
			}
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second) // let the subscription reach the publisher

	work := make(chan int, n)
	var wg sync.WaitGroup
	var sendErr error
	var errOnce sync.Once
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				errOnce.Do(func() { sendErr = err })
				return
			}
			defer c.Close()
			for i := range work {
				id, body := mail(i)
				if err := send(c, body); err != nil {
					errOnce.Do(func() { sendErr = err })
					return
				}
				mu.Lock()
				acked[id] = time.Now()
				mu.Unlock()
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for i := range n {
		<-tick.C
		work <- i
	}
	close(work)
	tick.Stop()
	wg.Wait()
	if sendErr != nil {
		return sendErr
	}
	sendSecs := time.Since(start).Seconds()
	select {
	case <-got:
	case <-time.After(30 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, t := range acked {
		if a, ok := arrived[id]; ok {
			lat = append(lat, a.Sub(t))
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no event arrived")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("sent %d mails in %.1fs (%.0f/s); %d events matched\n", len(acked), sendSecs, float64(len(acked))/sendSecs, len(lat))
	fmt.Printf("250-to-bus latency: p50 %v  p99 %v  max %v\n",
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
	// The first mail is the one after a quiet spell when nothing came
	// before the run (serve_backfill_live's first-mail row).
	if id, _ := mail(0); !acked[id].IsZero() && !arrived[id].IsZero() {
		fmt.Printf("first mail: %v\n", arrived[id].Sub(acked[id]).Round(100*time.Microsecond))
	}
	return nil
}

func send(c *smtp.Client, body []byte) error {
	if err := c.Mail("bench@example.org"); err != nil {
		return err
	}
	if err := c.Rcpt("mailgw@localhost"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}
