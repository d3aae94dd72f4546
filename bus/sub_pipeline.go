package bus

import (
	"bufio"
	"errors"
	"io"
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
	// pong, when set, is the answer to a PING: the emitter sends it once
	// every message before the PING is delivered.
	pong []byte
}

// pump reads messages from one connection until it fails and delivers
// the valid ones in arrival order. Parsing and signature checks, the
// costly part, run on GOMAXPROCS workers; an emitter waits for each job
// in turn, so order is kept and a slow consumer still pushes back on the
// connection (and from there on the publisher's high-water mark).
//
// A PING from the publisher is answered once every message before it is
// delivered: mailgw's publisher measures so how far behind a subscriber
// reads (ZMQPublisher.Lag).
func (s *Subscriber) pump(ep string, r *bufio.Reader, w io.Writer) {
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
			if j.pong != nil {
				w.Write(j.pong) // a failed write ends the reader too
				continue
			}
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
		if cmd { // PING (see above); other commands are ignored
			if name, data, ok := zmtp.ParseCommand(frames[0]); ok && name == zmtp.CmdPing {
				if pong, ok := zmtp.Pong(data); ok {
					j := &subJob{pong: pong, done: make(chan struct{})}
					close(j.done)
					order <- j
				}
			}
			continue
		}
		j := &subJob{frames: frames, done: make(chan struct{})}
		order <- j
		jobs <- j
	}
}
