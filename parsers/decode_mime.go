package parsers

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// readState is shared by a mail and everything attached to it, so the
// bounds hold for the whole tree.
type readState struct {
	partsLeft   int
	budget      int
	partsCut    bool
	budgetSpent bool
}

// mimeHeader holds the MIME fields of one entity, unfolded.
type mimeHeader struct {
	ctype, cte, cdisp string
}

// read parses one mail (the top-level one or an attached one).
// src is where raw comes from (nil: raw is new bytes).
func (st *readState) read(raw []byte, src *source, depth, attachDepth int) (*Message, error) {
	raw = stripFromLine(raw)
	if isBlank(raw) {
		return nil, ErrEmpty
	}
	var arr [64]rawField
	fields, body, defects := splitHeader(arr[:0], raw, MaxFields)
	if len(fields) == 0 {
		return nil, ErrNoHeader
	}
	if src == nil {
		src = newSource(raw)
	}
	m := &Message{Raw: raw, Defects: defects}
	m.Header.Fields = decodeFields(m, src, fields)
	h := &m.Header
	m.From = h.Get("From")
	m.Subject = h.Get("Subject")
	m.MessageID = messageID(h.Get("Message-ID"))
	if d := h.Get("Date"); d != "" {
		t, ok := parseDate(d)
		if !ok {
			m.Defects = append(m.Defects, "unparsable Date "+quoteShort(d))
		}
		m.Date = t
	}
	mh := mimeHeader{ctype: h.Get("Content-Type"), cte: h.Get("Content-Transfer-Encoding"), cdisp: h.Get("Content-Disposition")}
	m.ContentType = st.walk(m, src, mh, body, raw, depth, attachDepth, false)
	m.Text = chooseText(m.Parts)
	return m, nil
}

// decodeFields decodes a header. Field names and plain one-line values
// are sub-strings of the source's one string copy, and folded plain values
// are unfolded into one shared buffer, so a typical header costs a handful
// of allocations, not two per field.
func decodeFields(m *Message, src *source, fs []rawField) []Field {
	out := make([]Field, len(fs))
	type pending struct{ i, start, end int }
	var folded []pending
	var buf strings.Builder // the unfolded values; String() does not copy
	for i, f := range fs {
		out[i].Key = src.str(f.key)
		v := f.value
		if !plainASCII(v) || hasEncodedWord(v) {
			val, d := decodeHeaderBytes(v)
			if d != "" {
				m.Defects = append(m.Defects, out[i].Key+": "+d)
			}
			out[i].Value = val
			continue
		}
		if bytes.IndexByte(v, '\n') < 0 {
			out[i].Value = src.str(trimBlank(v))
			continue
		}
		if folded == nil {
			// Unfolding never lengthens a value: the folded values from
			// here on bound the buffer.
			n, k := 0, 0
			for _, g := range fs[i:] {
				if bytes.IndexByte(g.value, '\n') >= 0 {
					n += len(g.value)
					k++
				}
			}
			buf.Grow(n)
			folded = make([]pending, 0, k)
		}
		start := buf.Len()
		appendUnfoldedTo(&buf, v)
		folded = append(folded, pending{i, start, buf.Len()})
	}
	if len(folded) > 0 {
		bs := buf.String()
		for _, p := range folded {
			out[p.i].Value = bs[p.start:p.end]
		}
	}
	return out
}

