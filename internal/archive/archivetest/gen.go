// Package archivetest writes mbox archives for tests and benchmarks:
// MboxWriter (mboxrd, read back byte for byte by package archive) and
// Generate, which makes an archive of any size from a few mails.
package archivetest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Generate writes an mboxrd archive of n mails drawn in turn from mails,
// for tests and benchmarks. The first copy of each mail is written as it
// is; later copies get a unique Message-ID (added when the mail has none),
// In-Reply-To and References, a Date spread over 2000–2025 and a unique
// suffix on every "Version: N…" line of the body (a .changes' version),
// so that every copy is another happening (docs/dedup.md) and yields
// distinct events. The output depends only on mails, n and seed.
func Generate(w io.Writer, mails [][]byte, n int, seed uint64) error {
	return GenerateWith(w, mails, n, seed, nil)
}

// GenerateWith is Generate with each mail passed through edit (when not
// nil) before it is written: mboxgen -dkim-key signs them there.
func GenerateWith(w io.Writer, mails [][]byte, n int, seed uint64, edit func([]byte) ([]byte, error)) error {
	mw := NewMboxWriter(w)
	err := Copies(mails, n, seed, func(date time.Time, data []byte) error {
		if edit != nil {
			var err error
			if data, err = edit(data); err != nil {
				return err
			}
		}
		return mw.Write("mboxgen@example.org", date, data)
	})
	if err != nil {
		return err
	}
	return mw.Flush()
}

// Copies calls each with the n mails Generate writes, in order, each with
// the date of its mbox "From " line: the mails one by one, for a
// benchmark that sends them some other way (bench/smtpmix, over SMTP).
// The first copy of a mail is the mail as it is (an mbox "From " line
// included, when it has one).
func Copies(mails [][]byte, n int, seed uint64, each func(date time.Time, data []byte) error) error {
	if len(mails) == 0 {
		return fmt.Errorf("archivetest: no mails to generate from")
	}
	rnd := rand.New(rand.NewPCG(seed, seed^0x6d61696c677700))
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(26 * 365 * 24 * 3600)
	for j := range n {
		src, copyNo := mails[j%len(mails)], j/len(mails)
		date := base.Add(time.Duration(rnd.Int64N(span)) * time.Second)
		data := src
		if copyNo > 0 {
			data = rewriteHeader(src, fmt.Sprintf("mboxgen.%d.%d.", seed, copyNo), j, date)
			data = rewriteVersions(data, fmt.Sprintf("+mboxgen.%d.%d", seed, copyNo))
		}
		if err := each(date, data); err != nil {
			return err
		}
	}
	return nil
}

// rewriteHeader returns a copy of mail whose Message-ID has prefix added
// after its '<' (or a new Message-ID made of prefix and j), whose
// In-Reply-To and References ids have it too, and whose Date is date.
// Only the top-level header is touched.
func rewriteHeader(mail []byte, prefix string, j int, date time.Time) []byte {
	if bytes.HasPrefix(mail, fromLine) {
		if i := bytes.IndexByte(mail, '\n'); i >= 0 {
			mail = mail[i+1:]
		}
	}
	out := make([]byte, 0, len(mail)+64)
	sawMID := false
	skip := false // inside a replaced, folded field
	rest := mail
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			// End of the header.
			if !sawMID {
				out = fmt.Appendf(out, "Message-ID: <%s%d@mboxgen.invalid>\n", prefix, j)
			}
			out = append(out, line...)
			out = append(out, rest...)
			return out
		}
		if skip && (line[0] == ' ' || line[0] == '\t') {
			continue
		}
		skip = false
		switch {
		case hasField(line, "message-id"):
			sawMID, skip = true, true
			id := bytes.TrimSpace(line[len("message-id:"):])
			for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					i = len(rest) - 1
				}
				id = append(bytes.Clone(id), bytes.TrimSpace(rest[:i+1])...)
				rest = rest[i+1:]
			}
			id = bytes.Trim(id, "<>")
			out = fmt.Appendf(out, "Message-ID: <%s%s>\n", prefix, id)
		case hasField(line, "in-reply-to"), hasField(line, "references"):
			out = append(out, bytes.ReplaceAll(line, []byte("<"), []byte("<"+prefix))...)
			for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					i = len(rest) - 1
				}
				out = append(out, bytes.ReplaceAll(rest[:i+1], []byte("<"), []byte("<"+prefix))...)
				rest = rest[i+1:]
			}
		case hasField(line, "date"):
			skip = true
			out = fmt.Appendf(out, "Date: %s\n", date.Format(time.RFC1123Z))
		default:
			out = append(out, line...)
		}
	}
	if !sawMID {
		out = fmt.Appendf(out, "Message-ID: <%s%d@mboxgen.invalid>\n", prefix, j)
	}
	return out
}

// rewriteVersions appends suffix to the value of every body line
// "Version: " followed by a digit (a .changes' or a bug report's
// version; an OpenPGP armor's "Version: GnuPG" is left alone).
func rewriteVersions(mail []byte, suffix string) []byte {
	body := bytes.Index(mail, []byte("\n\n"))
	if body < 0 {
		return mail
	}
	key := []byte("\nVersion: ")
	out := make([]byte, 0, len(mail)+64)
	out = append(out, mail[:body]...)
	rest := mail[body:]
	for {
		i := bytes.Index(rest, key)
		if i < 0 || i+len(key) >= len(rest) {
			return append(out, rest...)
		}
		v := i + len(key)
		if c := rest[v]; c < '0' || c > '9' {
			out = append(out, rest[:v]...)
			rest = rest[v:]
			continue
		}
		end := v + bytes.IndexAny(rest[v:], "\r\n")
		if end < v {
			end = len(rest)
		}
		out = append(out, rest[:end]...)
		out = append(out, suffix...)
		rest = rest[end:]
	}
}

// hasField reports whether line starts the header field name (lower-case).
func hasField(line []byte, name string) bool {
	return len(line) > len(name) && line[len(name)] == ':' && bytes.EqualFold(line[:len(name)], []byte(name))
}
