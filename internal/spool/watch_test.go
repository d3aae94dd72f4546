package spool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCleanTmp(t *testing.T) {
	s := newSpool(t)
	old := filepath.Join(s.Dir(), "tmp", "old")
	fresh := filepath.Join(s.Dir(), "tmp", "fresh")
	os.WriteFile(old, []byte("half a mail"), 0o640)
	os.WriteFile(fresh, []byte("being written"), 0o640)
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	n, err := s.CleanTmp(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTmp = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale tmp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh tmp file removed: %v", err)
	}
}

// recv waits for the next name from ch (the watch is event-driven; the
// deadline only stops a broken test from hanging).
func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no name from Watch")
		return ""
	}
}

func TestWatch(t *testing.T) {
	s := newSpool(t)
	before, err := s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch); got != before {
		t.Fatalf("first name %q, want the mail spooled before the watch %q", got, before)
	}
	after, err := s.Deliver(strings.NewReader(testMail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch); got != after {
		t.Fatalf("got %q, want %q", got, after)
	}
	// A requeued mail moves into new/ and is seen too.
	if err := s.Quarantine(after, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Requeue(after); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch); got != after {
		t.Fatalf("requeued: got %q, want %q", got, after)
	}
	cancel()
	for range ch {
	}
}

func TestQuarantine(t *testing.T) {
	s := newSpool(t)
	s.QuarantineDir = filepath.Join(t.TempDir(), "q")
	mail := "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\nSubject: hello\r\n world\r\nMessage-ID: <q1@example.org>\r\n\r\nbody\r\n"
	name, err := s.Deliver(strings.NewReader(mail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(name, "no rule matched\n(from: x)"); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s.Pending(); len(pend) != 0 {
		t.Fatalf("still in new/: %v", pend)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	e := list[0]
	if e.Name != name || e.Reason != "no rule matched (from: x)" || e.Size != int64(len(mail)) {
		t.Errorf("entry %+v", e)
	}
	reason, raw, err := s.Show(name)
	if err != nil || string(raw) != mail {
		t.Fatalf("Show mail %q, %v", raw, err)
	}
	for _, want := range []string{"reason: no rule matched (from: x)\n", "message-id: <q1@example.org>\n", "from: Jörg <j@example.org>\n", "subject: hello world\n", "time: 20"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason file lacks %q:\n%s", want, reason)
		}
	}
	if err := s.Requeue(name); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("quarantine after requeue: %v", list)
	}
	if got, err := s.Read(name); err != nil || string(got) != mail {
		t.Errorf("requeued mail %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(s.QuarantineDir, name+ReasonSuffix)); !os.IsNotExist(err) {
		t.Errorf("reason file kept after requeue")
	}
	// RequeueAll.
	for range 3 {
		n, _ := s.Deliver(strings.NewReader(mail), 0)
		s.Quarantine(n, "r")
	}
	if n, err := s.RequeueAll(); n != 3 || err != nil {
		t.Errorf("RequeueAll = %d, %v", n, err)
	}
	if pend, _ := s.Pending(); len(pend) != 4 {
		t.Errorf("pending %d, want 4", len(pend))
	}
	if err := s.Requeue("nonexistent"); err == nil {
		t.Error("Requeue of an unknown name succeeded")
	}
}
