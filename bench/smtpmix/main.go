// Command smtpmix measures "mailgw serve" taking the corpus mix over SMTP
// (issue 19): N mails drawn in turn from the corpus (testdata/mails: dak,
// debbugs, PTS/tracker and the mails the guards refuse, each copy another
// happening, as cmd/mboxgen makes them) sent over C concurrent SMTP
// connections from 127.0.0.1, which the config trusts as a relay (the
// operator's own MTA, docs/trust.md), every service's policy set to
// quarantine unproven mail, as it would run live. Events are Ed25519
// signed; bench/sub_count.py (python3-zmq) counts them on the bus.
//
//	smtpmix -mailgw BIN -state DIR -key FILE [-n 20000] [-conns 50] [-mails testdata/mails] [-perf FILE]
//	smtpmix -reference discard|spool -state DIR [-n 20000] [-conns 50] [-mails testdata/mails] [-perf FILE]
//
// It reports the mails acknowledged per second (every 250 is sent after
// the spool's fsync; timed from the first connection to the last 250),
// the events expected (the same mails through the same parsers, trust
// policy and msg_id rules in this process, distinct msg_ids), journaled
// (serve's mailgw_events_total), received (count and distinct msg_ids)
// and dropped by serve's bus for the subscriber (mailgw_bus_drops_total),
// and the drain time: from the last 250 to the last event on the bus. It
// exits 1 when an event is missing or came twice. DIR must not exist; it
// is left behind for the caller to remove (see bench/smtp_ingest.sh on
// why deleting it right away slows the next run). With -perf, perf(1)
// records serve (user and kernel stacks: the fsyncs are in the kernel)
// while the mails go in and drain; read it with "perf report -i FILE
// --no-children --stdio" (the subscriber's idle wait is in it too).
//
// With -reference, the same client sends the same mails to a go-smtp
// server that does less than serve, the same run's yardstick for serve's
// rate (reference.go): "discard" reads each DATA and drops it, "spool"
// hands it to mailgw's spool as serve's SMTP listener does and does
// nothing more. It reports the rate and the server's CPU seconds the
// same way; DIR holds the config serve would have had, and the spool.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

func main() {
	var o options
	flag.StringVar(&o.mailgw, "mailgw", "", "the mailgw `binary` to run serve with (required)")
	flag.StringVar(&o.state, "state", "", "serve's state `DIR`, made here (required; must not exist)")
	flag.StringVar(&o.key, "key", "", "Ed25519 signing key `FILE` (made with mailgw keygen when missing; required)")
	flag.StringVar(&o.mails, "mails", "testdata/mails", "`DIR` of .eml files to draw from")
	flag.IntVar(&o.n, "n", 20000, "mails to send")
	flag.IntVar(&o.conns, "conns", 50, "concurrent SMTP connections")
	flag.Uint64Var(&o.seed, "seed", 1, "seed for the copies' Message-IDs and dates")
	flag.StringVar(&o.python, "python", "/usr/bin/python3", "the python3 with python3-zmq")
	flag.StringVar(&o.sub, "sub", "bench/sub_count.py", "the counting subscriber")
	flag.StringVar(&o.perf, "perf", "", "record serve (or the reference server) with perf(1) (-g, kernel included) from the first mail to the last event, into `FILE`")
	flag.StringVar(&o.reference, "reference", "", "send to a reference server instead of serve: `discard` (go-smtp alone) or spool (go-smtp and mailgw's spool)")
	refServer := flag.String("reference-server", "", "be the reference server with the config `FILE` (what -reference starts)")
	flag.Parse()
	if *refServer != "" {
		if err := referenceServer(o.reference, *refServer); err != nil {
			fmt.Fprintln(os.Stderr, "smtpmix: reference server:", err)
			os.Exit(1)
		}
		return
	}
	if o.state == "" || (o.reference == "" && (o.mailgw == "" || o.key == "")) {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "smtpmix:", err)
		os.Exit(1)
	}
}

