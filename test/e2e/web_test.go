//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// webDaemon is a serve with the web listener on a port of its own.
func webDaemon(t *testing.T, extra ...string) (*daemon, int) {
	t.Helper()
	port := freePort(t)
	d := newDaemon(t, append([]string{"[web]", fmt.Sprintf("listen = \"127.0.0.1:%d\"", port)}, extra...)...)
	d.start()
	waitFor(t, 30*time.Second, "the web listener", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return d, port
}

// deliver runs "mailgw deliver" with the mail in file.
func deliver(t *testing.T, d *daemon, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(mailgw, "deliver", "--config", d.config)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deliver %s: %v\n%s", file, err, out)
	}
}

// cutProxy forwards TCP connections to a backend until cut, which closes
// its listener and every connection; restore listens on the same
// address again. It stands for a network that drops and comes back.
type cutProxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	p := &cutProxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), backend: backend}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// browser starts Debian's chromium, headless, with a fresh profile; it
// records console errors, exceptions and the Server-Sent Events the page
// receives.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	events map[string]int // SSE message id → times received
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Debian's chromium is missing (test/install-deps.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{ctx: ctx, events: map[string]int{}}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				b.errors = append(b.errors, fmt.Sprintf("console.error %v", ev.Args))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errors = append(b.errors, "exception: "+msg)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.errors = append(b.errors, fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventEventSourceMessageReceived:
			b.events[ev.EventID]++
		}
	})
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

// do runs actions in the page, failing the test on error.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// value runs an action that returns a value.
func value[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// takeErrors returns and forgets the errors seen so far.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

// has reports whether the page shows a row for msgID.
func (b *browser) has(t *testing.T, msgID string) bool {
	return value(t, b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('#rows a[href="/event?id=%s"]') !== null`, msgID)))
}

// rowSeqs returns the seq_ids of the rows shown, in page order.
func (b *browser) rowSeqs(t *testing.T) []string {
	return value(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#rows tr')).map(r => r.dataset.seq)`))
}

func (b *browser) waitLive(t *testing.T) {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#live.live-on`)))
}

