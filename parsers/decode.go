package parsers

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// DecodeHeader turns a raw header value into UTF-8 text: folding is
// removed, raw 8-bit bytes that are not part of a valid UTF-8 sequence are
// read as ISO-8859-1 (so are such bytes inside a decoded word), and
// RFC 2047 encoded words are decoded in any charset that
// github.com/emersion/go-message/charset knows (unknown charsets fall back
// to ISO-8859-1). The result is always valid UTF-8; it never fails.
func DecodeHeader(raw string) string {
	s, _ := decodeHeaderBytes([]byte(raw))
	return s
}

// decodeHeaderBytes is DecodeHeader on bytes; it also says what had to be
// guessed ("" when nothing). Values longer than MaxText are cut first.
func decodeHeaderBytes(raw []byte) (string, string) {
	v := unfold(raw)
	defect := ""
	if len(v) > MaxText {
		v = v[:MaxText]
		defect = "header value longer than 64 KiB cut"
	}
	var s string
	if utf8.Valid(v) {
		s = string(v)
	} else {
		s = mixedLatin1(v)
		defect = joinDefect(defect, "8-bit header bytes that are not UTF-8 read as ISO-8859-1")
	}
	if !strings.Contains(s, "=?") {
		return s, defect
	}
	var guessed string
	dec := mime.WordDecoder{CharsetReader: func(label string, in io.Reader) (io.Reader, error) {
		r, err := charsetReader(label, in)
		if err != nil {
			guessed = "unknown charset " + quoteShort(label) + " in an encoded word read as ISO-8859-1"
			return latin1Reader{in}, nil
		}
		return r, nil
	}}
	out, err := dec.DecodeHeader(s)
	if err != nil {
		return s, joinDefect(defect, "undecodable encoded word kept as is")
	}
	if guessed != "" {
		defect = joinDefect(defect, guessed)
	}
	if !utf8.ValidString(out) {
		out = mixedLatin1([]byte(out))
		defect = joinDefect(defect, "encoded word with bytes invalid in its charset")
	}
	return out, defect
}

// DecodeText converts a body in the named charset to UTF-8. UTF-8 and
// US-ASCII (and a missing label) are taken as they are when the bytes are
// valid UTF-8; anything that does not decode — invalid UTF-8, an unknown
// label — is read as ISO-8859-1, and defect says so ("" when nothing was
// guessed). The result is always valid UTF-8.
func DecodeText(b []byte, label string) (text string, defect string) {
	label = strings.ToLower(strings.TrimSpace(label))
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "7bit", "8bit":
		if utf8.Valid(b) {
			return string(b), ""
		}
		if label == "" || label == "us-ascii" || label == "ascii" {
			return latin1(b), "8-bit text with charset " + orNone(label) + " read as ISO-8859-1"
		}
		return latin1(b), "text labelled " + label + " is not valid UTF-8; read as ISO-8859-1"
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1":
		return latin1(b), ""
	}
	enc, ok := lookupCharset(label)
	if !ok {
		if utf8.Valid(b) {
			return string(b), "unknown charset " + quoteShort(label) + "; text is valid UTF-8, read as such"
		}
		return latin1(b), "unknown charset " + quoteShort(label) + "; read as ISO-8859-1"
	}
	out, err := io.ReadAll(enc(bytes.NewReader(b)))
	if err != nil {
		return latin1(b), "text not decodable as " + quoteShort(label) + "; read as ISO-8859-1"
	}
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD"), "bytes invalid in charset " + quoteShort(label) + " replaced"
	}
	return string(out), ""
}

// charsetCache maps a lower-case charset label to its reader maker, or nil
// for a label that go-message does not know.
var charsetCache sync.Map

type readerMaker func(io.Reader) io.Reader

// lookupCharset finds (once per label) how to decode a charset.
func lookupCharset(label string) (readerMaker, bool) {
	if v, ok := charsetCache.Load(label); ok {
		mk, _ := v.(readerMaker)
		return mk, mk != nil
	}
	var mk readerMaker
	if _, err := charset.Reader(label, bytes.NewReader(nil)); err == nil {
		mk = func(r io.Reader) io.Reader {
			cr, err := charset.Reader(label, r)
			if err != nil {
				return latin1Reader{r}
			}
			return cr
		}
	}
	if len(label) <= 64 {
		charsetCache.Store(label, mk)
	}
	return mk, mk != nil
}

// charsetReader is the CharsetReader for RFC 2047 words.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	label = strings.ToLower(label)
	mk, ok := lookupCharset(label)
	if !ok {
		return nil, io.ErrUnexpectedEOF
	}
	return mk(in), nil
}

// latin1 decodes ISO-8859-1 bytes to UTF-8.
func latin1(b []byte) string {
	n := 0
	for _, c := range b {
		if c >= 0x80 {
			n++
		}
	}
	if n == 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b)+n)
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return string(out)
}

// mixedLatin1 keeps the valid UTF-8 sequences of b and reads every other
// byte as ISO-8859-1.
func mixedLatin1(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/4)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			c := b[0]
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
			b = b[1:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return string(out)
}

// latin1Reader reads ISO-8859-1 from R and yields UTF-8.
type latin1Reader struct{ R io.Reader }

func (l latin1Reader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		return 0, io.ErrShortBuffer
	}
	buf := make([]byte, len(p)/2)
	n, err := l.R.Read(buf)
	out := p[:0]
	for _, c := range buf[:n] {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return len(out), err
}

// joinDefect appends b to a with "; " between them.
func joinDefect(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// quoteShort quotes s for a defect, bounded to 40 bytes of valid UTF-8.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// hasEncodedWord reports whether b contains "=?". It looks for the "?",
// which is rare in header values, where "=" is common (DKIM, ARC).
func hasEncodedWord(b []byte) bool {
	for i := 1; i < len(b); {
		j := bytes.IndexByte(b[i:], '?')
		if j < 0 {
			return false
		}
		i += j
		if b[i-1] == '=' {
			return true
		}
		i++
	}
	return false
}

// plainASCII reports whether b is 7-bit and short enough to keep as is
// (ascii, eight bytes at a time).
func plainASCII(b []byte) bool {
	if len(b) > MaxText {
		return false
	}
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