type options struct {
	mailgw, state, key, mails, python, sub, perf string
	reference                                    string
	n, conns                                     int
	seed                                         uint64
}

// subResult is sub_count.py's line.
type subResult struct {
	Count    int      `json:"count"`
	Distinct int      `json:"distinct"`
	Bad      int      `json:"bad"`
	First    *float64 `json:"first"`
	Last     *float64 `json:"last"`
	CPU      float64  `json:"cpu"`
}

func run(o options) error {
	mails, bytesSent, err := loadMix(o.mails, o.n, o.seed)
	if err != nil {
		return err
	}
	if o.reference == "" {
		if err := os.MkdirAll(filepath.Dir(o.key), 0o755); err != nil {
			return err
		}
		if _, err := os.Stat(o.key); errors.Is(err, os.ErrNotExist) {
			out, err := exec.Command(o.mailgw, "keygen", "--secret", o.key, "--public", o.key+".pub").CombinedOutput()
			if err != nil {
				return fmt.Errorf("keygen: %v: %s", err, out)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.state), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(o.state, 0o755); err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	smtpAddr, admin := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1]
	busEP, replayEP := "tcp://127.0.0.1:"+ports[2], "tcp://127.0.0.1:"+ports[3]
	cfgPath := filepath.Join(o.state, "mailgw.toml")
	if err := os.WriteFile(cfgPath, []byte(serveConfig(o, smtpAddr, admin, busEP, replayEP)), 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if o.reference != "" {
		return runReference(o, cfg, cfgPath, mails, bytesSent)
	}
	want, quarantined, err := expected(cfg, mails)
	if err != nil {
		return err
	}

	// The subscriber first (it reconnects every 10 ms), then serve.
	sub := exec.Command(o.python, o.sub, busEP, "--idle", "3", "--timeout", "300")
	subOut, err := sub.StdoutPipe()
	if err != nil {
		return err
	}
	sub.Stderr = os.Stderr
	if err := sub.Start(); err != nil {
		return err
	}
	defer func() { _ = sub.Process.Kill(); _ = sub.Wait() }()
	subLines := bufio.NewReader(subOut)
	if l, err := subLines.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
		return fmt.Errorf("subscriber: %q, %v", l, err)
	}
	serveLog, err := os.Create(filepath.Join(o.state, "serve.log"))
	if err != nil {
		return err
	}
	defer serveLog.Close()
	serve := exec.Command(o.mailgw, "serve", "--config", cfgPath)
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() { _ = serve.Process.Signal(syscall.SIGTERM); _ = serve.Wait() }()
	if err := waitFor(30*time.Second, func() bool {
		v, err := scrape(admin, "mailgw_bus_subscribers")
		return err == nil && v >= 1
	}); err != nil {
		return fmt.Errorf("serve did not start or the subscriber did not connect (%s): %w", serveLog.Name(), err)
	}
	if c, err := net.Dial("tcp", smtpAddr); err != nil {
		return fmt.Errorf("serve's SMTP listener: %w", err)
	} else {
		c.Close()
	}

	stopPerf, err := startPerf(o.perf, serve.Process.Pid)
	if err != nil {
		return err
	}
	load0 := loadavg()
	start := time.Now()
	lastAck, err := send(smtpAddr, mails, o.conns)
	if err != nil {
		return err
	}
	secs := lastAck.Sub(start).Seconds()

	line, err := subLines.ReadString('\n')
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	stopPerf()
	var res subResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return fmt.Errorf("subscriber: %q: %w", line, err)
	}
	spooled, err := scrape(admin, "mailgw_mails_spooled_total")
	if err != nil {
		return err
	}
	journaled, err := scrape(admin, "mailgw_events_total")
	if err != nil {
		return err
	}
	quar, err := scrape(admin, "mailgw_mails_quarantined_total")
	if err != nil {
		return err
	}
	drops, err := scrape(admin, "mailgw_bus_drops_total")
	if err != nil {
		return err
	}

	fmt.Printf("load average at start: %s\n", load0)
	fmt.Printf("mix: %d mails from %s (%d bytes, %.1f KiB a mail), %d connections\n",
		len(mails), o.mails, bytesSent, float64(bytesSent)/float64(len(mails))/1024, o.conns)
	fmt.Printf("acknowledged: %.0f mails in %.2fs = %.0f mails/s\n", spooled, secs, float64(len(mails))/secs)
	fmt.Printf("events: expected %d, journaled %.0f, received %d (distinct %d, bad %d), dropped by the bus %.0f; quarantined %.0f mails (expected %d)\n",
		len(want), journaled, res.Count, res.Distinct, res.Bad, drops, quar, quarantined)
	if res.Last != nil {
		last := time.Unix(0, int64(*res.Last*1e9))
		fmt.Printf("drain: last 250 -> last event %.0f ms\n", last.Sub(lastAck).Seconds()*1000)
	}
	if cpu, err := cpuSeconds(serve.Process.Pid); err == nil {
		// The CPU clock is steadier than the wall clock on a shared machine.
		fmt.Printf("serve CPU %.2fs (%.3f ms a mail, start and idle included)\n", cpu, 1000*cpu/float64(len(mails)))
	}
	fmt.Printf("subscriber CPU %.2fs; load average at end: %s\n", res.CPU, loadavg())
	switch {
	case int(spooled) != len(mails):
		return fmt.Errorf("serve spooled %.0f of %d mails", spooled, len(mails))
	case res.Count != len(want) || res.Distinct != len(want) || int(journaled) != len(want) || res.Bad != 0:
		return fmt.Errorf("LOST or duplicated events: expected %d, journaled %.0f, received %d (distinct %d, bad %d); serve's bus dropped %.0f (queue over subscriber_queue_bytes)",
			len(want), journaled, res.Count, res.Distinct, res.Bad, drops)
	case int(quar) != quarantined:
		return fmt.Errorf("quarantined %.0f mails, expected %d", quar, quarantined)
	}
	fmt.Println("every event received, each once")
	return nil
}

