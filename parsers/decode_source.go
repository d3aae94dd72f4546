package parsers

import (
	"bytes"
	"sync"
	"time"
	"unsafe"
)

// source is the bytes a Message is read from, seen also as one string,
// so that field names, header values and texts that need no decoding are
// sub-strings of it rather than copies each.
//
// The string is not a copy: it shares memory with b, which ReadMessage's
// callers must not change afterwards (its documented contract; every
// caller reads a mail into bytes of its own). A copy of every mail was a
// tenth of what a replay allocated, for strings that keep the mail's
// bytes alive no longer than the Message does anyway.
type source struct {
	b []byte
	s string // b as a string, sharing its memory
}

// newSource makes the source of b.
func newSource(b []byte) *source {
	return &source{b: b, s: unsafe.String(unsafe.SliceData(b), len(b))}
}

// str returns x, a sub-slice of src.b, as a string.
func (src *source) str(x []byte) string {
	if src == nil || src.s == "" || len(x) == 0 {
		return string(x)
	}
	off := cap(src.b) - cap(x)
	if off < 0 || off+len(x) > len(src.s) {
		return string(x)
	}
	return src.s[off : off+len(x)]
}

// rawGet returns the unfolded value of the first field of fs named key
// ("" when there is none). fs must be sub-slices of src.b: a one-line
// value is then a sub-string of the source's copy, not a copy of its own.
func (src *source) rawGet(fs []rawField, key string) string {
	for _, f := range fs {
		if asciiEqualFold(f.key, key) {
			if bytes.IndexByte(f.value, '\n') < 0 {
				return src.str(trimBlank(f.value))
			}
			return string(unfold(f.value))
		}
	}
	return ""
}

// fastDate parses the usual RFC 5322 form "[Mon, ]2 Jan 2006 15:04[:05]
// -0700" (with an optional trailing comment) without allocating; other
// forms return false and are left to parseDate's slower path.
func fastDate(s string) (time.Time, bool) {
	p := dateScanner{s: s}
	p.blanks()
	if len(p.s) > 4 && p.s[3] == ',' {
		p.s = p.s[4:]
		p.blanks()
	}
	day, ok := p.num(1, 2)
	if !ok || !p.blanks() {
		return time.Time{}, false
	}
	if len(p.s) < 3 {
		return time.Time{}, false
	}
	month := monthIndex(p.s[:3])
	p.s = p.s[3:]
	if month == 0 || !p.blanks() {
		return time.Time{}, false
	}
	year, ok := p.num(4, 4)
	if !ok || !p.blanks() {
		return time.Time{}, false
	}
	hh, ok1 := p.num(2, 2)
	ok2 := p.byte(':')
	mm, ok3 := p.num(2, 2)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	ss := 0
	if p.byte(':') {
		if ss, ok = p.num(2, 2); !ok {
			return time.Time{}, false
		}
	}
	if !p.blanks() || len(p.s) < 5 || (p.s[0] != '+' && p.s[0] != '-') {
		return time.Time{}, false
	}
	sign := p.s[0]
	p.s = p.s[1:]
	zone, ok := p.num(4, 4)
	if !ok {
		return time.Time{}, false
	}
	p.blanks()
	if p.s != "" && p.s[0] != '(' {
		return time.Time{}, false
	}
	if day > 31 || hh > 23 || mm > 59 || ss > 60 || zone%100 > 59 {
		return time.Time{}, false
	}
	off := (zone/100*60 + zone%100) * 60
	if sign == '-' {
		off = -off
	}
	return time.Date(year, time.Month(month), day, hh, mm, ss, 0, fixedZone(off)), true
}

// zones caches one *time.Location per UTC offset.
var zones sync.Map

func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if z, ok := zones.Load(off); ok {
		return z.(*time.Location)
	}
	z, _ := zones.LoadOrStore(off, time.FixedZone("", off))
	return z.(*time.Location)
}

type dateScanner struct{ s string }

// blanks skips spaces and tabs and reports whether there were any.
func (p *dateScanner) blanks() bool {
	i := 0
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	p.s = p.s[i:]
	return i > 0
}

// num reads min to max decimal digits.
func (p *dateScanner) num(min, max int) (int, bool) {
	n, i := 0, 0
	for i < len(p.s) && i < max && p.s[i] >= '0' && p.s[i] <= '9' {
		n = n*10 + int(p.s[i]-'0')
		i++
	}
	p.s = p.s[i:]
	return n, i >= min
}

// byte consumes c if it comes next.
func (p *dateScanner) byte(c byte) bool {
	if len(p.s) > 0 && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// monthIndex returns 1–12 for an English month abbreviation, else 0.
func monthIndex(s string) int {
	const months = "janfebmaraprmayjunjulaugsepoctnovdec"
	if len(s) != 3 {
		return 0
	}
	b := [3]byte{s[0] | 0x20, s[1] | 0x20, s[2] | 0x20}
	for i := 0; i < 12; i++ {
		if months[3*i] == b[0] && months[3*i+1] == b[1] && months[3*i+2] == b[2] {
			return i + 1
		}
	}
	return 0
}
