package debbugs

import (
	"bytes"
	"mime"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// maxTranscript bounds the raw body read again for a long transcript.
const maxTranscript = 4 << 20

// transcriptText returns the whole decoded body of a single-part mail.
// parsers.Message.Text stops at parsers.MaxText (64 KiB), but a control
// transcript that runs hundreds of commands is longer, and every command
// must become an action: when Text was cut, the body is decoded again from
// Raw (transfer encoding and charset), up to maxTranscript bytes.
func transcriptText(m *parsers.Message) string {
	// Text may have been cut (to MaxText bytes before line ends were
	// normalised, so it can be shorter than MaxText): re-read any long one.
	if len(m.Raw) <= parsers.MaxText || len(m.Text) < parsers.MaxText/2 {
		return m.Text
	}
	ct, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if ct != "" && ct != "text/plain" {
		return m.Text
	}
	raw := m.Raw
	i := bytes.Index(raw, []byte("\n\n"))
	j := bytes.Index(raw, []byte("\r\n\r\n"))
	switch {
	case j >= 0 && (i < 0 || j < i):
		raw = raw[j+4:]
	case i >= 0:
		raw = raw[i+2:]
	default:
		return m.Text
	}
	if len(raw) > maxTranscript {
		raw = raw[:maxTranscript]
	}
	cte := strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding"))
	body, _, _ := parsers.DecodeTransfer(cte, raw, maxTranscript)
	if len(body) == 0 {
		return m.Text
	}
	text, _ := parsers.DecodeText(body, params["charset"])
	return strings.ReplaceAll(text, "\r\n", "\n")
}
