// Command websearch measures /v2/search on a large journal, for
// bench/run.sh (docs/benchmarks.md): it builds a journal of -events
// envelopes (once; a journal that has them is reused), runs "mailgw
// serve" on it with the web listener, and sends -n topic queries and -n
// package queries of one page each, -c at a time, over HTTP, timing each
// from request to the last byte of the answer:
//
//	websearch -mailgw bin/mailgw -journal work/websearch/journal.sqlite -events 1000000 [-n 2000] [-c 4]
//
// It prints the build rate and, per kind of query, the median and the
// 99th percentile in milliseconds, after an unmeasured warm-up of a fifth
// as many queries (serve has just opened the journal).
//
// The journal is built through the journal's own API (journal.Add in
// batches, then IndexPackages as serve's web listener does), not by
// parsing a million mails: what is measured is the query, and building by
// replay would take an hour for the same rows. The envelopes have what the
// queries use as mailgw's have it: 40 topics in 5 categories, the
// busiest a quarter of the events (as dak uploads and bug mail are of
// Debian's), 30,000 packages with a long tail (the busiest about 1 %, as
// linux or glibc), one to three packages an event in msg.mailgw.packages,
// a timestamp every 3 s over five weeks, and a body of about 1.5 KiB.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

func main() {
	mailgw := flag.String("mailgw", "", "the mailgw binary to serve the journal (`FILE`)")
	path := flag.String("journal", "", "the journal to build or reuse (`FILE`)")
	events := flag.Int("events", 1_000_000, "envelopes in the journal")
	n := flag.Int("n", 2000, "queries of each kind")
	c := flag.Int("c", 4, "queries at a time")
	flag.Parse()
	if *mailgw == "" || *path == "" {
		fmt.Fprintln(os.Stderr, "websearch: -mailgw and -journal are required")
		os.Exit(2)
	}
	if err := run(*mailgw, *path, *events, *n, *c); err != nil {
		fmt.Fprintln(os.Stderr, "websearch:", err)
		os.Exit(1)
	}
}

