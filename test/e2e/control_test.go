//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/backfill"
)

// controlTop is the config of the serves these tests backfill into: a
// subscriber queue that holds what a backfill has in flight (docs/replay.md,
// "Backfill into a running serve"), as in bench/.
const controlTop = "high_water_mark = 100000\nsubscriber_queue_bytes = 67108864"

// genMbox writes an mbox of n mails drawn from testdata/mails
// (archivetest.Generate, as bench/'s mboxgen).
func genMbox(t *testing.T, path string, n int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "mails", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus mails: %v", err)
	}
	slices.Sort(files)
	var mails [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, b)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := archivetest.Generate(f, mails, n, 19); err != nil {
		t.Fatal(err)
	}
}

// replayCmd starts "mailgw replay" on d's config; its stderr goes to the
// returned buffer.
func (d *daemon) replayCmd(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(mailgw, append([]string{"replay", "--config", d.config, "--no-progress"}, args...)...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// summaryNew returns the "N new" of a replay's summary line.
func summaryNew(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`events: (\d+) new`).FindAllStringSubmatch(out, -1)
	if m == nil {
		t.Fatalf("no summary in replay's output:\n%s", tail(out, 3000))
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// checkOnce fails unless every msg_id in got is there once, and the
// set is the journal's.
func checkOnce(t *testing.T, who string, got []string, journal map[string]int) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	dups, missing, extra := 0, 0, 0
	for id, n := range seen {
		if n > 1 {
			dups++
		}
		if journal[id] == 0 {
			extra++
		}
	}
	for id := range journal {
		if seen[id] == 0 {
			missing++
		}
	}
	if dups+missing+extra > 0 {
		t.Errorf("%s: %d messages, %d distinct: %d msg_ids more than once, %d of the journal's %d missing, %d not in the journal",
			who, len(got), len(seen), dups, missing, len(journal), extra)
	}
}

// journalOnce fails unless every msg_id of the journal is there once,
// and returns them.
func (d *daemon) journalOnce(t *testing.T) map[string]int {
	t.Helper()
	ids, _, n := d.journal()
	if n != len(ids) {
		t.Errorf("journal: %d rows, %d distinct msg_ids", n, len(ids))
	}
	return ids
}

// TestReplayIntoRunningServe (issue 19): "mailgw replay" of a generated
// mbox hands the mails to the running serve over its control socket
// (no spool file per mail) while live mail arrives over SMTP. A
// python3-zmq subscriber receives every event of both exactly once, and
// live mail does not wait behind the backfill: from the SMTP 250 to the
// subscriber, its events are not queued behind the backfill (the
// 99th percentile is logged; its target, 100 ms, is bench/'s).
func TestReplayIntoRunningServe(t *testing.T) {
	const n = 20000
	d := newDaemonWith(t, controlTop, "")
	d.start()
	sub := d.subscribe(t)
	mbox := filepath.Join(d.dir, "backfill.mbox")
	genMbox(t, mbox, n)

	// Live mail: one corpus mail with a fresh Message-ID each, sent
	// every 10 ms over one SMTP connection for as long as the replay
	// runs (and at least 100).
	tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
	liveDir := filepath.Join(d.dir, "live")
	os.Mkdir(liveDir, 0o755)
	c, err := smtp.Dial(d.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Live mail alone first: the latency of this machine without a
	// backfill, for the log.
	var base []time.Duration
	for i := range 30 {
		id := fmt.Sprintf("base-%d@control.e2e", i)
		mail := tmpl(id)
		f := filepath.Join(liveDir, "base.eml")
		os.WriteFile(f, mail, 0o644)
		ids := parseIDs(t, f)
		if err := sendSMTP(c, mail); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		waitFor(t, 10*time.Second, "a live mail alone", func() bool {
			for _, m := range sub.messages() {
				if m.MsgID == ids[len(ids)-1] {
					base = append(base, time.Unix(0, int64(m.T*1e9)).Sub(at))
					return true
				}
			}
			return false
		})
	}
	slices.Sort(base)
	t.Logf("live mail alone, SMTP 250 to subscriber, %d mails: p50 %v, max %v", len(base),
		base[len(base)/2].Round(time.Millisecond), base[len(base)-1].Round(time.Millisecond))

	replayStart := time.Now()
	replay, out := d.replayCmd(t, mbox)
	replayDone := make(chan error, 1)
	go func() { replayDone <- replay.Wait() }()
	waitFor(t, 30*time.Second, "the backfill to start", func() bool {
		v, _ := d.metric(`mailgw_mails_received_total{mode="replay"}`)
		return v > 0
	})
	if v, _ := d.metric("mailgw_control_jobs"); v != 1 {
		t.Errorf("mailgw_control_jobs = %v while the backfill runs, want 1", v)
	}
	var acked []time.Time // the 250 of each live mail
	var files []string
	var replayErr error
	during := 0 // live mails acknowledged while the replay ran
	running := true
	for i := 0; running || i < 100; i++ {
		if running {
			select {
			case replayErr = <-replayDone:
				running = false
			default:
				during++
			}
		}
		mail := tmpl(fmt.Sprintf("live-%d@control.e2e", i))
		if err := sendSMTP(c, mail); err != nil {
			t.Fatalf("live mail %d: %v", i, err)
		}
		acked = append(acked, time.Now())
		f := filepath.Join(liveDir, fmt.Sprintf("%04d.eml", i))
		os.WriteFile(f, mail, 0o644)
		files = append(files, f)
		time.Sleep(10 * time.Millisecond)
	}
	if replayErr != nil {
		t.Fatalf("replay: %v\n%s", replayErr, tail(out.String(), 3000))
	}
	backfillTook := time.Since(replayStart)
	if !strings.Contains(out.String(), "handing the mails to the running serve") {
		t.Errorf("replay did not use the control socket:\n%s", tail(out.String(), 2000))
	}
	newEvents := summaryNew(t, out.String())
	t.Logf("replay: %s", strings.TrimSpace(tail(out.String(), 300)))
	t.Logf("%d live mails, %d of them while the backfill ran", len(acked), during)
	if during < 20 {
		t.Errorf("only %d live mails arrived during the backfill", during)
	}

	// Each live mail's msg_ids, as parse computes them.
	liveIDs := map[string]int{} // msg_id -> live mail
	perMail := len(parseIDs(t, files[0]))
	for i, id := range parseIDs(t, files...) {
		liveIDs[id] = i / perMail
	}
	total := newEvents + len(liveIDs) + 2*len(base)
	waitFor(t, 120*time.Second, fmt.Sprintf("%d events at the subscriber", total), func() bool {
		return len(sub.messages()) >= total
	})
	time.Sleep(time.Second) // anything more would be a duplicate
	journal := d.journalOnce(t)
	if len(journal) != total {
		t.Errorf("journal has %d events, want %d replayed + %d live", len(journal), newEvents, len(liveIDs)+2*len(base))
	}
	msgs := sub.messages()
	var got []string
	var lat []time.Duration
	for _, m := range msgs {
		got = append(got, m.MsgID)
		if !m.Frame0OK {
			t.Errorf("message %s: frame 0 is not its topic", m.MsgID)
		}
		if i, ok := liveIDs[m.MsgID]; ok {
			at := time.Unix(0, int64(m.T*1e9))
			lat = append(lat, at.Sub(acked[i]))
		}
	}
	checkOnce(t, "python3-zmq subscriber", got, journal)
	if len(lat) != len(liveIDs) {
		t.Fatalf("subscriber got %d live events, want %d", len(lat), len(liveIDs))
	}
	slices.Sort(lat)
	p99 := lat[(len(lat)*99+99)/100-1]
	t.Logf("live mail, SMTP 250 to subscriber, %d events: p50 %v, p99 %v, max %v; waited behind the backfill at the 99th percentile %v (p99 less the p50 alone, target 100 ms)",
		len(lat), lat[len(lat)/2].Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
		(p99 - base[len(base)/2]).Round(time.Millisecond))
	// The target, p99 <= 100 ms, is a benchmark row (bench/rows.py
	// serve_backfill_live, docs/benchmarks.md): timed on a shared machine it
	// would make this test fail with the machine's load (3 December 2026,
	// this test on the 2-core VM: 53-59 ms while it replayed ~4,000
	// mails/s, 48-146 ms in the same hour once the VM ran at half that
	// speed; docs/benchmarks.md "Live mail on a slow machine"). What must
	// hold on any machine: live mail does not queue behind the backfill,
	// which would make it wait for most of the backfill's run.
	if limit := backfillTook / 5; p99 > limit {
		t.Errorf("live mail waited behind the backfill: p99 %v, more than a fifth of the backfill's %v", p99, backfillTook)
	}
	if v, _ := d.metric(`mailgw_mails_received_total{mode="replay"}`); v != n {
		t.Errorf(`mailgw_mails_received_total{mode="replay"} = %v, want %d`, v, n)
	}
	if v, _ := d.metric(`mailgw_mails_received_total{mode="smtp"}`); int(v) != len(acked)+len(base) {
		t.Errorf(`mailgw_mails_received_total{mode="smtp"} = %v, want %d`, v, len(acked)+len(base))
	}
	if v, _ := d.metric("mailgw_bus_drops_total"); v != 0 {
		t.Errorf("bus dropped %v messages", v)
	}
	started, _ := d.metric(`mailgw_control_jobs_total{result="started"}`)
	refused, _ := d.metric(`mailgw_control_jobs_total{result="refused"}`)
	nowJobs, _ := d.metric("mailgw_control_jobs")
	if started != 1 || refused != 0 || nowJobs != 0 {
		t.Errorf("control jobs: started %v, refused %v, running %v after the backfill; want 1, 0, 0", started, refused, nowJobs)
	}
}

// tailer is "mailgw tail --json --since-seq 1": the subscriber that
// fills gaps from the replay endpoint.
type tailer struct {
	mu  sync.Mutex
	ids []string
}

func (d *daemon) tail(t *testing.T) *tailer {
	t.Helper()
	cmd := exec.Command(mailgw, "tail", "--config", d.config, "--since-seq", "1", "--json", "--no-validate")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tl := &tailer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var env struct {
				MsgID string `json:"msg_id"`
			}
			if json.Unmarshal(sc.Bytes(), &env) == nil && env.MsgID != "" {
				tl.mu.Lock()
				tl.ids = append(tl.ids, env.MsgID)
				tl.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("mailgw tail stderr:\n%s", tail(stderr.String(), 3000))
		}
	})
	return tl
}

func (tl *tailer) got() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.ids)
}

