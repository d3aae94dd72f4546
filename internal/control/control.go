// Package control is serve's local control socket and its protocol
// (docs/replay.md, "Backfill into a running serve"): "mailgw replay" hands
// serve the mails of an archive over it, and serve journals and publishes
// them beside live mail, live mail first.
//
// The socket is <state_dir>/control.sock, a Unix stream socket of mode
// 0660 created by serve and removed when it stops; who may write to it
// (serve's user and group) may hand serve a backfill. The archive is read
// by the client: serve may not be allowed to read the operator's files.
//
// # Protocol
//
// Both sides send frames: a type byte, the payload length (4 bytes, big
// endian) and the payload. Control frames carry one JSON object (at most
// MaxControlFrame bytes); a mail frame carries the mail's index and byte
// offset in its archive (8 bytes each, big endian) and the mail.
//
//	client                               serve
//	J  Job {version, trust_archive, ...} →
//	                                      ← A  Accepted {job, max_mail}   or  X  {error}, close
//	F  File {name, size}                 →
//	M  index, offset, mail  (repeated)   →
//	                                      ← P  Progress {file, received, through, ...}  (repeated)
//	E  end of file                       →
//	                                      ← S  FileDone {summary, error}
//	F ... E (next archive)  or  close
//
// Progress frames come at most every ProgressEvery while the file runs.
// Through is the index of the last mail (of the archive being sent) whose
// events are journaled, with every mail sent before it: the client may
// move its checkpoint there. A connection closed (or cut short) in the
// middle of a file cancels the job: what was journaled stays journaled,
// the rest is dropped, and serve still sends the last Progress and a
// FileDone with the cancellation as error to a client that is reading.
//
// # Bounds
//
// A client cannot make serve hold more than one mail of at most
// Accepted.MaxMail bytes per connection beyond what the backfill itself
// has in flight (bounded queues), nor hang it: a frame must arrive within
// IdleTimeout (the Job within HelloTimeout), a frame to the client must be
// written within WriteTimeout, at most MaxConns connections are served and
// at most MaxJobs jobs run at a time; a connection over either bound gets
// an X frame naming the bound and is closed.
package control

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/debian/mailgw/internal/backfill"
)

// SocketName is the control socket's name in the state directory.
const SocketName = "control.sock"

// Version is the protocol version a Job names.
const Version = 1

// Frame types.
const (
	FrameJob      = 'J'
	FrameAccepted = 'A'
	FrameFile     = 'F'
	FrameMail     = 'M'
	FrameEnd      = 'E'
	FrameProgress = 'P'
	FrameFileDone = 'S'
	FrameError    = 'X'
)

// MaxControlFrame bounds the payload of a control (JSON) frame.
const MaxControlFrame = 64 << 10

// mailHeader is the index and offset before a mail frame's mail.
const mailHeader = 16

// Job is what the client asks serve to do with the mails it sends.
type Job struct {
	Version int `json:"version"`
	// TrustArchive: the operator vouches for the archives (replay
	// --trust-archive, docs/trust.md).
	TrustArchive bool `json:"trust_archive"`
	// BatchSize is the number of mails per journal transaction (0: the
	// default).
	BatchSize int `json:"batch_size,omitempty"`
	// Client names the client for serve's log (command, pid).
	Client string `json:"client,omitempty"`
}

// Accepted is serve's answer to a Job it runs.
type Accepted struct {
	// Job numbers the jobs of this serve.
	Job int64 `json:"job"`
	// MaxMail is the largest mail serve takes; the client skips (and
	// reports) larger ones.
	MaxMail int64 `json:"max_mail"`
}

// File starts the mails of one archive.
type File struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Progress is how far serve is with the archive being sent.
type Progress struct {
	File int `json:"file"` // counts the File frames of the job from 0
	// Received is the number of mails serve has read of this file.
	Received int `json:"received"`
	// Through is the index of the last mail whose events are journaled
	// (every mail sent before it too); -1 for none yet. Offset is its
	// byte offset.
	Through int   `json:"through"`
	Offset  int64 `json:"offset"`
	// New and Duplicates count the events journaled as new and those
	// journaled already, Quarantined the mails without an event.
	New         int `json:"new"`
	Duplicates  int `json:"duplicates"`
	Quarantined int `json:"quarantined"`
}

// FileDone ends a file: its summary and, when it did not complete, why.
type FileDone struct {
	Summary backfill.Summary `json:"summary"`
	Error   string           `json:"error,omitempty"`
}

// Error is an X frame's payload: serve refused or ended the job.
type Error struct {
	Text string `json:"error"`
}

// Error implements error.
func (e *Error) Error() string { return "serve: " + e.Text }

// ErrFrameTooBig is matched by the error of a frame over its bound.
var ErrFrameTooBig = errors.New("control: frame too big")

// writeFrame writes one frame.
func writeFrame(w io.Writer, typ byte, payload ...[]byte) error {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(n))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	for _, p := range payload {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// writeJSON writes a control frame carrying v.
func writeJSON(w io.Writer, typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxControlFrame {
		return fmt.Errorf("%w: %c frame of %d bytes", ErrFrameTooBig, typ, len(b))
	}
	return writeFrame(w, typ, b)
}

// readHeader reads a frame's type and payload length.
func readHeader(r io.Reader) (byte, int64, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, err
	}
	return h[0], int64(binary.BigEndian.Uint32(h[1:])), nil
}

// readPayload reads a payload of n bytes, refusing more than limit
// without reading it. buf is reused when it is large enough.
func readPayload(r io.Reader, typ byte, n, limit int64, buf []byte) ([]byte, error) {
	if n > limit {
		return nil, fmt.Errorf("%w: %c frame of %d bytes (at most %d)", ErrFrameTooBig, typ, n, limit)
	}
	if int64(cap(buf)) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// decodeJSON reads a control frame's payload into v, refusing unknown
// fields.
func decodeJSON(typ byte, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("control: bad %c frame: %w", typ, err)
	}
	return nil
}

// mailFrame returns the header of a mail frame.
func mailFrame(index int, offset int64) []byte {
	var h [mailHeader]byte
	binary.BigEndian.PutUint64(h[:8], uint64(index))
	binary.BigEndian.PutUint64(h[8:], uint64(offset))
	return h[:]
}
