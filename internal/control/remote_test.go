package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/backfill"
)

// cancelAt is a handler that cancels the client's run once it has read
// the mail at index at (of the first run).
type cancelAt struct {
	*fakeHandler
	at     int
	cancel context.CancelFunc
}

func (h *cancelAt) Backfill(ctx context.Context, job Job, f *FileRun) (backfill.Summary, error) {
	src := f.Source
	f.Source = readerFunc{src, func(m archive.Mail) {
		if m.Index == h.at && h.cancel != nil {
			h.cancel()
		}
	}}
	return h.fakeHandler.Backfill(ctx, job, f)
}

type readerFunc struct {
	archive.Reader
	seen func(archive.Mail)
}

func (r readerFunc) Next() (archive.Mail, error) {
	m, err := r.Reader.Next()
	if err == nil {
		r.seen(m)
	}
	return m, err
}

// writeMbox writes n mails of some 2 KiB: more than the socket buffers,
// so that a replay cancelled in the middle is still sending.
func writeMbox(t *testing.T, path string, n int) {
	pad := strings.Repeat("padding line of a test mail, to make it longer\n", 40)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := archivetest.NewMboxWriter(f)
	for i := range n {
		w.Write("a@example.org", time.Unix(int64(i), 0), fmt.Appendf(nil, "Subject: %d\nDate: %s\n\nbody %d\n%s", i, time.Unix(1e9+int64(i), 0).UTC().Format(time.RFC1123Z), i, pad))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestRunRemoteResume: a replay interrupted in the middle (Ctrl-C) and
// run again hands serve every mail, the rerun none that serve reported
// journaled before the interruption; a third run sends nothing.
func TestRunRemoteResume(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	mbox := filepath.Join(dir, "a.mbox")
	writeMbox(t, mbox, n)
	h := &cancelAt{fakeHandler: newFake(50), at: 1200}
	h.delay = 20 * time.Microsecond
	_, path := startServer(t, h, nil)
	cpDir := filepath.Join(dir, "replay")
	run := func(ctx context.Context) (backfill.Summary, error) {
		c := dialStart(t, path)
		defer c.Close()
		return backfill.RunRemote(ctx, backfill.Options{CheckpointDir: cpDir, CheckpointEvery: 100}, []string{mbox}, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	s1, err := run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want cancelled", err)
	}
	first := slices.Clone(h.mails[mbox])
	h.mails[mbox] = nil
	h.cancel = nil
	s2, err := run(context.Background())
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	second := h.mails[mbox]
	if len(second) == 0 || s2.Resumed == 0 {
		t.Fatalf("second run sent %d mails, resumed %d", len(second), s2.Resumed)
	}
	// The rerun starts right after what the first run's checkpoint
	// covered, which is what serve acked: at most a few mails are sent
	// twice (serve read them, the cancel came before they were
	// journaled), none is missing.
	if second[0] != s2.Resumed {
		t.Errorf("second run starts at mail %d after resuming %d", second[0], s2.Resumed)
	}
	if s2.Resumed < first[len(first)-1]-200 || s2.Resumed > first[len(first)-1]+1 {
		t.Errorf("resumed %d mails; first run read through %d", s2.Resumed, first[len(first)-1])
	}
	all := map[int]bool{}
	for _, i := range append(first, second...) {
		all[i] = true
	}
	if len(all) != n {
		t.Errorf("serve saw %d distinct mails of %d", len(all), n)
	}
	if s1.New+s2.New < n || s2.New != len(second) {
		t.Errorf("summaries: first %d new, second %d new (%d sent)", s1.New, s2.New, len(second))
	}
	h.mails[mbox] = nil
	s3, err := run(context.Background())
	if err != nil || len(h.mails[mbox]) != 0 || s3.Mails != 0 {
		t.Errorf("third run: %v, sent %d mails, summary %v", err, len(h.mails[mbox]), s3.String())
	}
}

// TestRunRemoteServeGone: serve going away in the middle ends the replay
// with an error, and the checkpoint holds what serve acked.
func TestRunRemoteServeGone(t *testing.T) {
	dir := t.TempDir()
	mbox := filepath.Join(dir, "a.mbox")
	writeMbox(t, mbox, 2000)
	h := newFake(10)
	h.delay = 100 * time.Microsecond
	srv, path := startServer(t, h, nil)
	c := dialStart(t, path)
	go func() {
		for {
			h.mu.Lock()
			k := len(h.mails[mbox])
			h.mu.Unlock()
			if k >= 500 {
				srv.Close()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	cpDir := filepath.Join(dir, "replay")
	_, err := backfill.RunRemote(context.Background(), backfill.Options{CheckpointDir: cpDir, CheckpointEvery: 1}, []string{mbox}, c)
	if err == nil {
		t.Fatal("replay into a serve that went away succeeded")
	}
	cpFile, _ := backfill.CheckpointFile(cpDir, mbox)
	data, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	t.Logf("checkpoint %s", data)
	if !strings.Contains(string(data), `"done": false`) {
		t.Errorf("checkpoint says done: %s", data)
	}
}
