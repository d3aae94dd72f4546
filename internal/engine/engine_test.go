package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/bustest"
	"github.com/debian/mailgw/internal/journal"
)

func env(id string) *bus.Envelope {
	return bus.NewEnvelope("org.debian.dev.dak.package.upload", map[string]any{"source": "bash"}, "2008-"+id, 1, "mailgw")
}

func openJournal(t testing.TB) *journal.Journal {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// result is what a job's callbacks were told.
type result struct {
	mu        sync.Mutex
	added     []*bus.Envelope
	jerr      error
	published bool
	perr      error
	done      chan struct{}
}

func job(envs ...*bus.Envelope) (*Job, *result) {
	r := &result{done: make(chan struct{})}
	j := &Job{Envelopes: envs}
	j.Journaled = func(added []*bus.Envelope, err error) {
		r.mu.Lock()
		r.added, r.jerr = added, err
		r.mu.Unlock()
		if err != nil {
			close(r.done)
		}
	}
	j.Published = func(err error) {
		r.mu.Lock()
		r.published, r.perr = true, err
		r.mu.Unlock()
		close(r.done)
	}
	return j, r
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestJournalThenPublish: jobs of both priorities are journaled (a
// duplicate msg_id is not added), published once each in seq_id order,
// their callbacks told, and every mark recorded once Close returns.
func TestJournalThenPublish(t *testing.T) {
	j, pub := openJournal(t), &bustest.Publisher{}
	e := Start(context.Background(), Options{Journal: j, Publisher: pub, Logger: quiet()})
	var rs []*result
	for i := range 50 {
		p := Live
		if i%3 == 0 {
			p = Backfill
		}
		jb, r := job(env(fmt.Sprintf("a%d", i)), env(fmt.Sprintf("b%d", i)))
		if err := e.Submit(context.Background(), p, jb); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for i, r := range rs {
		<-r.done
		if r.jerr != nil || r.perr != nil || !r.published || len(r.added) != 2 {
			t.Errorf("job %d: journaled %d (%v), published %v (%v)", i, len(r.added), r.jerr, r.published, r.perr)
		}
	}
	jb, dup := job(env("a0"), env("c")) // a0 is journaled already
	if err := e.Submit(context.Background(), Live, jb); err != nil {
		t.Fatal(err)
	}
	<-dup.done
	if len(dup.added) != 1 || dup.added[0].MsgID != "2008-c" || dup.perr != nil {
		t.Errorf("job with a duplicate: added %v (%v)", dup.added, dup.perr)
	}
	e.Close()
	got := pub.Envelopes()
	if len(got) != 101 {
		t.Fatalf("published %d envelopes, want 101", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b *bus.Envelope) int { return int(a.SeqID - b.SeqID) }) {
		t.Error("bus order is not seq_id order")
	}
	if left, err := j.Unpublished(10); err != nil || len(left) != 0 {
		t.Errorf("%d envelopes unmarked after Close (%v)", len(left), err)
	}
	if err := e.Submit(context.Background(), Live, &Job{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

// blocker returns a job whose Journaled callback holds the journaling
// goroutine until release is closed, and a channel closed once it holds.
func blocker(release chan struct{}) (*Job, chan struct{}) {
	holding := make(chan struct{})
	return &Job{Envelopes: []*bus.Envelope{env("blocker")}, Journaled: func([]*bus.Envelope, error) {
		close(holding)
		<-release
	}}, holding
}

// TestLiveFirst: a live job submitted after queued backfill jobs is
// journaled (and so published) before them.
func TestLiveFirst(t *testing.T) {
	j, pub := openJournal(t), &bustest.Publisher{}
	e := Start(context.Background(), Options{Journal: j, Publisher: pub, Logger: quiet(), MaxEnvelopes: 2})
	defer e.Close()
	release := make(chan struct{})
	b, holding := blocker(release)
	if err := e.Submit(context.Background(), Backfill, b); err != nil {
		t.Fatal(err)
	}
	<-holding
	var back []*result
	for i := range 5 {
		jb, r := job(env(fmt.Sprintf("back%d", i)))
		if err := e.Submit(context.Background(), Backfill, jb); err != nil {
			t.Fatal(err)
		}
		back = append(back, r)
	}
	jb, live := job(env("live"))
	if err := e.Submit(context.Background(), Live, jb); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-live.done
	for i, r := range back {
		<-r.done
		if live.added[0].SeqID > r.added[0].SeqID {
			t.Errorf("live seq_id %d after backfill job %d's %d", live.added[0].SeqID, i, r.added[0].SeqID)
		}
	}
}

// TestBoundedQueue: a full backfill queue blocks its producer (until its
// ctx ends) but never a live one.
func TestBoundedQueue(t *testing.T) {
	j, pub := openJournal(t), &bustest.Publisher{}
	e := Start(context.Background(), Options{Journal: j, Publisher: pub, Logger: quiet(), QueueJobs: 2})
	defer e.Close()
	release := make(chan struct{})
	b, holding := blocker(release)
	if err := e.Submit(context.Background(), Backfill, b); err != nil {
		t.Fatal(err)
	}
	<-holding
	for i := range 2 {
		jb, _ := job(env(fmt.Sprintf("back%d", i)))
		if err := e.Submit(context.Background(), Backfill, jb); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	jb, _ := job(env("back-full"))
	if err := e.Submit(ctx, Backfill, jb); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit to a full backfill queue: %v, want it to block until its ctx ends", err)
	}
	jb, live := job(env("live"))
	if err := e.Submit(context.Background(), Live, jb); err != nil {
		t.Errorf("live Submit beside a full backfill queue: %v", err)
	}
	close(release)
	<-live.done
	if live.perr != nil || len(live.added) != 1 {
		t.Errorf("live job: %d added, %v", len(live.added), live.perr)
	}
}

// TestPublishFailure: after a publish failure the job hears the error,
// later envelopes are journaled only, and the engine republishes them
// from the journal once the bus works, each once and in seq_id order.
func TestPublishFailure(t *testing.T) {
	j, pub := openJournal(t), &bustest.Publisher{}
	pub.Err = errors.New("bus down")
	e := Start(context.Background(), Options{Journal: j, Publisher: pub, Logger: quiet()})
	jb, r1 := job(env("one"), env("two"))
	if err := e.Submit(context.Background(), Live, jb); err != nil {
		t.Fatal(err)
	}
	<-r1.done
	if r1.jerr != nil || r1.perr == nil || len(r1.added) != 2 {
		t.Fatalf("first job: %d added (%v), publish error %v", len(r1.added), r1.jerr, r1.perr)
	}
	pub.Err = nil
	jb, r2 := job(env("three"))
	if err := e.Submit(context.Background(), Live, jb); err != nil {
		t.Fatal(err)
	}
	<-r2.done
	deadline := time.Now().Add(10 * time.Second)
	for len(pub.Envelopes()) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	e.Close()
	var ids []string
	for _, env := range pub.Envelopes() {
		ids = append(ids, env.MsgID)
	}
	if !slices.Equal(ids, []string{"2008-one", "2008-two", "2008-three"}) {
		t.Errorf("published %v, want one, two, three once each", ids)
	}
	if left, _ := j.Unpublished(10); len(left) != 0 {
		t.Errorf("%d envelopes unmarked", len(left))
	}
}

// TestCancelledJob: a job whose ctx ended before it was journaled is
// dropped and told so.
func TestCancelledJob(t *testing.T) {
	j, pub := openJournal(t), &bustest.Publisher{}
	e := Start(context.Background(), Options{Journal: j, Publisher: pub, Logger: quiet()})
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	jb, r := job(env("gone"))
	jb.Ctx = ctx
	// Submit itself may refuse the cancelled ctx or queue the job.
	if err := e.Submit(context.Background(), Backfill, jb); err != nil {
		t.Fatal(err)
	}
	<-r.done
	if !errors.Is(r.jerr, context.Canceled) || r.published {
		t.Errorf("cancelled job: journal error %v, published %v", r.jerr, r.published)
	}
	if n, _ := j.Count(); n != 0 {
		t.Errorf("journal has %d envelopes, want 0", n)
	}
}

// TestHoldKeepsBackfillBack: while Options.Hold says so, a queued
// backfill job is not journaled, live mail still is; once Hold lets go,
// the backfill job is journaled and published. LiveFlowing turns true
// with the live job.
func TestHoldKeepsBackfillBack(t *testing.T) {
	var hold sync.Mutex
	holding := true
	j := openJournal(t)
	e := Start(context.Background(), Options{Journal: j, Publisher: &bustest.Publisher{}, Logger: quiet(),
		Hold: func(bool) bool { hold.Lock(); defer hold.Unlock(); return holding }})
	defer e.Close()
	if e.LiveFlowing() {
		t.Fatal("LiveFlowing before any live mail")
	}
	bj, br := job(env("back"))
	if err := e.Submit(context.Background(), Backfill, bj); err != nil {
		t.Fatal(err)
	}
	lj, lr := job(env("live"))
	if err := e.Submit(context.Background(), Live, lj); err != nil {
		t.Fatal(err)
	}
	<-lr.done
	if lr.jerr != nil || lr.perr != nil || len(lr.added) != 1 {
		t.Fatalf("live job: added %d, errors %v / %v", len(lr.added), lr.jerr, lr.perr)
	}
	if !e.LiveFlowing() {
		t.Error("LiveFlowing false right after a live job")
	}
	// Held: the journal has the live envelope only.
	time.Sleep(20 * holdPoll)
	select {
	case <-br.done:
		t.Fatal("backfill job journaled while Hold holds")
	default:
	}
	if n, _ := j.LastSeq(); n != 1 {
		t.Fatalf("journal holds %d envelopes while the backfill is held, want 1", n)
	}
	hold.Lock()
	holding = false
	hold.Unlock()
	<-br.done
	if br.jerr != nil || !br.published || len(br.added) != 1 || br.added[0].SeqID != 2 {
		t.Fatalf("backfill job after the hold: %+v", br)
	}
}

// TestBackfillTxTime: while live mail flows, a backfill transaction takes
// as many envelopes as fit BackfillTxTime at the measured cost (at least
// one job); without live mail, as many as fit QuietTxTime, or up to
// MaxEnvelopes when that is not set.
func TestBackfillTxTime(t *testing.T) {
	e := &Engine{o: Options{MaxEnvelopes: 1024, BackfillTxTime: 20 * time.Millisecond},
		queues: [2]chan *Job{make(chan *Job, 64), make(chan *Job, 64)}}
	e.envCost = 100 * time.Microsecond // 200 envelopes in 20ms
	fill := func() {
		for len(e.queues[Backfill]) > 0 {
			<-e.queues[Backfill]
		}
		for range 20 {
			e.queues[Backfill] <- &Job{Envelopes: make([]*bus.Envelope, 64)}
		}
	}
	count := func(jobs []*Job) (n int) {
		for _, j := range jobs {
			n += len(j.Envelopes)
		}
		return n
	}
	fill()
	if n := count(e.gather(<-e.queues[Backfill], Backfill)); n != 1024 {
		t.Errorf("without live mail: %d envelopes, want 1024", n)
	}
	e.gather(&Job{Envelopes: make([]*bus.Envelope, 1)}, Live)
	fill()
	if n := count(e.gather(<-e.queues[Backfill], Backfill)); n != 256 {
		t.Errorf("with live mail: %d envelopes, want 256 (jobs of 64 up to 200)", n)
	}
	e.envCost = time.Second
	if n := count(e.gather(<-e.queues[Backfill], Backfill)); n != 64 {
		t.Errorf("with live mail, slow journal: %d envelopes, want one job (64)", n)
	}

	// No live mail for liveRecent: QuietTxTime bounds the transaction.
	e.lastLive.Store(time.Now().Add(-2 * liveRecent).UnixNano())
	e.o.QuietTxTime = 50 * time.Millisecond
	e.envCost = 100 * time.Microsecond // 500 envelopes in 50ms
	fill()
	if n := count(e.gather(<-e.queues[Backfill], Backfill)); n != 512 {
		t.Errorf("without live mail, QuietTxTime 50ms: %d envelopes, want 512 (jobs of 64 up to 500)", n)
	}
	e.envCost = 0 // no backfill transaction measured yet
	fill()
	if n := count(e.gather(<-e.queues[Backfill], Backfill)); n != 1024 {
		t.Errorf("without live mail, cost not known yet: %d envelopes, want 1024", n)
	}
}
