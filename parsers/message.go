package parsers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Message is a mail decoded once for all parsers: header values unfolded
// and RFC 2047 decoded, bodies decoded from their transfer encoding and
// charset, nested message/rfc822 parts parsed recursively.
//
// ReadMessage never fails on bad content: what it could not decode is
// listed in Defects and the rest is still filled in.
type Message struct {
	// Raw is the mail exactly as received (an mbox "From " line removed).
	// It shares memory with the slice given to ReadMessage.
	Raw []byte
	// Header holds the decoded header fields in order.
	Header Header
	// MessageID is the Message-ID without angle brackets ("" if absent).
	MessageID string
	// Date is the parsed Date header, zero when absent or unparsable.
	Date time.Time
	// From and Subject are the decoded header values.
	From, Subject string
	// ContentType is the lower-cased media type of the whole mail
	// ("text/plain" when the header has none).
	ContentType string
	// Text is the decoded text of the body: the first text/plain part (or
	// the whole body when it is not multipart), bounded to MaxText bytes.
	// When a multipart mail has no text/plain part, it is the first text/*
	// part. Line ends are "\n".
	Text string
	// Parts are the leaf parts in document order, decoded and bounded.
	// A message/rfc822 part is a leaf here too (with no Text); its parsed
	// form is in Attached.
	Parts []Part
	// Attached are the message/rfc822 parts, parsed recursively (depth
	// bounded by MaxAttachDepth).
	Attached []*Message
	// Defects lists what could not be decoded, in readable words.
	Defects []string
}

// Part is one decoded leaf part of a mail.
type Part struct {
	// ContentType is the lower-cased media type, e.g. "text/plain".
	ContentType string
	// Params are the Content-Type parameters (charset, name, …).
	Params map[string]string
	// Filename is the Content-Disposition file name, if any.
	Filename string
	// Text is the decoded text for text/* parts ("" for other types),
	// bounded to MaxText bytes. Line ends are "\n".
	Text string
	// Raw is the part body after transfer decoding, before charset
	// decoding (bounded to MaxText bytes). Signature checks use it.
	Raw []byte
	// Disposition is the lower-cased Content-Disposition ("inline",
	// "attachment" or "").
	Disposition string
	// Entity is the part exactly as it stands in the mail, its MIME header
	// included, before any decoding (not bounded; shares memory with
	// Message.Raw). A multipart/signed signature covers these bytes
	// (with line ends made CRLF).
	Entity []byte
}

// Field is one header field, its value unfolded and decoded to UTF-8.
type Field struct {
	Key   string
	Value string
}

// MaxText bounds every decoded text kept in a Message (64 KiB).
const MaxText = 64 << 10

// Limits on what ReadMessage keeps of one mail, attachments included.
const (
	// MaxParts bounds the leaf parts kept over the whole mail.
	MaxParts = 1000
	// MaxDepth bounds MIME nesting (multipart and message/rfc822 levels).
	MaxDepth = 16
	// MaxAttachDepth bounds how deep message/rfc822 parts are parsed.
	MaxAttachDepth = 8
	// MaxDecoded bounds the decoded bytes (texts and decoded bodies)
	// kept over the whole mail; parts beyond it keep no Text.
	MaxDecoded = 8 << 20
)

// Errors of ReadMessage. Any other imperfection is a Defect, not an error.
var (
	// ErrEmpty: the input is empty or only white space.
	ErrEmpty = errors.New("empty mail")
	// ErrNoHeader: the input does not start with a header field, so
	// there is no From, Subject or any header to classify by.
	ErrNoHeader = errors.New("not a mail: it does not start with a header field")
)

// ReadMessage decodes one mail. A leading mbox "From " line is dropped.
// The returned Message shares memory with raw, which must not be changed
// afterwards.
//
// It returns an error only for input that has no header at all (ErrEmpty,
// ErrNoHeader); every other fault — broken MIME boundaries, unknown
// charsets, invalid UTF-8, NUL bytes, truncated base64 — is recorded in
// Defects and parsing goes on with what is readable. Work and memory are
// bounded by MaxText, MaxParts, MaxDepth, MaxAttachDepth and MaxDecoded.
func ReadMessage(raw []byte) (*Message, error) {
	st := &readState{partsLeft: MaxParts, budget: MaxDecoded}
	return st.read(raw, nil, 0, 0)
}

// Identity returns the source mail identity for msg_id: "mid:" plus the
// Message-ID when the mail has one, else "sha256:" plus the hash of the raw
// bytes.
func (m *Message) Identity() string {
	var b strings.Builder
	b.Grow(m.identityLen())
	m.writeIdentity(&b)
	return b.String()
}

// identityLen is the length of m.Identity().
func (m *Message) identityLen() int {
	if m.MessageID != "" {
		return len("mid:") + len(m.MessageID)
	}
	return len("sha256:") + hex.EncodedLen(sha256.Size)
}

// writeIdentity writes m.Identity() to b.
func (m *Message) writeIdentity(b *strings.Builder) {
	if m.MessageID != "" {
		b.WriteString("mid:")
		b.WriteString(m.MessageID)
		return
	}
	sum := sha256.Sum256(m.Raw)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	b.WriteString("sha256:")
	b.Write(h[:])
}

// stripFromLine drops a leading mbox "From " envelope line.
func stripFromLine(raw []byte) []byte {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return raw
	}
	if i := bytes.IndexByte(raw, '\n'); i >= 0 {
		return raw[i+1:]
	}
	return raw[:0]
}

// isBlank reports whether b holds only white space.
func isBlank(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', '\f', '\v':
		default:
			return false
		}
	}
	return true
}
