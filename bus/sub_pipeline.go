package bus

import (
	"bufio"
	"errors"
	"runtime"
	"sync"

	"github.com/debian/mailgw/bus/zmtp"
)

// subJob is one received message on its way through the validation
// workers; done is closed when m and ok are set.
type subJob struct {
	frames [][]byte
	m      Message
	ok     bool
	done   chan struct{}
}

// pump reads messages from one connection until it fails and delivers
// the valid ones in arrival order. Parsing and signature checks, the
// costly part, run on GOMAXPROCS workers; an emitter waits for each job
// in turn, so order is kept and a slow consumer still pushes back on the
// connection (and from there on the publisher's high-water mark).
func (s *Subscriber) pump(ep string, r *bufio.Reader) {
	const depth = 256
	jobs := make(chan *subJob, depth)
	order := make(chan *subJob, depth)
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				j.m, j.ok = s.check(ep, j.frames)
				close(j.done)
			}
		}()
	}
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for j := range order {
			<-j.done
			if !j.ok {
				continue
			}
			select {
			case s.ch <- j.m:
			case <-s.ctx.Done():
			}
		}
	}()
	defer func() {
		close(jobs)
		close(order)
		workers.Wait()
		<-emitted
	}()
	for {
		frames, cmd, err := zmtp.ReadMessage(r, s.opts.MaxMessageBytes)
		if errors.Is(err, zmtp.ErrTooBig) {
			s.drop(ep, DropSize, "message over the size limit")
			return
		}
		if err != nil {
			return
		}
		if cmd {
			continue // PING etc.: a libzmq PUB only sends them when asked to
		}
		j := &subJob{frames: frames, done: make(chan struct{})}
		order <- j
		jobs <- j
	}
}
