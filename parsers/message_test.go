package parsers

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func mustRead(t *testing.T, raw string) *Message {
	t.Helper()
	m, err := ReadMessage([]byte(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	return m
}

func TestReadMessageHeader(t *testing.T) {
	m := mustRead(t, "From someone@example.org Sun Apr 20 11:32:34 2008\n"+
		"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\n"+
		"Subject: =?utf-8?B?w6l0w6k=?= and\n\t=?koi8-r?B?8NLJ18XU?= folded\n  over lines\n"+
		"Message-ID:  <abc@example.org> (comment)\n"+
		"Date: Sun, 20 Apr 2008 10:02:03 +0200\n"+
		"X-Empty:\n"+
		"x-debian-pr-message: report 1\n"+
		"\n"+
		"body\n")
	if m.From != "André <andre@example.org>" {
		t.Errorf("From = %q", m.From)
	}
	if m.Subject != "été and Привет folded over lines" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.MessageID != "abc@example.org" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := time.Date(2008, 4, 20, 8, 2, 3, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if got := m.Header.Get("X-Debian-PR-Message"); got != "report 1" {
		t.Errorf("case-insensitive Get = %q", got)
	}
	if !m.Header.Has("X-Empty") || m.Header.Get("X-Empty") != "" {
		t.Errorf("empty field lost: %+v", m.Header.Fields)
	}
	if strings.HasPrefix(string(m.Raw), "From ") {
		t.Errorf("mbox From line kept")
	}
	if m.Text != "body\n" || m.ContentType != "text/plain" {
		t.Errorf("Text %q, ContentType %q", m.Text, m.ContentType)
	}
	info := MailInfo(m)
	if info.Get("date") != "2008-04-20T08:02:03Z" || info.Get("message_id") != "abc@example.org" ||
		info.Get("from") != m.From || info.Get("subject") != m.Subject {
		t.Errorf("MailInfo = %v", info)
	}
}

// TestMailInfoNoDate: an absent or unparsable Date is null, not "".
func TestMailInfoNoDate(t *testing.T) {
	for _, raw := range []string{"Subject: x\nDate: not a date\n\n", "Subject: x\n\n"} {
		m := mustRead(t, raw)
		if d := MailInfo(m).Get("date"); d != nil {
			t.Errorf("%q: date %#v, want nil", raw, d)
		}
		if strings.Contains(raw, "Date:") && len(m.Defects) == 0 {
			t.Errorf("no defect for an unparsable Date")
		}
	}
}

// TestMailInfoFrom: from is the sender's display form, from_email the
// bare address lower-cased (nil without one).
func TestMailInfoFrom(t *testing.T) {
	for _, c := range []struct {
		from, display string
		email         any
	}{
		{`"Marco M. F. De Santis" <M@Example.org>`, "Marco M. F. De Santis <M@Example.org>", "m@example.org"},
		{`=?utf-8?q?J=C3=B6rg?= <j@x.org>`, "Jörg <j@x.org>", "j@x.org"},
		{"", "", nil},
		{"Nobody", "Nobody", nil},
	} {
		info := MailInfo(mustRead(t, "From: "+c.from+"\nSubject: x\n\n"))
		if info.Get("from") != c.display || info.Get("from_email") != c.email {
			t.Errorf("From %q: from %q, from_email %#v", c.from, info.Get("from"), info.Get("from_email"))
		}
	}
}

func TestReadMessageLatin1HeaderCorpus(t *testing.T) {
	raw, err := os.ReadFile("../testdata/mails/011-fcmp-katie-latin1-2002.eml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != `David "Martínez" Moreno <ender@debian.org>` {
		t.Errorf("From = %q", m.From)
	}
	if !strings.Contains(m.Text, "Source: fcmp") {
		t.Errorf("body not decoded: %q", m.Text[:100])
	}
}

func TestReadMessageCRLF(t *testing.T) {
	raw := "Subject: a\r\n b\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n" +
		"preamble\r\n--XX\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XX--\r\n"
	m := mustRead(t, raw)
	if m.Subject != "a b" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if len(m.Parts) != 2 || m.Text != "hello\nworld" {
		t.Errorf("parts %d, Text %q", len(m.Parts), m.Text)
	}
	if string(m.Parts[1].Raw) != "hello\r\nworld" {
		t.Errorf("Raw = %q", m.Parts[1].Raw)
	}
}

func TestReadMessageErrors(t *testing.T) {
	for raw, want := range map[string]error{
		"":                         ErrEmpty,
		"\n\n  \r\n":               ErrEmpty,
		"From x Sun Apr 20\n":      ErrEmpty,
		"just text\nmore text\n":   ErrNoHeader,
		"\nSubject: after blank\n": ErrNoHeader,
		" Subject: continued\n":    ErrNoHeader,
	} {
		if _, err := ReadMessage([]byte(raw)); !errors.Is(err, want) {
			t.Errorf("ReadMessage(%q) = %v, want %v", raw, err, want)
		}
	}
}

func TestReadMessageHeaderWithoutBlankLine(t *testing.T) {
	m := mustRead(t, "Subject: s\nFrom: f\nthis line is body\nsecond: line\n")
	if m.Subject != "s" || m.From != "f" || len(m.Header.Fields) != 2 {
		t.Errorf("header %+v", m.Header.Fields)
	}
	if m.Text != "this line is body\nsecond: line\n" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Defects) == 0 {
		t.Errorf("no defect")
	}
}

func TestReadMessageNested(t *testing.T) {
	raw := "Subject: outer\nContent-Type: multipart/mixed; boundary=\"=-=\"\n\n" +
		"--=-=\nContent-Type: text/plain\n\nouter text\n" +
		"--=-=\nContent-Type: message/rfc822\n\n" +
		"Subject: inner\nContent-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: quoted-printable\n\n" +
		"price: 5 =A4, soft=\nbreak, stray = sign, =3D\n" +
		"--=-=\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n" +
		"Content-Disposition: attachment; filename=\"x.bin\"\n\nAAEC\nAw==\n" +
		"--=-=--\nepilogue\n"
	m := mustRead(t, raw)
	if m.Text != "outer text" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attached) != 1 || m.Attached[0].Subject != "inner" {
		t.Fatalf("Attached = %+v", m.Attached)
	}
	if got := m.Attached[0].Text; got != "price: 5 €, softbreak, stray = sign, =" {
		t.Errorf("inner Text = %q", got)
	}
	if len(m.Parts) != 3 || m.Parts[1].ContentType != "message/rfc822" {
		t.Fatalf("Parts = %+v", m.Parts)
	}
	bin := m.Parts[2]
	if string(bin.Raw) != "\x00\x01\x02\x03" || bin.Filename != "x.bin" || bin.Disposition != "attachment" || bin.Text != "" {
		t.Errorf("attachment = %+v", bin)
	}
	if !strings.HasPrefix(string(bin.Entity), "Content-Type: application/octet-stream") {
		t.Errorf("Entity = %q", bin.Entity)
	}
	if len(m.Defects) != 0 {
		t.Errorf("unexpected defects %q", m.Defects)
	}
}

func TestReadMessageCharsets(t *testing.T) {
	cases := []struct {
		ct, body, want string
		defect         bool
	}{
		{"text/plain; charset=utf-8", "caf\xc3\xa9", "café", false},
		{"text/plain; charset=iso-8859-1", "caf\xe9", "café", false},
		{"text/plain; charset=windows-1252", "\x93q\x94", "“q”", false},
		{"text/plain; charset=shift_jis", "\x93\xfa\x96\x7b", "日本", false},
		{"text/plain", "caf\xe9", "café", true},
		{"text/plain; charset=utf-8", "caf\xe9", "café", true},
		{"text/plain; charset=x-no-such", "caf\xe9", "café", true},
		{"text/plain; charset=x-no-such", "caf\xc3\xa9", "café", true},
	}
	for _, c := range cases {
		m := mustRead(t, "Content-Type: "+c.ct+"\n\n"+c.body)
		if m.Text != c.want || (len(m.Defects) > 0) != c.defect {
			t.Errorf("%s %q: Text %q defects %q", c.ct, c.body, m.Text, m.Defects)
		}
	}
}

func TestReadMessageBrokenMIME(t *testing.T) {
	cases := []struct{ name, raw, text, defect string }{
		{"no boundary param", "Content-Type: multipart/mixed\n\nplain\n", "plain\n", "without a boundary"},
		{"boundary not found", "Content-Type: multipart/mixed; boundary=a\n\n--b\n\nx\n--b--\n", "--b\n\nx\n--b--\n", "not found"},
		{"no closing boundary", "Content-Type: multipart/mixed; boundary=a\n\n--a\n\nfirst\n--a\n\nsecond\n", "first", "closing boundary missing"},
		{"unquoted boundary with =", "Content-Type: multipart/mixed; boundary=a=b\n\n--a=b\n\nfirst\n--a=b--\n", "first", "malformed Content-Type"},
		{"longer boundary", "Content-Type: multipart/mixed; boundary=a\n\n--a\n\nx\n--ab\ny\n--a--\n", "x\n--ab\ny", ""},
		{"unknown cte", "Content-Transfer-Encoding: x-foo\n\nraw\n", "raw\n", "unknown Content-Transfer-Encoding"},
		{"bad base64", "Content-Transfer-Encoding: base64\n\naGVs!!bG8\n", "hello", ""},
		{"bad qp", "Content-Transfer-Encoding: quoted-printable\n\na=zz=4\n", "a=zz=4\n", ""},
	}
	for _, c := range cases {
		m := mustRead(t, c.raw)
		if m.Text != c.text {
			t.Errorf("%s: Text %q, want %q", c.name, m.Text, c.text)
		}
		got := strings.Join(m.Defects, "|")
		if (c.defect == "") != (got == "") || !strings.Contains(got, c.defect) {
			t.Errorf("%s: defects %q, want one containing %q", c.name, got, c.defect)
		}
	}
}

func TestReadMessageDigest(t *testing.T) {
	m := mustRead(t, "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n--d\n\nSubject: two\n\nbody two\n--d--\n")
	if len(m.Attached) != 2 || m.Attached[1].Subject != "two" || m.Attached[1].Text != "body two" {
		t.Errorf("digest parts: %+v", m.Attached)
	}
}

func TestDecodeHeader(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                   "plain",
		"  =?UTF-8?Q?a_b?= =?UTF-8?Q?c?=  ":       "a bc",
		"=?iso-8859-2?q?=B1?=":                    "ą",
		"=?gbk?B?ts7J0LLF?=":                      "段尚才",
		"=?utf-8?q?caf=E9?=":                      "café",
		"=?x-unknown?q?caf=E9?=":                  "café",
		"=?utf-8?b?!!!?=":                         "=?utf-8?b?!!!?=",
		"J\xf6rg":                                 "Jörg",
		"a\r\n\tb":                                "a b",
		"=?utf-8?q?=E2=82?= tail":                 "â\u0082 tail",
		"=?utf-8?B?w6l0w6k=?=\n =?utf-8?B?w6k=?=": "étéé",
	} {
		if got := DecodeHeader(in); got != want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMailInfoRealMail: debbugs' own notices of 2005 carry no Date header
// and a From in the comment form; mail.date is null, from the display
// form, from_email the bare address.
func TestMailInfoRealMail(t *testing.T) {
	raw, err := os.ReadFile("../testdata/mails/176-they-closed-322535-no-date-2005.eml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	info := MailInfo(m)
	if m.Header.Has("Date") || info.Get("date") != nil ||
		info.Get("from") != "Debian Bug Tracking System <owner@bugs.debian.org>" || info.Get("from_email") != "owner@bugs.debian.org" {
		t.Errorf("MailInfo = %v", info)
	}
}
