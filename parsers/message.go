package parsers

import (
	"crypto/sha256"
	"encoding/hex"
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
	Raw []byte
	// Header holds the decoded header fields in order.
	Header Header
	// MessageID is the Message-ID without angle brackets ("" if absent).
	MessageID string
	// Date is the parsed Date header, zero when absent or unparsable.
	Date time.Time
	// From and Subject are the decoded header values.
	From, Subject string
	// Text is the decoded text of the body: the first text/plain part (or
	// the whole body when it is not multipart), bounded to MaxText bytes.
	Text string
	// Parts are the leaf parts in document order, decoded and bounded.
	Parts []Part
	// Attached are the message/rfc822 parts, parsed recursively (depth
	// bounded).
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
	// bounded to MaxText bytes.
	Text string
	// Raw is the part body after transfer decoding, before charset
	// decoding (bounded to MaxText bytes). Signature checks use it.
	Raw []byte
}

// Field is one header field, its value unfolded and decoded to UTF-8.
type Field struct {
	Key   string
	Value string
}

// MaxText bounds every decoded text kept in a Message (64 KiB).
const MaxText = 64 << 10

// Identity returns the source mail identity for msg_id: "mid:" plus the
// Message-ID when the mail has one, else "sha256:" plus the hash of the raw
// bytes.
func (m *Message) Identity() string {
	if m.MessageID != "" {
		return "mid:" + m.MessageID
	}
	sum := sha256.Sum256(m.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}
