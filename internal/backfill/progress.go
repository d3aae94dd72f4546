package backfill

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how a replay advances: on a terminal a progress bar per
// archive (input bytes, rate, ETA, with the mail count and mails/s in its
// description); otherwise a plain line every few seconds. Only the
// committer goroutine calls it.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	now      func() time.Time

	bar   *progressbar.ProgressBar
	name  string
	size  int64
	pos   int64
	mails int // handled in this file
	total int // handled in all files
	start time.Time
	last  time.Time
}

func newProgress(o *Options) *progress {
	return &progress{w: o.Progress, terminal: o.Terminal, every: o.ProgressEvery, now: o.Now, start: o.Now()}
}

// startFile begins the display of one archive of size input bytes (-1
// when unknown).
func (p *progress) startFile(path string, size int64) {
	if p.w == nil {
		return
	}
	p.endFile()
	p.name, p.size, p.pos, p.mails = filepath.Base(path), size, 0, 0
	p.last = p.now()
	if p.terminal {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowDescriptionAtLineEnd(),
		)
	}
}

// add records one handled mail; inPos is the input bytes read so far.
func (p *progress) add(inPos int64) {
	p.mails++
	p.total++
	if p.w == nil {
		return
	}
	delta := inPos - p.pos
	p.pos = inPos
	if p.bar != nil {
		p.bar.Add64(delta)
		if p.mails%500 == 0 {
			p.bar.Describe(fmt.Sprintf("%s: %d mails, %.0f mails/s", p.name, p.mails, p.rate()))
		}
		return
	}
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "replay: %s: %d mails, %.0f mails/s, %s of %s read%s\n",
			p.name, p.mails, p.rate(), mib(p.pos), mib(p.size), p.eta())
	}
}

func (p *progress) rate() float64 {
	d := p.now().Sub(p.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(p.total) / d
}

func (p *progress) eta() string {
	el := p.now().Sub(p.start)
	if p.size <= 0 || p.pos <= 0 || el <= 0 {
		return ""
	}
	left := time.Duration(float64(el) * float64(p.size-p.pos) / float64(p.pos))
	return ", ETA " + left.Round(time.Second).String()
}

func mib(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func (p *progress) endFile() {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s: %d mails, %.0f mails/s", p.name, p.mails, p.rate()))
		p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}

// finish ends the display and prints the summary.
func (p *progress) finish(s *Summary) {
	if p.w == nil {
		return
	}
	p.endFile()
	fmt.Fprintln(p.w, s.String())
}
