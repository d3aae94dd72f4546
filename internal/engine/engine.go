// Package engine is mailgw's one journal-then-publish engine (docs/flow.md),
// shared by every producer in a process: serve's live spool pickup
// (package pipeline) and replays (package backfill), on their own or
// inside serve.
//
// Producers submit Jobs (the envelopes of a mail, or of a batch of
// mails). One journaling goroutine takes the queued jobs, live ones
// first, and journals the envelopes of as many as are ready in one
// transaction (journal.AddMarking: seq_id, msg_id dedup); one publishing
// goroutine publishes what the journal added, in seq_id order, while the
// next transaction is being written. Each job learns when its envelopes
// are journaled (the spool may then drop the mail, a replay move its
// checkpoint) and when they are published.
//
// The publisher does not mark what it published itself: a mark is a
// write transaction, which would wait for the journal's lock while the
// journaler holds it through its fsyncs. It hands its seq_ids to the
// journaler, whose next transaction records them (or, when idle, a
// MarkPublished of its own). A crash loses at most the marks of what was
// published since, and a lost mark only republishes: consumers drop
// duplicates by msg_id.
//
// After a publish failure, later envelopes are only journaled (which
// keeps the bus in seq_id order) until PublishPending, which the engine
// runs every second while publishing fails, has published them from the
// journal.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// Priority orders the queued jobs: Live before Backfill.
type Priority int

// Priorities.
const (
	// Live is mail being delivered now (serve's spool): it is journaled
	// before any queued Backfill job.
	Live Priority = iota
	// Backfill is replayed mail: it fills the transactions live mail
	// leaves room in.
	Backfill
)

// ComponentJournal is the component whose failures the engine reports to
// Options.Health.
const ComponentJournal = "journal"

// Health is told when a component starts or stops failing (serve's
// /healthz); *metrics.Metrics implements it.
type Health interface {
	SetFailing(component string, err error)
}

// Options configure an engine.
type Options struct {
	Journal   *journal.Journal
	Publisher bus.Publisher
	// Logger gets the engine's warnings; nil means slog.Default().
	Logger *slog.Logger
	// Health, if set, is told when journal writes start and stop failing.
	Health Health
	// MaxEnvelopes bounds the envelopes of one journal transaction
	// (default 1024); a single larger job is journaled whole.
	MaxEnvelopes int
	// BackfillTxTime, if set, bounds the time of a backfill transaction
	// while live mail flows (LiveFlowing): it takes as many envelopes as
	// the journal writes in that time, by the cost of an envelope in the
	// backfill transactions so far (at least one job, at most
	// MaxEnvelopes). Live mail then waits behind about that much backfill
	// in the journal, and about as much on the bus. Without live mail a
	// backfill's transactions take up to MaxEnvelopes, or QuietTxTime:
	// small ones cost the journal more CPU an envelope
	// (BenchmarkLiveUnderBackfill, docs/benchmarks.md). serve sets it; a
	// replay on its own engine has no live mail to wait for.
	BackfillTxTime time.Duration
	// QuietTxTime, if set, bounds the time of a backfill transaction
	// while no live mail flows, by the same measure: the first live mail
	// after a quiet spell waits behind at most about that much backfill
	// in the journal, not a whole MaxEnvelopes transaction
	// (docs/benchmarks.md, "The first live mail after a quiet spell").
	QuietTxTime time.Duration
	// QueueJobs is how many jobs of each priority may wait (default 256):
	// a producer's Submit blocks while its priority's queue is full.
	QueueJobs int
	// Hold, if set, is asked before each Backfill transaction, with
	// whether live mail flows (LiveFlowing): while it returns true the
	// journaler journals live jobs only, and asks again every holdPoll.
	// serve holds a backfill while a bus subscriber lags
	// (control.LagGate): what a backfill publishes, live mail published
	// after it waits behind in the subscriber's queue and socket.
	Hold func(liveFlowing bool) bool
	// PublishGrace is how long the engine keeps publishing after the
	// context given to Start ends (what is left is published by the next
	// PublishPending); 0 stops publishing with the context.
	PublishGrace time.Duration
}

// Job is the envelopes of one mail or batch of mails, journaled in one
// transaction, in order.
type Job struct {
	// Ctx, if set and done when the journaler takes the job, drops the
	// job unjournaled: Journaled gets ctx's error (a cancelled replay
	// leaves what it queued to its resumed run).
	Ctx       context.Context
	Envelopes []*bus.Envelope
	// Journaled, if set, is called once the envelopes are journaled:
	// added are those the journal took (SeqID set, in order), the others
	// were duplicates. err is a journal failure: nothing of the job is
	// journaled. It runs on the journaling goroutine, in the order the
	// jobs were journaled: it must be quick and must not Submit.
	Journaled func(added []*bus.Envelope, err error)
	// Published, if set, is called after Journaled without error, once
	// the added envelopes are on the bus (err nil) or were left to
	// PublishPending by a publish failure (err is that failure). It runs
	// on the publishing goroutine, in seq_id order.
	Published func(err error)
}