// startPerf starts perf(1) recording process pid (-g, kernel included)
// into file, and returns what stops it; with file "" it does nothing.
func startPerf(file string, pid int) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	perf := exec.Command("perf", "record", "-q", "-g", "-F", "499", "-o", file, "-p", strconv.Itoa(pid))
	perf.Stderr = os.Stderr
	if err := perf.Start(); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() {
		_ = perf.Process.Signal(os.Interrupt)
		if err := perf.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "smtpmix: perf:", err)
		}
	}, nil
}

// loadMix returns n mails drawn in turn from the .eml files of dir, as
// archivetest.Copies makes them (the first copy as it is, the others
// another happening each), without an mbox "From " line, and their size.
func loadMix(dir string, n int, seed uint64) ([][]byte, int, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(names) == 0 {
		return nil, 0, fmt.Errorf("no .eml files in %s: %v", dir, err)
	}
	sort.Strings(names)
	var src [][]byte
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, 0, err
		}
		src = append(src, b)
	}
	out := make([][]byte, 0, n)
	size := 0
	err = archivetest.Copies(src, n, seed, func(_ time.Time, data []byte) error {
		if bytes.HasPrefix(data, []byte("From ")) {
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				data = data[i+1:]
			}
		}
		size += len(data)
		out = append(out, data)
		return nil
	})
	return out, size, err
}

