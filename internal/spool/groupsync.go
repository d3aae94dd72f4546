package spool

import (
	"os"
	"sync"
)

// dirSyncer is a group commit for directory fsyncs: each caller needs one
// fsync of the directory that starts after its own rename, and concurrent
// callers share it. With 50 SMTP sessions delivering at once this turns
// 50 directory fsyncs into one or two.
type dirSyncer struct {
	dir       string
	mu        sync.Mutex
	cond      *sync.Cond
	running   bool
	started   uint64 // generation of the latest fsync started
	completed uint64 // generation of the latest fsync finished
	err       error  // result of generation completed
}

func newDirSyncer(dir string) *dirSyncer {
	d := &dirSyncer{dir: dir}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// sync returns once an fsync of the directory that started after the call
// has finished, with that fsync's error.
func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A running fsync may have started before our rename: we need the
	// next generation.
	target := d.started + 1
	for d.completed < target {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		gen := d.started
		d.mu.Unlock()
		err := syncDir(d.dir)
		d.mu.Lock()
		d.running = false
		d.completed, d.err = gen, err
		d.cond.Broadcast()
	}
	return d.err
}

// syncDir fsyncs a directory so that a rename into it is durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
