package amqpout

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
)

// recConn is the socket under a heldConn: it records each Write call.
type recConn struct {
	net.Conn // nil: only Write and Close are called
	mu       sync.Mutex
	writes   [][]byte
	fail     error
	closed   bool
}

func (r *recConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recConn) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// calls returns the number of Write calls and all bytes written.
func (r *recConn) calls() (int, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes), bytes.Join(r.writes, nil)
}

func TestHeldConnPassesThroughWhenNotHeld(t *testing.T) {
	r := &recConn{}
	h := &heldConn{Conn: r}
	for _, s := range []string{"one", "two", "three"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if n, all := r.calls(); n != 3 || string(all) != "onetwothree" {
		t.Errorf("not held: %d writes of %q, want 3 of %q", n, all, "onetwothree")
	}
}

func TestHeldConnKeepsUntilRelease(t *testing.T) {
	r := &recConn{}
	h := &heldConn{Conn: r}
	h.Write([]byte("before;"))
	h.hold()
	var want bytes.Buffer
	for i := range 100 {
		p := fmt.Appendf(nil, "frame %d;", i)
		want.Write(p)
		if n, err := h.Write(p); n != len(p) || err != nil {
			t.Fatalf("held Write = %d, %v", n, err)
		}
	}
	if n, _ := r.calls(); n != 1 {
		t.Fatalf("%d writes reached the socket while held, want only the one before hold", n-1)
	}
	if err := h.release(); err != nil {
		t.Fatal(err)
	}
	n, all := r.calls()
	if n != 2 {
		t.Errorf("release made %d writes, want 1", n-1)
	}
	if got := string(all); got != "before;"+want.String() {
		t.Errorf("bytes on the socket differ from those written:\n got %q\nwant %q", got, "before;"+want.String())
	}
	// Released: the next write goes out at once, and a second release
	// writes nothing.
	h.Write([]byte("after"))
	if err := h.release(); err != nil {
		t.Fatal(err)
	}
	if n, all := r.calls(); n != 3 || !bytes.HasSuffix(all, []byte(";after")) {
		t.Errorf("after release: %d writes ending %q", n, all[max(0, len(all)-10):])
	}
}

func TestHeldConnFlushesAtMaxHeld(t *testing.T) {
	r := &recConn{}
	h := &heldConn{Conn: r}
	h.hold()
	chunk := bytes.Repeat([]byte("x"), maxHeld/4+1)
	var want bytes.Buffer
	for i := range 10 {
		chunk[0] = byte('0' + i)
		want.Write(chunk)
		h.Write(chunk)
		if len(h.buf) > maxHeld {
			t.Fatalf("%d bytes held, more than maxHeld %d", len(h.buf), maxHeld)
		}
	}
	// Three chunks fit in maxHeld: the fourth and the eighth each send
	// the three held before them and themselves; the last two wait.
	if n, _ := r.calls(); n != 4 {
		t.Fatalf("%d writes for 10 chunks of a quarter of maxHeld held, want 4", n)
	}
	if err := h.release(); err != nil {
		t.Fatal(err)
	}
	n, all := r.calls()
	if n != 5 {
		t.Errorf("release made %d writes, want 1", n-4)
	}
	if !bytes.Equal(all, want.Bytes()) {
		t.Errorf("bytes on the socket differ from those written (%d against %d bytes)", len(all), want.Len())
	}
}

// TestHeldConnConcurrentWriters writes from several goroutines while
// the sender holds and releases, as amqp091's heartbeats and replies do
// beside the publishes: every write arrives whole and each writer's in
// its order.
func TestHeldConnConcurrentWriters(t *testing.T) {
	r := &recConn{}
	h := &heldConn{Conn: r}
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h.Write(fmt.Appendf(nil, "<%d:%d>", w, i))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for held := true; ; held = !held {
		select {
		case <-done:
			if err := h.release(); err != nil {
				t.Fatal(err)
			}
			_, all := r.calls()
			next := make([]int, writers)
			for _, f := range bytes.SplitAfter(all, []byte(">")) {
				if len(f) == 0 {
					continue
				}
				var w, i int
				if _, err := fmt.Sscanf(string(f), "<%d:%d>", &w, &i); err != nil || w < 0 || w >= writers {
					t.Fatalf("torn or foreign write %q (%v)", f, err)
				}
				if i != next[w] {
					t.Fatalf("writer %d: write %d after %d", w, i, next[w]-1)
				}
				next[w]++
			}
			for w, n := range next {
				if n != each {
					t.Errorf("writer %d: %d writes arrived, want %d", w, n, each)
				}
			}
			return
		default:
		}
		if held {
			h.hold()
		} else if err := h.release(); err != nil {
			t.Fatal(err)
		}
	}
}

// A failed write of what was held closes the socket (amqp091 took
// those bytes as written) and release reports it.
func TestHeldConnFailedFlush(t *testing.T) {
	r := &recConn{}
	h := &heldConn{Conn: r}
	h.hold()
	h.Write([]byte("lost"))
	r.fail = errors.New("broken pipe")
	if err := h.release(); err == nil || err.Error() != "broken pipe" {
		t.Errorf("release = %v, want the write's error", err)
	}
	if !r.closed {
		t.Error("socket left open after a failed write of held bytes")
	}
	if len(h.buf) != 0 {
		t.Errorf("%d bytes still held after the failed write", len(h.buf))
	}
}
