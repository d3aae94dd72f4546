package journal

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

// TestBackup: the copy answers like the journal (kept bodies byte for
// byte, pruned ranges pruned, unpublished still unpublished), takes the
// pruned range as a hole, and a second backup into the same directory
// is refused.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	j := open(t, filepath.Join(dir, "state", "journal.sqlite"))
	fillPublished(t, j, 50)
	if _, err := j.Add([]*bus.Envelope{bigEnv(51, 51), bigEnv(52, 52)}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Prune(context.Background(), time.Unix(41, 0), time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, err := j.Backup(filepath.Join(dir, "backup"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Path != filepath.Join(dir, "backup", "journal.sqlite") || st.LastSeq != 52 || st.Rows != 52 || st.CopiedBytes >= st.BodiesBytes/4 {
		t.Errorf("stats %+v", st)
	}
	c := open(t, st.Path)
	want, err := j.BySeqRange(41, 52, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.BySeqRange(41, 52, 100)
	if err != nil || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
		t.Fatalf("copy's bodies differ: %d bodies, %v", len(got), err)
	}
	_, err = c.BySeqRange(1, 52, 100)
	wantPruned(t, "copy BySeqRange(1, 52)", err, 40)
	if got := unpublishedSeqs(t, c); got != "[51 52]" {
		t.Errorf("copy's unpublished: %s", got)
	}
	if c.bfile.allocated() > j.bfile.allocated()+8192 {
		t.Errorf("copy's bodies take %d bytes, the journal's %d", c.bfile.allocated(), j.bfile.allocated())
	}
	if _, err := j.Backup(filepath.Join(dir, "backup")); err == nil {
		t.Error("a backup over an existing one was not refused")
	}
}

// TestBackupWhileJournaling: envelopes journaled during the backup do
// not disturb it, and a prune that commits between the database copy
// and the bodies copy is applied to the copy (no body in it reads as
// damaged).
func TestBackupWhileJournaling(t *testing.T) {
	dir := t.TempDir()
	j := open(t, filepath.Join(dir, "journal.sqlite"))
	fillPublished(t, j, 100)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var addErr error
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		for i := 101; ; i += 10 {
			if i == 111 {
				close(started)
			}
			select {
			case <-stop:
				return
			default:
			}
			var envs []*bus.Envelope
			for k := range 10 {
				envs = append(envs, bigEnv(i+k, int64(i+k)))
			}
			added, err := j.Add(envs)
			if err == nil {
				err = j.MarkPublished(seqs(added)...)
			}
			if err != nil {
				addErr = err
				if i == 101 {
					close(started)
				}
				return
			}
		}
	}()
	backupSnapshotHook = func() {
		if _, err := j.Prune(context.Background(), time.Unix(61, 0), time.Time{}); err != nil {
			t.Error(err)
		}
	}
	defer func() { backupSnapshotHook = nil }()
	<-started
	st, err := j.Backup(filepath.Join(dir, "b"))
	close(stop)
	wg.Wait()
	if err != nil || addErr != nil {
		t.Fatal(err, addErr)
	}
	c := open(t, st.Path)
	m, err := c.Pruned()
	if err != nil || m.Through != 60 {
		t.Fatalf("copy's prune mark %+v %v, want through 60", m, err)
	}
	for seq := int64(61); seq <= st.LastSeq; seq++ {
		b, err := c.BySeqRange(seq, seq, 1)
		if err != nil || len(b) != 1 {
			t.Fatalf("copy seq %d: %v", seq, err)
		}
		if e, err := bus.ParseEnvelope(b[0]); err != nil || e.SeqID != seq {
			t.Fatalf("copy seq %d: %v %v", seq, e, err)
		}
	}
	if _, err := c.BySeqRange(1, 60, 100); !errors.Is(err, ErrPruned) {
		t.Errorf("copy: pruned range: %v", err)
	}
	if st.LastSeq <= 100 {
		t.Errorf("copy %+v: nothing journaled during the backup", st)
	}
}
