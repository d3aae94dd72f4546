package bus

import (
	"bufio"
	"io"
	"sync"
)

// dropCounter counts dropped messages by reason.
type dropCounter struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (d *dropCounter) add(reason string) {
	d.mu.Lock()
	if d.n == nil {
		d.n = map[string]uint64{}
	}
	d.n[reason]++
	d.mu.Unlock()
}

func (d *dropCounter) total() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var t uint64
	for _, v := range d.n {
		t += v
	}
	return t
}

func (d *dropCounter) snapshot() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(d.n))
	for k, v := range d.n {
		out[k] = v
	}
	return out
}

// newReader buffers a subscriber connection for frame reading.
func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 256<<10) }