// ErrClosed is Submit's error once Close was called.
var ErrClosed = errors.New("engine: closed")

// Engine journals and publishes submitted jobs; it is safe for
// concurrent use.
type Engine struct {
	o      Options
	queues [2]chan *Job
	stop   chan struct{} // closed by Close: no more Submits
	exit   chan struct{} // closed when both goroutines have returned

	subMu    sync.RWMutex // Submit (read) against drain (write)
	closed   bool
	stopOnce sync.Once

	pubCh   chan pubBatch
	markReq chan struct{} // the publisher handed marks (1 slot)
	marksMu sync.Mutex
	marks   []int64

	// pubMu orders publishing: the publishing goroutine and
	// PublishPending. failed is set when a publish failed: later
	// envelopes are only journaled until PublishPending caught up.
	// last is the highest seq_id published, so that an envelope
	// PublishPending published is not published again.
	pubMu  sync.Mutex
	failed error
	last   int64

	// envCost is the moving average of a backfill transaction's time
	// per envelope (Options.BackfillTxTime); the journaler's alone.
	envCost time.Duration
	// lastLive is when a live job was last journaled (UnixNano).
	lastLive atomic.Int64
	// backOut counts backfill batches handed to the publisher and not
	// yet published.
	backOut atomic.Int32
}

// liveRecent is how long after a live job LiveFlowing stays true.
const liveRecent = 5 * time.Second

// LiveFlowing reports whether live mail came lately (a live job
// journaled in the last liveRecent): a backfill then takes small steps,
// so that the next live mail waits little behind it (the engine's
// transactions, Options.BackfillTxTime; a replay's batches,
// backfill.Options.Engine).
func (e *Engine) LiveFlowing() bool {
	t := e.lastLive.Load()
	return t != 0 && time.Since(time.Unix(0, t)) < liveRecent
}

// pubBatch is one transaction's jobs and the envelopes it added.
type pubBatch struct {
	back  bool // a backfill transaction's
	added []*bus.Envelope
	jobs  []*Job
	byJob [][]*bus.Envelope
}

// Start returns a running engine. ctx bounds publishing (plus
// Options.PublishGrace); Close stops the engine.
func Start(ctx context.Context, o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxEnvelopes <= 0 {
		o.MaxEnvelopes = 1024
	}
	if o.QueueJobs <= 0 {
		o.QueueJobs = 256
	}
	e := &Engine{
		o:       o,
		queues:  [2]chan *Job{make(chan *Job, o.QueueJobs), make(chan *Job, o.QueueJobs)},
		stop:    make(chan struct{}),
		exit:    make(chan struct{}),
		pubCh:   make(chan pubBatch, 4),
		markReq: make(chan struct{}, 1),
	}
	pubCtx := ctx
	if o.PublishGrace > 0 {
		var cancel context.CancelFunc
		pubCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(o.PublishGrace, cancel) })
		go func() { <-e.exit; stop(); cancel() }()
	}
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); e.publisher(pubCtx) }()
	go func() {
		defer close(e.exit)
		e.journaler()
		close(e.pubCh)
		<-pubDone
		e.flushMarks()
	}()
	return e
}

// Submit queues j with priority p. It blocks while p's queue is full,
// and returns ctx's error if ctx ends first, ErrClosed after Close.
// j's callbacks are called unless Submit returns an error.
func (e *Engine) Submit(ctx context.Context, p Priority, j *Job) error {
	e.subMu.RLock()
	defer e.subMu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	q := e.queues[Backfill]
	if p == Live {
		q = e.queues[Live]
	}
	select {
	case q <- j:
		return nil
	default:
	}
	select {
	case q <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stop:
		return ErrClosed
	}
}

// Close stops taking jobs, journals and publishes those queued (publishing
// as long as Start's context allows) and returns when the engine stopped.
// Calling it again waits likewise.
func (e *Engine) Close() {
	e.stopOnce.Do(func() { close(e.stop) })
	<-e.exit
}

// markDelay is how long handed marks wait for a transaction before the
// journaler records them in one of their own.
const markDelay = 200 * time.Millisecond

// holdPoll is how often the journaler asks Options.Hold again while it
// holds backfill jobs back.
const holdPoll = 2 * time.Millisecond

