package backfill

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/pipeline/pipelinetest"
	"github.com/debian/mailgw/internal/spool"
)

// TestSpoolModeReplayed replays the corpus into a spool, plus a reject
// mail stripped of its Message-ID (a reject has no happening, so its
// msg_id hashes the mail's bytes), and lets serve's pipeline process the
// spool: every envelope carries msg.mailgw.replayed = true and the
// msg_ids are those mailgw parse gives for the same mails, so the bytes
// were spooled unchanged.
func TestSpoolModeReplayed(t *testing.T) {
	names, mails := testMails(t)
	i := slices.IndexFunc(names, func(n string) bool { return strings.HasSuffix(n, "/007-xfsprogs-rejected-2021.eml") })
	if i < 0 {
		t.Fatal("no 007-xfsprogs-rejected-2021.eml among the test mails")
	}
	noID := regexp.MustCompile(`(?mi)^Message-ID:.*\n`).ReplaceAll(mails[i], nil)
	if bytes.Equal(noID, mails[i]) {
		t.Fatal("the reject mail has no Message-ID to strip")
	}
	mails = append(mails, noID)
	p := newPublishSetup(t)
	sp := p.spool(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	o := p.options()
	o.Mode, o.Spool, o.Publisher = ModeSpool, sp, nil
	s := run(t, o, f)
	pending, err := sp.Pending()
	if err != nil || len(pending) != s.Spooled || s.Spooled == 0 {
		t.Fatalf("%d spooled files (%v); %s", len(pending), err, s.String())
	}
	for _, name := range pending {
		if !spool.OriginOf(name).Replayed {
			t.Errorf("spooled mail %s lacks the replayed mark %q", name, spool.ReplayedSuffix)
		}
	}
	pl := pipelinetest.Start(t, pipeline.Options{Config: p.cfg, Classifier: newClassifier(p.cfg),
		Journal: p.j, Publisher: p.pub, Spool: sp, Logger: o.Logger})
	if _, err := pl.Wait(pending...); err != nil {
		t.Fatal(err)
	}
	envs := p.pub.Envelopes()
	if len(envs) != s.New {
		t.Fatalf("pipeline published %d envelopes, replay counted %d new events", len(envs), s.New)
	}
	for _, env := range envs {
		if r, _ := env.Msg["mailgw"].(map[string]any)["replayed"].(bool); !r {
			t.Errorf("%s %s: msg.mailgw.replayed = %v, want true", env.Topic, env.MsgID, env.Msg["mailgw"])
		}
	}
	got, want := msgIDs(envs), expectedMsgIDs(t, p.cfg, splitArchive(t, f))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("msg_ids after spooling differ from mailgw parse's:\n got %v\nwant %v", got, want)
	}
	lone := expectedMsgIDs(t, p.cfg, [][]byte{noID})
	if len(lone) == 0 || !slices.Contains(got, lone[0]) {
		t.Errorf("the mail without Message-ID (msg_ids %v) was not published unchanged", lone)
	}
}

// TestDeliverNotReplayed: mail delivered the normal way (deliver, SMTP)
// is not marked replayed by the pipeline.
func TestDeliverNotReplayed(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	sp := p.spool(t)
	name, err := sp.Deliver(bytes.NewReader(mails[0]), 0)
	if err != nil {
		t.Fatal(err)
	}
	if spool.OriginOf(name).Replayed {
		t.Fatalf("Deliver's name %s is marked replayed", name)
	}
	pl := pipelinetest.Start(t, pipeline.Options{Config: p.cfg, Classifier: newClassifier(p.cfg),
		Journal: p.j, Publisher: p.pub, Spool: sp, Logger: p.options().Logger})
	if _, err := pl.Wait(name); err != nil {
		t.Fatal(err)
	}
	envs := p.pub.Envelopes()
	if len(envs) == 0 {
		t.Fatal("no envelope published")
	}
	for _, env := range envs {
		if r := env.Msg["mailgw"].(map[string]any)["replayed"]; r != false {
			t.Errorf("%s: msg.mailgw.replayed = %v, want false", env.Topic, r)
		}
	}
}