// walk records one MIME entity (and its children) into m and returns its
// media type.
func (st *readState) walk(m *Message, src *source, h mimeHeader, body, entity []byte, depth, attachDepth int, inDigest bool) string {
	mt, params, d := parseContentType(h.ctype, inDigest)
	if d != "" {
		m.Defects = append(m.Defects, d)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		b := params["boundary"]
		if b == "" {
			m.Defects = append(m.Defects, mt+" without a boundary; body kept as text")
			st.leaf(m, src, "text/plain", params, h, body, entity)
			return mt
		}
		if depth >= MaxDepth {
			m.Defects = append(m.Defects, fmt.Sprintf("MIME nesting deeper than %d; inner parts ignored", MaxDepth))
			return mt
		}
		parts, closed, found := splitMultipart(body, b, st.partsLeft+1)
		if !found {
			m.Defects = append(m.Defects, mt+": boundary "+quoteShort(b)+" not found; body kept as text")
			st.leaf(m, src, "text/plain", params, h, body, entity)
			return mt
		}
		if !closed {
			m.Defects = append(m.Defects, mt+": closing boundary missing")
		}
		for _, p := range parts {
			if st.partsLeft <= 0 {
				if !st.partsCut {
					st.partsCut = true
					m.Defects = append(m.Defects, fmt.Sprintf("more than %d MIME parts; the rest ignored", MaxParts))
				}
				break
			}
			var arr [8]rawField
			fs, pb, _ := splitHeader(arr[:0], p, 100)
			if len(fs) == 0 && !startsBlankLine(p) {
				pb = p
			}
			ph := mimeHeader{
				ctype: src.rawGet(fs, "Content-Type"),
				cte:   src.rawGet(fs, "Content-Transfer-Encoding"),
				cdisp: src.rawGet(fs, "Content-Disposition"),
			}
			st.walk(m, src, ph, pb, p, depth+1, attachDepth, mt == "multipart/digest")
		}
	case mt == "message/rfc822" || mt == "message/global":
		st.leaf(m, src, mt, params, h, body, entity)
		if attachDepth >= MaxAttachDepth || depth >= MaxDepth {
			m.Defects = append(m.Defects, fmt.Sprintf("message/rfc822 nested deeper than %d; not parsed", MaxAttachDepth))
			return mt
		}
		inner, _, td := DecodeTransfer(h.cte, body, MaxDecoded)
		if td != "" {
			m.Defects = append(m.Defects, td)
		}
		innerSrc := src
		if !identityCTE(h.cte) {
			innerSrc = nil // decoded bytes: a source of their own
		}
		sub, err := st.read(inner, innerSrc, depth+1, attachDepth+1)
		if err != nil {
			m.Defects = append(m.Defects, "attached message unreadable: "+err.Error())
			return mt
		}
		m.Attached = append(m.Attached, sub)
	default:
		st.leaf(m, src, mt, params, h, body, entity)
	}
	return mt
}

// startsBlankLine reports whether b starts with an empty line.
func startsBlankLine(b []byte) bool {
	return len(b) > 0 && (b[0] == '\n' || (b[0] == '\r' && len(b) > 1 && b[1] == '\n'))
}

// leaf records one leaf part.
func (st *readState) leaf(m *Message, src *source, mt string, params map[string]string, h mimeHeader, body, entity []byte) {
	st.partsLeft--
	p := Part{ContentType: mt, Params: params, Entity: entity}
	p.Disposition, p.Filename = disposition(h.cdisp, params)
	cte := strings.ToLower(h.cte)
	copying := !identityCTE(cte)
	if copying && st.budget <= 0 {
		st.noBudget(m)
		m.Parts = append(m.Parts, p)
		return
	}
	raw, cut, d := DecodeTransfer(cte, body, MaxText)
	if d != "" {
		m.Defects = append(m.Defects, d)
	}
	if copying {
		st.budget -= len(raw)
	}
	p.Raw = raw
	if cut {
		m.Defects = append(m.Defects, fmt.Sprintf("%s part cut to %d bytes", mt, MaxText))
	}
	if isText(mt) {
		if st.budget <= 0 {
			st.noBudget(m)
		} else {
			var s, d string
			if !copying && utf8Label(params["charset"]) && utf8.Valid(raw) {
				s = src.str(raw) // no decoding needed: share the source's copy
			} else {
				s, d = DecodeText(raw, params["charset"])
			}
			if d != "" {
				m.Defects = append(m.Defects, mt+": "+d)
			}
			s = boundText(crlfToLF(s), MaxText)
			st.budget -= len(s)
			p.Text = s
		}
	}
	m.Parts = append(m.Parts, p)
}

// noBudget records once that decoded text ran out of budget.
func (st *readState) noBudget(m *Message) {
	if !st.budgetSpent {
		st.budgetSpent = true
		m.Defects = append(m.Defects, fmt.Sprintf("more than %d bytes of decoded text; later parts keep none", MaxDecoded))
	}
}

// isText reports whether parts of type mt get a decoded Text.
func isText(mt string) bool {
	return strings.HasPrefix(mt, "text/") || mt == "message/delivery-status" ||
		mt == "message/global-delivery-status" || mt == "message/disposition-notification"
}

// chooseText picks Message.Text: the first inline text/plain part, else
// the first text/plain part, else the first text/* part.
func chooseText(ps []Part) string {
	first, firstPlain := -1, -1
	for i, p := range ps {
		if p.ContentType == "text/plain" {
			if p.Disposition != "attachment" {
				return p.Text
			}
			if firstPlain < 0 {
				firstPlain = i
			}
		}
		if first < 0 && strings.HasPrefix(p.ContentType, "text/") {
			first = i
		}
	}
	switch {
	case firstPlain >= 0:
		return ps[firstPlain].Text
	case first >= 0:
		return ps[first].Text
	}
	return ""
}

// identityCTE reports whether a Content-Transfer-Encoding leaves the body
// as it is (7bit, 8bit, binary, none, or one we do not know).
func identityCTE(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64", "quoted-printable":
		return false
	}
	return true
}

// utf8Label reports whether a charset label lets valid UTF-8 through as is.
func utf8Label(label string) bool {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968":
		return true
	}
	return false
}
