package backfill

import (
	"bufio"
	"bytes"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
)

// worker prepares (pipeline.Preparer) and in ModePublish signs one
// mail; it is shared by the worker goroutines; its only mutable state is
// the (locked) dupGate.
type worker struct {
	o    *Options
	prep *pipeline.Preparer
	gate dupGate // ModePublish: which envelopes to look up before signing
}

// prepare fills it.envs, it.dups and it.reason, or it.fatal. A parser
// panic is recovered by the Preparer and counts as a quarantine reason,
// as in serve.
func (w *worker) prepare(it *item) {
	// In ModeSpool serve judges the spooled mail: the envelopes built
	// here only name the msg_ids that the pre-check below looks up.
	in := pipeline.Intake{Origin: spool.Origin{Replayed: true, TrustArchive: w.o.TrustArchive}, Unjudged: w.o.Mode == ModeSpool}
	pp := w.prep.Prepare(it.mail.Data, in)
	if pp.Panic != nil {
		w.o.Logger.Error("replay: parser panic", "mail", it.mail.Index, "offset", it.mail.Offset, "panic", strings.TrimPrefix(pp.Quarantine, "parser panic: "))
	}
	switch {
	case pp.Held != "":
		if w.o.Mode == ModePublish {
			it.fatal = fmt.Errorf("%w: %s (run the same command again later: it resumes at this mail)", pipeline.ErrHeld, pp.Held)
			return
		}
		it.reason = "held: " + pp.Held
		return
	case pp.Quarantine != "":
		it.reason, it.kind = pp.Quarantine, pp.QuarantineKind
		return
	}
	it.envs = pp.Envelopes
	it.dups = make([]bool, len(it.envs))
	if w.o.Mode == ModeDryRun {
		return
	}
	if w.o.Journal != nil {
		for i, env := range it.envs {
			if w.o.Mode == ModePublish && !w.gate.want() {
				continue // Journal.Add drops it if it is a duplicate
			}
			has, err := w.o.Journal.Seen(env)
			if err != nil {
				it.fatal = err
				return
			}
			it.dups[i] = has
			w.gate.record(has)
		}
	}
	if w.o.Mode != ModePublish {
		return
	}
	if err := pp.Sign(w.o.Signer, w.o.Config.SignMessages, it.dups); err != nil {
		it.fatal = err
		return
	}
	if pp.Quarantine != "" { // an envelope without a canonical form
		it.envs, it.dups = nil, nil
		it.reason, it.kind = pp.Quarantine, pp.QuarantineKind
	}
}

// headerDate returns the Date header of raw, zero when absent or
// unparsable. It reads only the header, so filtering by date costs little.
func headerDate(raw []byte) time.Time {
	end := bytes.Index(raw, []byte("\n\n"))
	if end < 0 {
		end = len(raw)
	} else {
		end++
	}
	if e := bytes.Index(raw[:end], []byte("\r\n\r\n")); e >= 0 {
		end = e + 2
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[:end]))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return time.Time{}
	}
	t, err := mail.ParseDate(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}
