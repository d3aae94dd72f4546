package debbugs

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

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
	var body []byte
	switch strings.ToLower(strings.TrimSpace(m.Header.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		// Decoded straight into a string: UTF-8 text, the usual case,
		// is then used as it is, with no further copy.
		var sb strings.Builder
		appendQP(&sb, raw)
		s := sb.String()
		if s == "" {
			return m.Text
		}
		if plainUTF8(params["charset"]) && utf8.ValidString(s) {
			return strings.ReplaceAll(s, "\r\n", "\n")
		}
		body = []byte(s)
	case "base64":
		var err error
		body, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, newlineSkipper{bytes.NewReader(raw)}))
		if err != nil && len(body) < len(m.Text) {
			return m.Text
		}
	default:
		body = raw
	}
	if len(body) == 0 {
		return m.Text
	}
	text, _ := parsers.DecodeText(body, params["charset"])
	return strings.ReplaceAll(text, "\r\n", "\n")
}

// plainUTF8 reports whether parsers.DecodeText takes valid UTF-8 in a
// charset labelled so as it is.
func plainUTF8(label string) bool {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "7bit", "8bit":
		return true
	}
	return false
}

// newlineSkipper drops CR and LF so that base64 lines decode as one stream.
type newlineSkipper struct{ r io.Reader }

// Read reads from the underlying reader without line breaks.
func (n newlineSkipper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		w := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[w] = c
				w++
			}
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}

// decodeQP decodes quoted-printable leniently: "=XX" becomes the byte,
// "=" at a line end joins the lines, anything malformed is kept as is.
func decodeQP(in []byte) []byte {
	var sb strings.Builder
	appendQP(&sb, in)
	return []byte(sb.String())
}

// appendQP is decodeQP writing into sb; runs without "=" are copied
// whole.
func appendQP(sb *strings.Builder, in []byte) {
	sb.Grow(len(in))
	for len(in) > 0 {
		i := bytes.IndexByte(in, '=')
		if i < 0 {
			sb.Write(in)
			return
		}
		sb.Write(in[:i])
		in = in[i:]
		switch {
		case len(in) > 1 && in[1] == '\n':
			in = in[2:]
		case len(in) > 2 && in[1] == '\r' && in[2] == '\n':
			in = in[3:]
		case len(in) > 2 && unhex(in[1]) >= 0 && unhex(in[2]) >= 0:
			sb.WriteByte(byte(unhex(in[1])<<4 | unhex(in[2])))
			in = in[3:]
		default:
			sb.WriteByte('=')
			in = in[1:]
		}
	}
}

// unhex returns the value of a hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}
