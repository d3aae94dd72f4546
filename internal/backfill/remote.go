package backfill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/debian/mailgw/internal/archive"
)

// Remote is a running serve that takes the mails of a replay over its
// control socket (internal/control's Client): serve parses, journals and
// publishes them; RunRemote reads the archives, filters, paces and keeps
// the checkpoints.
type Remote interface {
	// StartFile starts an archive of size input bytes (-1 unknown);
	// serve calls acked (from another goroutine) each time the events of
	// every mail up to index are journaled.
	StartFile(name string, size int64, acked func(index int, offset int64)) error
	// Send hands over one mail; it blocks while serve is behind.
	Send(m archive.Mail) error
	// Flush sends what Send buffered.
	Flush() error
	// EndFile ends the archive and returns serve's summary of it.
	EndFile(ctx context.Context) (Summary, error)
	// Abort cancels the archive: serve keeps what it journaled, tells
	// (acked) how far that is and returns its summary.
	Abort(wait time.Duration) (Summary, error)
}

// RunRemote replays files into a running serve through r. Options used:
// Since, Until, AllRecords, Rate, MaxMail (the archive reader's bound),
// CheckpointDir, CheckpointEvery, Restart, Progress, Terminal,
// ProgressEvery, Logger, Now. Serve's summaries give the counts of
// events, new, duplicates, quarantined and topics.
func RunRemote(ctx context.Context, o Options, files []string, r Remote) (Summary, error) {
	o.defaults()
	o.Mode = ModePublish // for loadCheckpoint: checkpoints are kept
	s := Summary{Topics: map[string]int{}, Reasons: map[string]int{}}
	start := o.Now()
	prog := newProgress(&o)
	defer func() { prog.finish(&s) }()
	for _, f := range files {
		s.Files++
		err := runRemoteFile(ctx, &o, f, &s, prog, r)
		s.Elapsed = o.Now().Sub(start)
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// remoteCheckpoint is the checkpoint of a file sent to serve: serve's
// acks move it from the reading goroutine of the connection.
type remoteCheckpoint struct {
	mu    sync.Mutex
	c     committer // for saveCheckpoint
	since int       // mails acked since the last write
	err   error     // the first failed write
}

func (rc *remoteCheckpoint) ack(index int, offset int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if index <= rc.c.cp.Index {
		return
	}
	rc.since += index - rc.c.cp.Index
	rc.c.cp.Index, rc.c.cp.Offset = index, offset
	if rc.since >= rc.c.o.CheckpointEvery {
		rc.since = 0
		if err := rc.c.saveCheckpoint(); err != nil && rc.err == nil {
			rc.err = err
		}
	}
}

func (rc *remoteCheckpoint) save(done bool) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.c.cp.Done = done
	if err := rc.c.saveCheckpoint(); err != nil {
		return err
	}
	return rc.err
}

func runRemoteFile(ctx context.Context, o *Options, path string, s *Summary, prog *progress, r Remote) error {
	ar, err := archive.Open(path, archive.Options{MaxMail: o.MaxMail})
	if err != nil {
		s.Errors++
		o.Logger.Error("replay: cannot open archive", "file", path, "err", err)
		return nil
	}
	defer ar.Close()
	cp, err := loadCheckpoint(o, path)
	if err != nil {
		return err
	}
	if cp.Done {
		o.Logger.Info("replay: archive already replayed (checkpoint); skipping", "file", path, "mails", cp.Index+1)
		return nil
	}
	_, size := ar.Progress()
	prog.startFile(path, size)
	rc := &remoteCheckpoint{c: committer{o: o, cp: cp}}
	if err := r.StartFile(path, size, rc.ack); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan *item, 256)
	readErr := make(chan error, 1)
	go func() { readErr <- produce(rctx, o, ar, cp.Index, items) }()

	var sendErr error
	for sendErr == nil {
		var it *item
		var ok bool
		select {
		case it, ok = <-items:
		default:
			// Nothing read yet (a slow archive or --rate): send what
			// is buffered so that serve journals it meanwhile.
			if sendErr = r.Flush(); sendErr != nil {
				continue
			}
			it, ok = <-items
		}
		if !ok {
			break
		}
		switch it.what {
		case itemError:
			s.Errors++
			o.Logger.Error("replay: damaged archive", "err", it.err)
		case itemResumed:
			s.Resumed++
		case itemFiltered:
			s.Mails++
			s.Filtered++
		case itemMail:
			s.Mails++
			s.Bytes += int64(len(it.mail.Data))
			sendErr = r.Send(it.mail)
		}
		prog.add(it.inPos)
	}
	cancel()
	for range items { // let the reader stop
	}
	perr := <-readErr
	var rs Summary
	switch {
	case sendErr == nil && ctx.Err() == nil:
		rs, err = r.EndFile(ctx)
	default:
		rs, err = r.Abort(10 * time.Second)
		if sendErr != nil {
			err = sendErr // the cause; Abort only confirms it
		} else if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
	}
	mergeRemote(s, &rs)
	if err == nil && perr != nil && !errors.Is(perr, context.Canceled) {
		err = perr
	}
	if err != nil {
		if serr := rc.save(false); serr != nil {
			o.Logger.Warn("replay: checkpoint", "err", serr)
		}
		return fmt.Errorf("replay: %s: %w", path, err)
	}
	return rc.save(true)
}

// mergeRemote adds serve's summary of a file to s.
func mergeRemote(s, rs *Summary) {
	s.Events += rs.Events
	s.New += rs.New
	s.Duplicates += rs.Duplicates
	s.Quarantined += rs.Quarantined
	s.Errors += rs.Errors
	for k, v := range rs.Topics {
		s.Topics[k] += v
	}
	for k, v := range rs.Reasons {
		s.Reasons[k] += v
	}
}