// serveConfig is serve's config: the state in o.state, SMTP, metrics,
// bus and replay endpoint on loopback (free ports: with the default
// replay port, 9941, serve failed to start while another serve ran),
// loopback trusted as the site's relay and every service's unproven mail
// quarantined.
func serveConfig(o options, smtpAddr, admin, busEP, replayEP string) string {
	return fmt.Sprintf(`state_dir = %q
gpg_signing_key = %q
# As in bench/run.py's end-to-end and backfill rows, a subscriber's queue
# is bounded by 64 MiB, not by 10,000 messages nor by serve's default of
# 1 MiB (sized for live traffic, docs/operations.md): on a loaded machine
# (the full test suite) the journal's transactions grow to hundreds of
# envelopes, serve publishes each in one burst, and a burst of over 1 MiB
# was dropped in part for the subscriber (mailgw_bus_drops_total) while
# it kept up (docs/benchmarks.md, issue 19: 11 of 400 runs).
high_water_mark = 100000
subscriber_queue_bytes = 67108864
[endpoints]
mailgw = [%q]
[replay_endpoints]
mailgw = %q
[metrics]
listen = %q
[log]
level = "warn"
[smtp]
listen = %q
max_connections = 200
max_connections_per_address = 200
[trust]
# The SMTP client is the site's own MTA (it verified the mail): a trusted
# relay. DKIM is not checked again here (no DNS in a benchmark).
trusted_relays = ["127.0.0.1"]
dkim = false
[trust.dak]
action = "quarantine"
[trust.debbugs]
action = "quarantine"
[trust.pts]
action = "quarantine"
[trust.tracker]
action = "quarantine"
`, o.state, o.key, busEP, replayEP, admin, smtpAddr)
}

// expected runs the mails through the parsers, the trust policy and the
// msg_id rules as serve will (relay 127.0.0.1) and returns the distinct
// msg_ids of their events and how many mails yield none.
func expected(cfg *config.Config, mails [][]byte) (map[string]bool, int, error) {
	d := dak.New(dak.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	b := debbugs.New(debbugs.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	cl := parsers.NewClassifier(pts.New(d, b), d, b)
	prep, err := pipeline.NewPreparer(cfg, cl, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	in := pipeline.Intake{Origin: spool.Origin{Relay: netip.MustParseAddr("127.0.0.1")}}
	ids := map[string]bool{}
	none := 0
	for _, raw := range mails {
		pp := prep.Prepare(raw, in)
		if len(pp.Envelopes) == 0 {
			none++
			continue
		}
		for _, env := range pp.Envelopes {
			ids[env.MsgID] = true
		}
	}
	return ids, none, nil
}

// send sends mails over conns SMTP connections, each taking the next
// mail as soon as its last one got its 250, and returns when the last 250
// came.
func send(addr string, mails [][]byte, conns int) (time.Time, error) {
	work := make(chan []byte, len(mails))
	for _, m := range mails {
		work <- m
	}
	close(work)
	var (
		mu       sync.Mutex
		lastAck  time.Time
		firstErr error
		wg       sync.WaitGroup
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := sendAll(addr, work, func() {
				now := time.Now()
				mu.Lock()
				if now.After(lastAck) {
					lastAck = now
				}
				mu.Unlock()
			})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lastAck, firstErr
}

// sendAll sends mails from work over one connection until work is empty,
// calling acked after each 250.
func sendAll(addr string, work <-chan []byte, acked func()) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("smtpmix.bench.test"); err != nil {
		return err
	}
	for raw := range work {
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
		if _, err := w.Write(raw); err != nil {
			return err
		}
		if err := w.Close(); err != nil { // the 250, after serve's fsync
			return err
		}
		acked()
	}
	return c.Quit()
}

// scrape returns the sum of every sample of the metric name on serve's
// /metrics.
func scrape(admin, name string) (float64, error) {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllSubmatch(body, -1) {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

func waitFor(d time.Duration, ok func() bool) error {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return nil
		}
	}
	return fmt.Errorf("not within %v", d)
}

func freePorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}

// cpuSeconds is the user and system CPU time of process pid so far
// (/proc/PID/stat, in clock ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) in ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / 100, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