// journaler takes jobs, live first, and journals them in transactions of
// up to MaxEnvelopes envelopes until Close; then it journals what is
// still queued and returns.
func (e *Engine) journaler() {
	live := e.queues[Live]
	var flush <-chan time.Time // armed while handed marks wait
	poll := time.NewTimer(holdPoll)
	poll.Stop()
	for {
		var j *Job
		p := Live
		select {
		case j = <-live:
		default:
			back, again := e.queues[Backfill], (<-chan time.Time)(nil)
			if len(back) > 0 && e.holdBackfill() {
				back, again = nil, poll.C
				poll.Reset(holdPoll)
			}
			select {
			case <-again:
				continue
			case j = <-live:
			case j = <-back:
				p = Backfill
			case <-e.markReq:
				// Marks wait for the next transaction, or markDelay
				// when none comes: a transaction of their own for
				// every published batch took the journal's lock from
				// the next Add.
				if flush == nil {
					flush = time.After(markDelay)
				}
				continue
			case <-flush:
				flush = nil
				e.flushMarks()
				continue
			case <-e.stop:
				e.drain()
				return
			}
		}
		e.commit(e.gather(j, p), p)
	}
}

// holdBackfill reports whether the journaler must not start a backfill
// transaction now: while Options.Hold says so, and while live mail flows
// and the publisher still has a backfill transaction to publish (live
// mail journaled meanwhile would wait behind both on the bus).
func (e *Engine) holdBackfill() bool {
	live := e.LiveFlowing()
	if e.o.BackfillTxTime > 0 && e.backOut.Load() > 0 && live {
		return true
	}
	return e.o.Hold != nil && e.o.Hold(live)
}

// gather adds to j the jobs of its priority ready now, up to
// MaxEnvelopes envelopes. A transaction holds live jobs only or backfill
// jobs only: live mail then waits for at most one backfill transaction
// and its own, which is small (BenchmarkLiveUnderBackfill).
func (e *Engine) gather(j *Job, p Priority) []*Job {
	jobs, n := []*Job{j}, len(j.Envelopes)
	q, limit := e.queues[p], e.o.MaxEnvelopes
	if p == Live {
		e.lastLive.Store(time.Now().UnixNano())
	} else if e.envCost > 0 {
		bound := e.o.QuietTxTime
		if e.LiveFlowing() {
			bound = e.o.BackfillTxTime
		}
		if bound > 0 {
			limit = int(min(int64(limit), int64(bound/e.envCost)))
		}
	}
	for n < limit {
		select {
		case j := <-q:
			jobs, n = append(jobs, j), n+len(j.Envelopes)
			continue
		default:
		}
		break
	}
	return jobs
}

// drain journals what is queued once Close was called (no Submit can add
// more: Close holds subMu).
func (e *Engine) drain() {
	e.subMu.Lock()
	e.closed = true
	e.subMu.Unlock()
	for {
		select {
		case j := <-e.queues[Live]:
			e.commit(e.gather(j, Live), Live)
		case j := <-e.queues[Backfill]:
			e.commit(e.gather(j, Backfill), Backfill)
		default:
			return
		}
	}
}

// commit journals the jobs' envelopes, of priority p, in one transaction,
// tells each job, and hands what was added to the publisher.
func (e *Engine) commit(jobs []*Job, p Priority) {
	var envs []*bus.Envelope
	live := jobs[:0]
	for _, j := range jobs {
		if j.Ctx != nil && j.Ctx.Err() != nil {
			if j.Journaled != nil {
				j.Journaled(nil, j.Ctx.Err())
			}
			continue
		}
		live = append(live, j)
		envs = append(envs, j.Envelopes...)
	}
	jobs = live
	if len(jobs) == 0 {
		return
	}
	marks := e.takeMarks()
	start := time.Now()
	added, err := e.o.Journal.AddMarking(envs, marks)
	e.health(err)
	if err == nil && p == Backfill && len(envs) > 0 {
		// A moving average over about four transactions.
		cost := time.Since(start) / time.Duration(len(envs))
		if e.envCost == 0 {
			e.envCost = cost
		}
		e.envCost = (3*e.envCost + cost) / 4
	}
	if err != nil {
		e.handMarks(marks) // recorded by a later transaction
		e.o.Logger.Error("journal", "envelopes", len(envs), "err", err)
		for _, j := range jobs {
			if j.Journaled != nil {
				j.Journaled(nil, err)
			}
		}
		return
	}
	// added is in input order: split it by job.
	b := pubBatch{back: p == Backfill, added: added, jobs: jobs, byJob: make([][]*bus.Envelope, len(jobs))}
	k := 0
	for i, j := range jobs {
		start := k
		for _, env := range j.Envelopes {
			if k < len(added) && added[k] == env {
				k++
			}
		}
		b.byJob[i] = added[start:k:k]
		if j.Journaled != nil {
			j.Journaled(b.byJob[i], nil)
		}
	}
	if b.back {
		e.backOut.Add(1)
	}
	e.pubCh <- b
}