// TestReplayIntoServeInterrupted (issue 19): a backfill into serve is
// interrupted twice — Ctrl-C (SIGINT) to mailgw replay, then SIGKILL to
// serve — and each time run again; the reruns resume from the
// checkpoint. In the end the journal holds every event of the archive
// exactly once (the same msg_ids as a replay --publish of it into a
// fresh journal), the python3-zmq subscriber got every event of the
// SIGINT part once, and "mailgw tail", which fills what a killed serve
// never sent from the replay endpoint, prints every event exactly once.
func TestReplayIntoServeInterrupted(t *testing.T) {
	const n = 12000
	d := newDaemonWith(t, controlTop, "")
	d.start()
	sub := d.subscribe(t)
	tl := d.tail(t)
	mbox := filepath.Join(d.dir, "backfill.mbox")
	genMbox(t, mbox, n)
	received := func() float64 {
		v, _ := d.metric(`mailgw_mails_received_total{mode="replay"}`)
		return v
	}

	// 1. Ctrl-C to the client.
	r1, out1 := d.replayCmd(t, mbox)
	waitFor(t, 60*time.Second, "3000 mails backfilled", func() bool { return received() >= 3000 })
	r1.Process.Signal(os.Interrupt)
	err := r1.Wait()
	if code := r1.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("replay after SIGINT: %v (exit %d), want exit 1\n%s", err, code, tail(out1.String(), 2000))
	}
	if !strings.Contains(out1.String(), "context canceled") {
		t.Errorf("replay after SIGINT does not say it was interrupted:\n%s", tail(out1.String(), 2000))
	}
	cpFile, _ := backfill.CheckpointFile(filepath.Join(d.state, "replay"), mbox)
	cp, err := os.ReadFile(cpFile)
	if err != nil || !strings.Contains(string(cp), `"done": false`) {
		t.Fatalf("checkpoint after SIGINT: %v %s", err, cp)
	}
	t.Logf("after SIGINT: %s", strings.TrimSpace(tail(out1.String(), 300)))

	// 2. Run again; SIGKILL serve in the middle.
	r2, out2 := d.replayCmd(t, mbox)
	waitFor(t, 60*time.Second, "7000 mails backfilled", func() bool { return received() >= 7000 })
	// The python subscriber's messages up to now: the SIGINT and the
	// resumed run, each event once.
	beforeKill := sub.messages()
	d.kill()
	if err := r2.Wait(); err == nil {
		t.Errorf("replay succeeded although serve was killed:\n%s", tail(out2.String(), 2000))
	}
	t.Logf("after SIGKILL of serve: %s", strings.TrimSpace(tail(out2.String(), 400)))
	if !regexp.MustCompile(`\(([1-9]\d*) resumed`).MatchString(out2.String()) {
		t.Errorf("the run after SIGINT resumed nothing:\n%s", tail(out2.String(), 1000))
	}

	// 3. serve again, and the replay to its end.
	d.start()
	r3, out3 := d.replayCmd(t, mbox)
	if err := r3.Wait(); err != nil {
		t.Fatalf("third replay: %v\n%s", err, tail(out3.String(), 3000))
	}
	t.Logf("third run: %s", strings.TrimSpace(tail(out3.String(), 300)))
	if !regexp.MustCompile(`\(([1-9]\d*) resumed`).MatchString(out3.String()) {
		t.Errorf("the run after SIGKILL resumed nothing:\n%s", tail(out3.String(), 1000))
	}

	// The reference: the same archive replayed with --publish into a
	// fresh journal.
	ref := newDaemonWith(t, controlTop, "")
	runMailgw(t, "replay", "--publish", "--no-progress", "--config", ref.config, mbox)
	want := ref.journalOnce(t)
	journal := d.journalOnce(t)
	checkOnce(t, "serve's journal (against replay --publish's)", keys(journal), want)

	waitFor(t, 120*time.Second, fmt.Sprintf("%d events from mailgw tail", len(journal)), func() bool {
		return len(tl.got()) >= len(journal)
	})
	time.Sleep(time.Second)
	checkOnce(t, "mailgw tail --since-seq 1", tl.got(), journal)

	seen := map[string]int{}
	dups := 0
	for _, m := range beforeKill {
		if seen[m.MsgID]++; seen[m.MsgID] == 2 {
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("python3-zmq subscriber: %d msg_ids more than once before serve was killed", dups)
	}
	// Across the SIGKILL, the bus itself neither resends what serve had
	// queued for the subscriber nor knows what it missed: the journal
	// and the replay endpoint (tail above) are what make that exact.
	all := sub.messages()
	seenAll := map[string]bool{}
	for _, m := range all {
		seenAll[m.MsgID] = true
	}
	t.Logf("python3-zmq subscriber: %d messages before the SIGKILL (%d distinct), %d in all, %d of the journal's %d events",
		len(beforeKill), len(seen), len(all), len(seenAll), len(journal))
	if v, _ := d.metric("mailgw_bus_drops_total"); v != 0 {
		t.Errorf("bus dropped %v messages", v)
	}
}

func keys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
