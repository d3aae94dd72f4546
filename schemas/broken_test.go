package schemas_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/corpustest"
)

// ChangedEnvelope is a golden envelope with one change, which breaks the
// contract (Broken) or keeps it (Valid).
type ChangedEnvelope struct {
	What string
	Body []byte
}

// Broken returns envelopes that every validator must refuse: each one
// golden envelope of a topic with one change.
func Broken(t testing.TB) []ChangedEnvelope {
	t.Helper()
	var out []ChangedEnvelope
	add := changer(t, &out)
	mg := func(msg map[string]any) map[string]any { return msg["mailgw"].(map[string]any) }
	add("dak.package.upload", "no source", func(_, msg map[string]any) { delete(msg, "source") })
	add("dak.package.upload", "a bug number as a string in closes", func(_, msg map[string]any) { msg["closes"] = []any{"123"} })
	add("dak.package.upload", "distribution a string", func(_, msg map[string]any) { msg["distribution"] = "unstable" })
	add("dak.package.upload", "a file without its size", func(_, msg map[string]any) { delete(msg["files"].([]any)[0].(map[string]any), "size") })
	add("dak.package.reject", "rejection outside its values", func(_, msg map[string]any) { msg["rejection"] = "sometimes" })
	add("debbugs.bug.report", "bug a string", func(_, msg map[string]any) { msg["bug"] = "476920" })
	add("debbugs.bug.report", "bug zero", func(_, msg map[string]any) { msg["bug"] = 0 })
	add("debbugs.bug.followup", "no mail", func(_, msg map[string]any) { delete(msg, "mail") })
	add("debbugs.bug.followup", "mail.date a number", func(_, msg map[string]any) { msg["mail"].(map[string]any)["date"] = 1 })
	add("debbugs.bug.close", "an empty summary", func(_, msg map[string]any) { mg(msg)["summary"] = "" })
	add("debbugs.bug.close", "no people", func(_, msg map[string]any) { delete(mg(msg), "people") })
	add("debbugs.bug.control", "an http url", func(_, msg map[string]any) { mg(msg)["url"] = "http://bugs.debian.org/1" })
	add("debbugs.bug.control", "an action without its command", func(_, msg map[string]any) { delete(msg["actions"].([]any)[0].(map[string]any), "command") })
	add("pts.package.upload-source", "a package number", func(_, msg map[string]any) { msg["package"] = 7 })
	add("tracker.package.bts", "a nested event without payload", func(_, msg map[string]any) { delete(msg["event"].(map[string]any), "payload") })
	add("debmessenger.bug.report", "nb an integer", func(_, msg map[string]any) { msg["nb"] = 476920 })
	add("debmessenger.package.upload", "Files an object", func(_, msg map[string]any) { msg["Files"] = map[string]any{} })
	add("dak.package.new", "a msg_id in mailgw that is not YEAR-UUID", func(_, msg map[string]any) { mg(msg)["msg_id"] = "2008-not-a-uuid" })
	add("debbugs.bug.ack", "mail.auth.by of an unknown kind", func(_, msg map[string]any) {
		msg["mail"].(map[string]any)["auth"] = map[string]any{"trusted": true, "by": "smtp:example.org", "dkim": []any{}}
	})
	add("debbugs.bug.followup", "mail.from without mail.from_email", func(_, msg map[string]any) { delete(msg["mail"].(map[string]any), "from_email") })
	add("debbugs.bug.report", "submitter without submitter_email", func(_, msg map[string]any) { delete(msg, "submitter_email") })
	add("dak.package.upload", "changed_by without changed_by_email", func(_, msg map[string]any) { delete(msg, "changed_by_email") })
	add("pts.package.upload-source", "from without from_email", func(_, msg map[string]any) { delete(msg, "from_email") })
	add("debmessenger.package.upload", "mail.from without mail.from_email", func(_, msg map[string]any) { delete(msg["mail"].(map[string]any), "from_email") })
	add("debbugs.bug.close", "a DKIM result outside its values", func(_, msg map[string]any) {
		msg["mail"].(map[string]any)["auth"] = map[string]any{"trusted": false, "by": nil,
			"dkim": []any{map[string]any{"domain": "bugs.debian.org", "selector": "s", "result": "neutral"}}}
	})
	add("dak.package.receive", "no envelope msg_id", func(env, _ map[string]any) { delete(env, "msg_id") })
	add("dak.package.receive", "a fractional timestamp", func(env, _ map[string]any) { env["timestamp"] = 1.5 })
	add("dak.package.remove", "a signature without crypto", func(env, _ map[string]any) { env["signature"] = "AAAA" })
	add("debbugs.bug.error", "seq_id zero", func(env, _ map[string]any) { env["seq_id"] = 0 })
	add("dak.package.other", "msg a list", func(env, _ map[string]any) { env["msg"] = []any{} })
	return out
}

// Valid returns golden envelopes changed in ways the contract allows,
// which every validator must accept: each DKIM result the schema lists.
func Valid(t testing.TB) []ChangedEnvelope {
	t.Helper()
	var out []ChangedEnvelope
	add := changer(t, &out)
	for _, r := range []string{"pass", "fail", "policy", "temperror", "permerror", "none"} {
		add("debbugs.bug.close", "DKIM result "+r, func(_, msg map[string]any) {
			msg["mail"].(map[string]any)["auth"] = map[string]any{"trusted": false, "by": nil,
				"dkim": []any{map[string]any{"domain": "bugs.debian.org", "selector": "s", "result": r}}}
		})
	}
	return out
}

// changer returns a function that appends to out the first golden
// envelope of topic (SERVICE.OBJECT.EVENT) changed by change.
func changer(t testing.TB, out *[]ChangedEnvelope) func(topic, what string, change func(env, msg map[string]any)) {
	byTopic := map[string][]byte{}
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		short := e.Env.Topic[strings.Index(e.Env.Topic, ".dev.")+5:]
		if _, ok := byTopic[short]; !ok {
			byTopic[short] = e.Body
		}
	}
	return func(topic, what string, change func(env, msg map[string]any)) {
		body, ok := byTopic[topic]
		if !ok {
			t.Fatalf("no golden envelope of %s", topic)
		}
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		change(env, env["msg"].(map[string]any))
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		*out = append(*out, ChangedEnvelope{What: topic + ": " + what, Body: b})
	}
}
