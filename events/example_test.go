package events_test

import (
	"errors"
	"fmt"

	"github.com/debian/mailgw/events"
)

// A msg as it arrives in an envelope on org.debian.prod.debbugs.bug.report.
const reportMsg = `{"body":"It crashes.","bug":123456,"mail":{"auth":{"by":"dkim:bugs.debian.org","dkim":[{"domain":"bugs.debian.org","result":"pass","selector":"2026"}],"trusted":true},"date":"2026-12-02T10:00:00Z","from":"Jane Doe <jane@example.org>","from_email":"jane@example.org","message_id":"<1@example.org>","subject":"Bug#123456: libfoo: crashes on start"},"mailgw":{"msg_id":"2026-9d1c2b1e-5a8e-5e34-9f51-0c2d3b4a5e6f","packages":["libfoo"],"people":["jane@example.org"],"replayed":false,"rule":"debbugs.pr-message.report","summary":"Bug#123456 (libfoo): reported by Jane Doe: crashes on start","timestamp":1796205600,"topic":"org.debian.prod.debbugs.bug.report","url":"https://bugs.debian.org/123456"},"packages":["libfoo1"],"severity":"grave","sources":["libfoo"],"submitter":"Jane Doe <jane@example.org>","submitter_email":"jane@example.org","tags":[],"title":"libfoo: crashes on start"}`

func ExampleDecode() {
	ev, err := events.Decode("org.debian.prod.debbugs.bug.report", []byte(reportMsg))
	if err != nil {
		fmt.Println(err)
		return
	}
	if r, ok := ev.(*events.BugReport); ok {
		fmt.Println(r.Bug.Bug, r.Severity, r.Sources)
	}
	base := ev.Base()
	fmt.Println(base.Mailgw.Summary)
	fmt.Println(*base.Mailgw.URL)
	// Output:
	// 123456 grave [libfoo]
	// Bug#123456 (libfoo): reported by Jane Doe: crashes on start
	// https://bugs.debian.org/123456
}

// A topic of another fedmsg publisher has no struct here.
func ExampleDecode_unknownTopic() {
	_, err := events.Decode("org.fedoraproject.prod.bodhi.update.comment", []byte(`{}`))
	fmt.Println(errors.Is(err, events.ErrUnknownTopic))
	// Output: true
}

// A msg that breaks its topic's schema is refused with the place.
func ExampleDecode_invalid() {
	_, err := events.Decode("org.debian.prod.debbugs.bug.report", []byte(`{"bug":"123456"}`))
	fmt.Println(err != nil)
	// Output: true
}