func run(mailgw, path string, events, n, c int) error {
	w := newWorld(1)
	if err := build(path, events, w); err != nil {
		return err
	}
	topics, pkgs, err := sample(path, n)
	if err != nil {
		return err
	}
	addr, stop, err := serve(mailgw, path)
	if err != nil {
		return err
	}
	defer stop()
	kinds := []struct {
		name string
		vals []string
	}{{"topic", topics}, {"package", pkgs}}
	// Warm-up, not measured: serve has just opened the journal, and
	// SQLite's page cache of each connection starts empty.
	for _, k := range kinds {
		var qs []url.Values
		for _, v := range k.vals[:n/5] {
			qs = append(qs, url.Values{k.name: {v}})
		}
		if _, err := load(addr, qs, c); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, k := range kinds {
		qs := make([]url.Values, n)
		for i := range qs {
			qs[i] = url.Values{k.name: {k.vals[len(k.vals)-1-i]}}
		}
		lat, err := load(addr, qs, c)
		if err != nil {
			return fmt.Errorf("%s queries: %w", k.name, err)
		}
		slices.Sort(lat)
		fmt.Printf("%s: n=%d p50=%.2f ms p99=%.2f ms max=%.2f ms\n", k.name, len(lat),
			ms(lat[len(lat)/2]), ms(lat[int(math.Ceil(0.99*float64(len(lat))))-1]), ms(lat[len(lat)-1]))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// world is the made-up population of the journal.
type world struct {
	topics []string
	// topicCDF and pkgCDF are cumulative weights.
	topicCDF, pkgCDF []float64
	pkgs             []string
}

func newWorld(seed uint64) *world {
	w := &world{}
	cats := []string{"dak", "debbugs", "tracker", "pts", "debmessenger"}
	objs := []string{"package.upload", "bug.report", "bug.close", "bug.followup", "bug.control", "package.accept", "package.new", "package.vcs"}
	sum := 0.0
	for i := range 40 {
		w.topics = append(w.topics, fmt.Sprintf("org.debian.prod.%s.%s.e%d", cats[i%len(cats)], objs[i%len(objs)], i))
		// The busiest topic a quarter of the events, a long tail after.
		sum += 1 / math.Pow(float64(i+1), 1.3)
		w.topicCDF = append(w.topicCDF, sum)
	}
	sum = 0
	for i := range 30000 {
		w.pkgs = append(w.pkgs, fmt.Sprintf("pkg%05d-%x", i, i*2654435761%65536))
		sum += 1 / float64(i+10)
		w.pkgCDF = append(w.pkgCDF, sum)
	}
	return w
}

func pick(r *rand.Rand, cdf []float64) int {
	i, _ := slices.BinarySearch(cdf, r.Float64()*cdf[len(cdf)-1])
	return min(i, len(cdf)-1)
}

func (w *world) topic(r *rand.Rand) int { return pick(r, w.topicCDF) }

func (w *world) pkg(r *rand.Rand) int { return pick(r, w.pkgCDF) }

// start is the first envelope's timestamp; one follows every 3 s.
const start = 1_790_000_000

// envelope is envelope i of the journal.
func (w *world) envelope(r *rand.Rand, i int, text string) *bus.Envelope {
	topic := w.topics[w.topic(r)]
	var pkgs []string
	for range 1 + r.IntN(3)/2 + r.IntN(2)*r.IntN(2) {
		pkgs = append(pkgs, w.pkgs[w.pkg(r)])
	}
	msg := map[string]any{
		"source":  pkgs[0],
		"version": fmt.Sprintf("%d.%d-%d", i%7, i%13, i%5),
		"changes": text,
		"mail":    map[string]any{"subject": "Accepted " + pkgs[0], "from": "someone@debian.org"},
		"mailgw": map[string]any{"packages": pkgs, "summary": pkgs[0] + " event", "url": "https://tracker.debian.org/pkg/" + pkgs[0],
			"people": []string{"someone@debian.org"}},
	}
	return bus.NewEnvelope(topic, msg, fmt.Sprintf("2026-ws%09d", i), start+int64(i)*3, "mailgw")
}

// build makes the journal at path hold events envelopes.
func build(path string, events int, w *world) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	j, err := journal.Open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	have, err := j.LastSeq()
	if err != nil {
		return err
	}
	if have >= int64(events) {
		fmt.Printf("journal: %d envelopes (built before)\n", have)
		return nil
	}
	r := rand.New(rand.NewPCG(1, uint64(have)))
	text := strings.Repeat("  * A change of the kind changelogs list, wrapped at 72 columns.\n", 16)
	t0 := time.Now()
	for i := int(have); i < events; {
		batch := make([]*bus.Envelope, 0, 2000)
		for ; i < events && len(batch) < cap(batch); i++ {
			batch = append(batch, w.envelope(r, i, text))
		}
		added, err := j.Add(batch)
		if err != nil {
			return err
		}
		seqs := make([]int64, len(added))
		for k, e := range added {
			seqs[k] = e.SeqID
		}
		if err := j.MarkPublished(seqs...); err != nil {
			return err
		}
	}
	added := time.Since(t0)
	t1 := time.Now()
	for {
		k, err := j.IndexPackages(50000)
		if err != nil {
			return err
		}
		if k == 0 {
			break
		}
	}
	fmt.Printf("journal: %d envelopes built: journal.Add %.0f envelopes/s, package index %.0f envelopes/s\n",
		events-int(have), float64(events-int(have))/added.Seconds(), float64(events-int(have))/time.Since(t1).Seconds())
	return nil
}

// sample returns the topics and packages of n events of the journal
// drawn at random: the queries ask for them as often as the events have
// them.
func sample(path string, n int) (topics, pkgs []string, err error) {
	j, err := journal.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer j.Close()
	last, err := j.LastSeq()
	if err != nil {
		return nil, nil, err
	}
	r := rand.New(rand.NewPCG(2, 3))
	for len(topics) < n {
		es, err := j.After(r.Int64N(last), 1)
		if err != nil {
			return nil, nil, err
		}
		if len(es) == 0 {
			continue
		}
		env, err := bus.ParseEnvelope(es[0].Body)
		if err != nil {
			return nil, nil, err
		}
		ps := journal.EventPackages(env.Msg)
		if len(ps) == 0 {
			continue
		}
		topics = append(topics, es[0].Topic)
		pkgs = append(pkgs, ps[r.IntN(len(ps))])
	}
	return topics, pkgs, nil
}

// serve runs "mailgw serve" on the journal with the web listener on a
// free port, and returns its address once it answers.
func serve(mailgw, path string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "websearch-")
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf(`state_dir = %q
journal = %q
retention = "0s"
[endpoints]
mailgw = ["tcp://127.0.0.1:0"]
[replay_endpoints]
mailgw = "tcp://127.0.0.1:0"
[smtp]
listen = "127.0.0.1:0"
[metrics]
listen = ""
[log]
level = "warn"
[web]
listen = "127.0.0.1:%d"
`, dir, path, port)
	conf := filepath.Join(dir, "mailgw.toml")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(mailgw, "serve", "--config", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/v2/search?rows_per_page=1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("serve did not answer within 120 s")
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// load sends the queries, c at a time, and returns their latencies.
func load(addr string, qs []url.Values, c int) ([]time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	next := make(chan url.Values)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				t0 := time.Now()
				err := get(client, "http://"+addr+"/v2/search?"+q.Encode())
				d := time.Since(t0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", q.Encode(), err)
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	for _, q := range qs {
		next <- q
	}
	close(next)
	wg.Wait()
	return lat, firstErr
}

func get(client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"raw_messages":[{`) {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}
