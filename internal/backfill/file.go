package backfill

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/pipeline"
)

// item is one archive entry on its way from the reader through the
// workers to the committer, which handles items in archive order.
type item struct {
	seq   int // position in the stream of items of this file
	mail  archive.Mail
	inPos int64 // input bytes read after this mail (progress)
	what  itemKind
	err   error // itemError: the damaged record or stream

	// set by the workers
	envs   []*bus.Envelope
	dups   []bool                  // envs[i] is journaled already
	reason string                  // quarantine reason when no event
	kind   pipeline.QuarantineKind // and its kind
	fatal  error                   // signing failed: stop
}

type itemKind int

const (
	itemMail     itemKind = iota
	itemResumed           // covered by the checkpoint
	itemFiltered          // date or record kind
	itemError             // damaged record or stream
)

// runFile replays one archive file.
func runFile(ctx context.Context, o *Options, own bool, path string, s *Summary, prog *progress) error {
	r, err := archive.Open(path, archive.Options{MaxMail: o.MaxMail})
	if err != nil {
		s.Errors++
		o.Logger.Error("replay: cannot open archive", "file", path, "err", err)
		return nil
	}
	defer r.Close()
	return runArchive(ctx, o, own, Archive{Name: path, Reader: r, Path: path}, s, prog)
}

// runArchive replays one archive; own says the engine is the replay's.
func runArchive(ctx context.Context, o *Options, own bool, a Archive, s *Summary, prog *progress) error {
	path, r := a.Name, a.Reader
	cp := &checkpoint{Index: -1}
	if a.Path != "" {
		var err error
		if cp, err = loadCheckpoint(o, a.Path); err != nil {
			return err
		}
	}
	if cp.Done {
		o.Logger.Info("replay: archive already replayed (checkpoint); skipping", "file", path, "mails", cp.Index+1)
		return nil
	}
	_, size := r.Progress()
	prog.startFile(path, size)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	items := make(chan *item, 256)
	readErr := make(chan error, 1)
	go func() { readErr <- produce(ctx, o, r, cp.Index, items) }()

	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	done := make(chan *item, 256)
	var wg sync.WaitGroup
	prep, err := pipeline.NewPreparer(o.Config, o.Classifier, o.Verifier, o.Now)
	if err != nil {
		return err
	}
	w := &worker{o: o, prep: prep}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				if it.what == itemMail {
					w.prepare(it)
				}
				done <- it
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	c := &committer{o: o, s: s, cp: cp, prog: prog, path: path, ownsBus: own}
	cerr := c.run(ctx, done)
	if cerr != nil {
		cancel()
		for range done { // let the workers finish
		}
	}
	perr := <-readErr
	if cerr != nil {
		if errors.Is(cerr, context.Canceled) || errors.Is(cerr, context.DeadlineExceeded) {
			// Keep what was committed before the interruption.
			if err := c.saveCheckpoint(); err != nil {
				o.Logger.Warn("replay: checkpoint", "err", err)
			}
		}
		return cerr
	}
	if perr != nil {
		return perr // ctx cancelled
	}
	c.cp.Done = true
	return c.saveCheckpoint()
}

// produce reads the archive, filters and paces it, and sends items in
// order. It returns ctx.Err() when cancelled, else nil.
func produce(ctx context.Context, o *Options, r archive.Reader, resumeIndex int, out chan<- *item) error {
	defer close(out)
	var pace pacer
	pace.rate = o.Rate
	filter := !o.Since.IsZero() || !o.Until.IsZero()
	for seq := 0; ; seq++ {
		m, err := r.Next()
		if err == io.EOF {
			return nil
		}
		it := &item{seq: seq, mail: m}
		it.inPos, _ = r.Progress()
		var ae *archive.Error
		switch {
		case err != nil:
			it.what, it.err = itemError, err
			if errors.As(err, &ae) {
				it.mail.Index = ae.Index
				if !ae.Fatal && ae.Index < resumeIndex {
					it.what = itemResumed // reported by the earlier run
				}
			}
		case m.Index <= resumeIndex:
			it.what = itemResumed
		case !o.AllRecords && (m.Kind == archive.KindIncomingRecv || m.Kind == archive.KindAutocheck):
			it.what = itemFiltered
		case filter && !inRange(headerDate(m.Data), o.Since, o.Until):
			it.what = itemFiltered
		default:
			if err := pace.wait(ctx); err != nil {
				return err
			}
		}
		select {
		case out <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil && (ae == nil || ae.Fatal) {
			return nil
		}
	}
}

func inRange(t, since, until time.Time) bool {
	if t.IsZero() {
		return false
	}
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

// pacer spaces mails to at most rate per second.
type pacer struct {
	rate  float64
	start time.Time
	n     int
}

func (p *pacer) wait(ctx context.Context) error {
	if p.rate <= 0 {
		return nil
	}
	if p.n == 0 {
		p.start = time.Now()
	}
	due := p.start.Add(time.Duration(float64(p.n) / p.rate * float64(time.Second)))
	p.n++
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