// TestWebBrowser: Debian's chromium, headless, on the live view: the page
// loads with no console error; a mail delivered with "mailgw deliver"
// appears as a row within a second; a filter hides it; after the
// browser's connection is cut and restored, the events published
// meanwhile appear, and no event reaches the page twice. Without
// JavaScript the page is a paged list.
func TestWebBrowser(t *testing.T) {
	d, port := webDaemon(t)
	mails := filepath.Join(repoRoot, "testdata", "mails")
	// History, so the page has rows and pages: the debbugs mails,
	// replayed into serve's spool.
	history, err := filepath.Glob(filepath.Join(mails, "1*.eml"))
	if err != nil || len(history) < 30 {
		t.Fatalf("history: %v %v", history, err)
	}
	runMailgw(t, append([]string{"replay", "--config", d.config, "--no-progress"}, history...)...)
	waitFor(t, 60*time.Second, "serve to take the replayed mails", d.spoolEmpty)
	px := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	base := "http://" + px.addr
	b := newBrowser(t)
	b.do(t, chromedp.Navigate(base+"/"))
	b.waitLive(t)
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Fatalf("console errors on load: %q", errs)
	}

	// A mail appears within a second of "mailgw deliver". Three mails;
	// each delay is logged, their median must be under a second (one
	// slow delivery on a loaded machine is not the page's fault).
	var delays []time.Duration
	for _, m := range []string{"009-bash-accepted-2008.eml", "002-xfsprogs-accepted-maintainer-2019.eml", "005-xfsprogs-accepted-qp-2023.eml"} {
		file := filepath.Join(mails, m)
		ids := parseIDs(t, file)
		start := time.Now()
		deliver(t, d, file)
		waitFor(t, 30*time.Second, m+" on the page", func() bool { return b.has(t, ids[0]) })
		delays = append(delays, time.Since(start))
	}
	t.Logf("deliver → row: %v", delays)
	sorted := slices.Clone(delays)
	slices.Sort(sorted)
	if sorted[1] > time.Second {
		t.Errorf("median delay from deliver to row %v, want at most 1 s (%v)", sorted[1], delays)
	}

	// A filter hides it: the bash upload is not a glibc event.
	bash := parseIDs(t, filepath.Join(mails, "009-bash-accepted-2008.eml"))[0]
	b.do(t, chromedp.SetValue(chromedp.CSS(`input[name="package"]`), "xfsprogs"),
		chromedp.Submit(chromedp.CSS(`form.filter`)))
	waitFor(t, 30*time.Second, "the filtered page", func() bool {
		return strings.Contains(value(t, b, chromedp.Location()), "package=xfsprogs")
	})
	b.waitLive(t)
	loc := value(t, b, chromedp.Location())
	if !strings.Contains(loc, "package=xfsprogs") || b.has(t, bash) {
		t.Errorf("filter package=xfsprogs at %s: the bash row is still shown", loc)
	}
	// ... and live events too: a bash upload does not appear, an
	// xfsprogs one does.
	deliver(t, d, filepath.Join(mails, "003-xfsprogs-accepted-experimental-2021.eml"))
	xfs := parseIDs(t, filepath.Join(mails, "003-xfsprogs-accepted-experimental-2021.eml"))[0]
	waitFor(t, 30*time.Second, "the xfsprogs upload in the filtered view", func() bool { return b.has(t, xfs) })
	if b.has(t, bash) {
		t.Error("the bash row is shown in the xfsprogs view")
	}

	// Cut the connection, publish meanwhile, restore: the events appear,
	// none twice.
	b.do(t, chromedp.Navigate(base+"/"))
	b.waitLive(t)
	px.cut()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#live.live-wait`)))
	var missed []string
	for _, m := range []string{"004-xfsprogs-accepted-maintainer-2026.eml", "006-xfsprogs-accepted-nmu-2024.eml", "007-xfsprogs-rejected-2021.eml"} {
		deliver(t, d, filepath.Join(mails, m))
		missed = append(missed, parseIDs(t, filepath.Join(mails, m))...)
	}
	_, last, _ := d.journal()
	px.restore()
	waitFor(t, 60*time.Second, "the events published while cut", func() bool {
		for _, id := range missed {
			if !b.has(t, id) {
				return false
			}
		}
		return true
	})
	// Every event journaled is on the page once, newest first, and came
	// over the stream at most once.
	seqs := b.rowSeqs(t)
	if seqs[0] != fmt.Sprint(last) {
		t.Errorf("newest row %s, want seq_id %d", seqs[0], last)
	}
	seen := map[string]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Errorf("row %s twice", s)
		}
		seen[s] = true
	}
	b.mu.Lock()
	var twice []string
	for id, n := range b.events {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	nEvents := len(b.events)
	b.mu.Unlock()
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("events received twice over the stream: %v", twice)
	}
	t.Logf("%d rows, %d distinct events received over the stream", len(seqs), nEvents)
	// The connection errors while cut are the network's; nothing else.
	for _, e := range b.takeErrors() {
		if !strings.Contains(e, "/events") || !strings.HasPrefix(e, "log (network)") {
			t.Errorf("console error: %s", e)
		}
	}

	// One event, its signature checked against the development key serve
	// made (the key tail and verify trust when none is configured).
	b.do(t, chromedp.Navigate(base+"/event?id="+bash))
	if sig := value(t, b, chromedp.Text(chromedp.CSS(`#signature`))); !strings.HasPrefix(sig, "valid, signed by ") {
		t.Errorf("signature status %q", sig)
	}

	// Without JavaScript: a plain list with pages.
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.do(t, chromedp.Navigate(base+"/?page=2"))
	// Evaluate runs with page scripts off (the protocol's own calls do).
	rows := value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('#rows tr').length`))
	links := value(t, b, chromedp.Text(chromedp.CSS(`p.pages`)))
	status := value(t, b, chromedp.Text(chromedp.CSS(`p.status`)))
	if _, _, n := d.journal(); rows != min(50, n-50) || !strings.Contains(links, "newer") || !strings.Contains(status, "page 2") {
		t.Errorf("page 2 without JavaScript: %d rows, links %q, status %q (%d events)", rows, links, status, n)
	}
	b.do(t, chromedp.Navigate(base+"/"))
	status = value(t, b, chromedp.Text(chromedp.CSS(`p.status`)))
	if !strings.Contains(status, "JavaScript is off") {
		t.Errorf("page 1 without JavaScript says %q", status)
	}
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("console errors without JavaScript: %q", errs)
	}
}