func (e *Engine) health(err error) {
	if e.o.Health != nil {
		e.o.Health.SetFailing(ComponentJournal, err)
	}
}

// publisher publishes the journaled batches in order until pubCh closes,
// and republishes from the journal every second while publishing fails.
func (e *Engine) publisher(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var seqs []int64
	for {
		select {
		case b, ok := <-e.pubCh:
			if !ok {
				return
			}
			seqs = e.publish(ctx, b, seqs[:0])
			if b.back {
				e.backOut.Add(-1)
			}
		case <-tick.C:
			e.republishIfFailed(ctx)
		}
	}
}

// publish publishes one batch and tells its jobs; it returns seqs for
// reuse.
func (e *Engine) publish(ctx context.Context, b pubBatch, seqs []int64) []int64 {
	e.pubMu.Lock()
	if e.failed == nil {
		for _, env := range b.added {
			if env.SeqID <= e.last {
				continue // PublishPending published it
			}
			if err := e.o.Publisher.Publish(ctx, env); err != nil {
				e.failed = err
				e.o.Logger.Warn("publish failed; will republish from the journal", "seq_id", env.SeqID, "err", err)
				break
			}
			e.last = env.SeqID
			seqs = append(seqs, env.SeqID)
		}
	}
	last, failed := e.last, e.failed
	e.pubMu.Unlock()
	if len(seqs) > 0 {
		e.handMarks(seqs)
		select {
		case e.markReq <- struct{}{}:
		default:
		}
	}
	for i, j := range b.jobs {
		if j.Published == nil {
			continue
		}
		var err error
		for _, env := range b.byJob[i] {
			if env.SeqID > last {
				err = failed
			}
		}
		j.Published(err)
	}
	return seqs
}

func (e *Engine) republishIfFailed(ctx context.Context) {
	e.pubMu.Lock()
	failed := e.failed
	e.pubMu.Unlock()
	if failed == nil {
		return
	}
	if n, err := e.PublishPending(ctx); err != nil {
		e.o.Logger.Warn("republish from journal", "published", n, "err", err)
	} else {
		e.o.Logger.Info("republished from journal", "count", n)
	}
}

// PublishPending publishes every journaled envelope not yet marked
// published, in seq_id order, marks them and returns how many it
// published. serve and replay call it at start (a crash between journal
// and publish republishes instead of losing); the engine calls it after
// publish failures.
func (e *Engine) PublishPending(ctx context.Context) (int, error) {
	e.pubMu.Lock()
	defer e.pubMu.Unlock()
	// Marks handed over but not yet recorded would read as unpublished.
	if err := e.o.Journal.MarkPublished(e.takeMarks()...); err != nil {
		return 0, err
	}
	n := 0
	for {
		entries, err := e.o.Journal.Unpublished(500)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			e.failed = nil
			return n, nil
		}
		seqs := make([]int64, 0, len(entries))
		var perr error
		for _, en := range entries {
			if en.SeqID <= e.last {
				// Published, its mark on its way in a transaction.
				seqs = append(seqs, en.SeqID)
				continue
			}
			env, err := bus.ParseEnvelope(en.Body)
			if err == nil {
				err = e.o.Publisher.Publish(ctx, env)
			}
			if err != nil {
				perr = fmt.Errorf("republish seq_id %d: %w", en.SeqID, err)
				break
			}
			e.last = en.SeqID
			seqs = append(seqs, en.SeqID)
			n++
		}
		if err := e.o.Journal.MarkPublished(seqs...); err != nil {
			return n, err
		}
		if perr != nil {
			e.failed = perr
			return n, perr
		}
	}
}

// handMarks adds seqs to the marks the next transaction records.
func (e *Engine) handMarks(seqs []int64) {
	if len(seqs) > 0 {
		e.marksMu.Lock()
		e.marks = append(e.marks, seqs...)
		e.marksMu.Unlock()
	}
}

// takeMarks returns the marks handed over so far and forgets them.
func (e *Engine) takeMarks() []int64 {
	e.marksMu.Lock()
	defer e.marksMu.Unlock()
	m := e.marks
	e.marks = nil
	return m
}

// flushMarks records the marks handed over in a transaction of their own.
func (e *Engine) flushMarks() {
	m := e.takeMarks()
	if len(m) == 0 {
		return
	}
	if err := e.o.Journal.MarkPublished(m...); err != nil {
		e.handMarks(m)
		e.o.Logger.Warn("journal: mark published", "err", err)
	}
}
