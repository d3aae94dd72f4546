package pipeline

import (
	"flag"
	"fmt"
	"github.com/debian/mailgw/internal/auth"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/parsers"
)

var updateMsgIDs = flag.Bool("update-msgids", false, "rewrite testdata/msg_ids.txt (only for a deliberate change of identities)")

// msgIDsFile pins the msg_id of every event of the golden corpus.
var msgIDsFile = filepath.Join(corpusDir, "..", "msg_ids.txt")

// TestMsgIDsStable: the msg_ids of the corpus's events are those committed
// in testdata/msg_ids.txt. They must not change from one mailgw version to
// the next: a replayed or redelivered mail is recognised as already
// journaled, and consumers drop duplicates, by msg_id alone (docs/wire.md), so a
// changed identity would publish a whole archive again. The topic prefix
// and environment do not enter the msg_id. An event identified by its
// happening (docs/dedup.md) has a fourth column, "was" and the msg_id its
// mail alone gave (LegacyMsgID), which the journal still recognises: that
// column pins the derivation of every older mailgw. Every corpus mail
// announces its own happenings (many look alike: uploads of xfsprogs,
// followups to #1000974, a dozen control transcripts), so no two events
// share a msg_id.
func TestMsgIDsStable(t *testing.T) {
	cfg := testConfig()
	cfg.TopicPrefix, cfg.Environment = "org.example", "stg"
	c := classifier()
	var b strings.Builder
	seen := map[string]string{}
	for _, cm := range loadCorpus(t) {
		m, err := parsers.ReadMessage(cm.raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, env := range Build(cfg, m, evs, fixedNow, false, &auth.Decision{}) {
			if other, ok := seen[env.MsgID]; ok {
				t.Errorf("%s and %s both give %s", other, cm.name, env.MsgID)
			}
			seen[env.MsgID] = cm.name
			fmt.Fprintf(&b, "%s %s %s", cm.name, env.MsgID, strings.TrimPrefix(env.Topic, "org.example."))
			if env.LegacyMsgID != "" {
				fmt.Fprintf(&b, " was %s", env.LegacyMsgID)
			}
			b.WriteByte('\n')
		}
	}
	if *updateMsgIDs {
		if err := os.WriteFile(msgIDsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(msgIDsFile)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(b.String(), "\n")
	for i, w := range strings.Split(string(want), "\n") {
		if i >= len(got) || got[i] != w {
			g := "(none)"
			if i < len(got) {
				g = got[i]
			}
			t.Fatalf("%s line %d:\n got %s\nwant %s\n(msg_ids are the dedup key of replays and consumers: change them only on purpose, with -update-msgids)", msgIDsFile, i+1, g, w)
		}
	}
	if len(got) != len(strings.Split(string(want), "\n")) {
		t.Fatalf("%d lines, want %d", len(got), len(strings.Split(string(want), "\n")))
	}
}

// TestProvenMsgIDs: over the corpus, an event with a happening gets,
// when its mail is proven, the proven msg_id that the unproven event of
// the same mail carries as ProvenMsgID: another msg_id than the unproven
// one, than its legacy one, and than every other event's; the legacy
// msg_id is the same either way. An event without a happening keeps its
// mail's msg_id whatever the proof. One proven msg_id is pinned, as
// computed apart from mailgw (Python's uuid.uuid5 of
// "proven-happening/1" NUL the happening NUL "dak.package.upload" in
// bus.Namespace), so the derivation cannot change unnoticed.
func TestProvenMsgIDs(t *testing.T) {
	cfg, c := testConfig(), classifier()
	seen := map[string]string{}
	happenings := 0
	for _, cm := range loadCorpus(t) {
		m, err := parsers.ReadMessage(cm.raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		u := Build(cfg, m, evs, fixedNow, false, &auth.Decision{})
		p := Build(cfg, m, evs, fixedNow, false, &auth.Decision{Trusted: true, By: "relay:192.0.2.25"})
		for i := range u {
			name := cm.name + " " + u[i].Topic
			if p[i].ProvenMsgID != "" || u[i].Proven || p[i].LegacyMsgID != u[i].LegacyMsgID {
				t.Errorf("%s: proven %+v, unproven %+v", name, p[i], u[i])
			}
			if u[i].LegacyMsgID == "" { // no happening
				if p[i].MsgID != u[i].MsgID || u[i].ProvenMsgID != "" || p[i].Proven {
					t.Errorf("%s: no happening, msg_ids %s and %s, proven %q %v", name, u[i].MsgID, p[i].MsgID, u[i].ProvenMsgID, p[i].Proven)
				}
				continue
			}
			happenings++
			if p[i].MsgID != u[i].ProvenMsgID || !p[i].Proven || !strings.HasPrefix(p[i].MsgID, u[i].MsgID[:5]) {
				t.Errorf("%s: proven msg_id %s (%v), the unproven event's ProvenMsgID %s", name, p[i].MsgID, p[i].Proven, u[i].ProvenMsgID)
			}
			for _, id := range []string{u[i].MsgID, p[i].MsgID, u[i].LegacyMsgID} {
				if other, ok := seen[id]; ok {
					t.Errorf("%s and %s both give %s", other, name, id)
				}
				seen[id] = name
			}
		}
	}
	t.Logf("%d events with a happening", happenings)
	if happenings < 50 {
		t.Errorf("only %d events with a happening", happenings)
	}
	if got, want := seen["2025-663baaf7-ca89-5661-8015-dde2a6cc5451"], "001-xfsdump-accepted-maintainer-2025.eml org.debian.dev.dak.package.upload"; got != want {
		t.Errorf("the pinned proven msg_id is %q's, want %q's", got, want)
	}
}

// TestOwnTopicsCoverCorpus: every event the corpus yields has a topic
// that OwnTopics names, so that consumers require its binding; with
// compat_debmessenger off, no debmessenger topic is named.
func TestOwnTopicsCoverCorpus(t *testing.T) {
	cfg := testConfig()
	cfg.TopicPrefix, cfg.Environment, cfg.CompatDebmessenger = "org.example", "stg", true
	pol := &bus.Policy{RequireBinding: OwnTopics(cfg)}
	c := classifier()
	n := 0
	for _, cm := range loadCorpus(t) {
		m, err := parsers.ReadMessage(cm.raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, env := range Build(cfg, m, evs, fixedNow, false, nil) {
			n++
			if _, ok := pol.BindingRequired(env.Topic); !ok {
				t.Errorf("%s: topic %s is not among OwnTopics %v", cm.name, env.Topic, pol.RequireBinding)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d events", n)
	}
	cfg.CompatDebmessenger = false
	pol.RequireBinding = OwnTopics(cfg)
	if _, ok := pol.BindingRequired("org.example.dev.debmessenger.package.upload"); ok {
		t.Error("debmessenger required with compat_debmessenger off")
	}
	if _, ok := pol.BindingRequired("org.example.prod.logger.log"); ok {
		t.Error("logger topics required")
	}
}
