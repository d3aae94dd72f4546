package bus

import (
	"strconv"
	"testing"
)

// TestPeerQueue checks order, the bound, the ready token and that
// compaction and shrinking keep every message exactly once.
func TestPeerQueue(t *testing.T) {
	q := newPeerQueue(5000)
	next, want := 0, 0
	push := func(n int) {
		for range n {
			if !q.push([]byte(strconv.Itoa(next))) {
				t.Fatalf("push %d refused below the bound", next)
			}
			next++
		}
	}
	var buf [][]byte
	take := func(n int) {
		select {
		case <-q.ready:
		default:
			t.Fatalf("no ready token with %d queued", next-want)
		}
		buf = q.take(buf, n, 1<<30)
		for _, m := range buf {
			if string(m) != strconv.Itoa(want) {
				t.Fatalf("got message %s, want %d", m, want)
			}
			want++
		}
	}
	push(5000)
	if q.push([]byte("x")) {
		t.Fatal("push beyond the bound of 5000 accepted")
	}
	for range 10 { // past the compaction threshold, with messages left
		take(256)
		push(100)
	}
	for next > want {
		take(300)
	}
	select {
	case <-q.ready:
		t.Fatal("ready token left on an empty queue")
	default:
	}
	if q.msgs != nil || q.head != 0 {
		t.Fatalf("drained queue keeps %d slots (head %d)", cap(q.msgs), q.head)
	}
	push(1)
	take(10)
	if want != next {
		t.Fatalf("took %d of %d messages", want, next)
	}
}
