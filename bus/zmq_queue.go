package bus

import "sync"

// peerQueue is a subscriber's queue of encoded messages: at most max
// messages, grown on demand. It replaces a channel with capacity hwm,
// which allocated hwm slots up front for every subscriber (240 MB for
// the hwm of 10,000,000 that a backfill uses so that nothing is dropped)
// and which the garbage collector scanned whole at every cycle.
type peerQueue struct {
	mu    sync.Mutex
	msgs  [][]byte // msgs[head:] are queued
	head  int
	max   int
	ready chan struct{} // holds a token while messages are queued
}

func newPeerQueue(max int) *peerQueue {
	return &peerQueue{max: max, ready: make(chan struct{}, 1)}
}

// push appends m unless the queue holds max messages already; it never
// blocks.
func (q *peerQueue) push(m []byte) bool {
	q.mu.Lock()
	if len(q.msgs)-q.head >= q.max {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, m)
	first := len(q.msgs)-q.head == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
	return true
}

func (q *peerQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take moves up to n queued messages, oldest first, into buf (cleared
// first) and returns it: at least one, and no more once they reach
// maxBytes. When messages are left behind, ready holds a token again.
func (q *peerQueue) take(buf [][]byte, n int, maxBytes int) [][]byte {
	clear(buf)
	buf = buf[:0]
	q.mu.Lock()
	k := min(n, len(q.msgs)-q.head)
	for i, size := 0, 0; i < k; i++ {
		if size += len(q.msgs[q.head+i]); size >= maxBytes {
			k = i + 1
		}
	}
	buf = append(buf, q.msgs[q.head:q.head+k]...)
	clear(q.msgs[q.head : q.head+k])
	q.head += k
	left := len(q.msgs) - q.head
	switch {
	case left == 0 && cap(q.msgs) > 4096:
		q.msgs, q.head = nil, 0 // give back the memory of a burst
	case left == 0:
		q.msgs, q.head = q.msgs[:0], 0
	case q.head > 1024 && q.head >= left:
		// Compact; amortised O(1) per message.
		copy(q.msgs, q.msgs[q.head:])
		clear(q.msgs[left:])
		q.msgs, q.head = q.msgs[:left], 0
	}
	q.mu.Unlock()
	if left > 0 {
		q.signal()
	}
	return buf
}
