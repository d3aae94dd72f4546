//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/gpgtest"
)

// fedmsgMsgs are the msgs the fedmsg publisher sends: half without floats
// (text with escapes and astral characters, big integers, nesting, empty
// values, a set), half with floats (the edge cases, datetimes that
// fedmsg's encoder turns into floats, floats in lists and nested objects).
func fedmsgMsgs() []map[string]any {
	plain := []map[string]any{
		{"log": "Hello world"},
		{"log": "é 😀 <tag> & \"quoted\"\n\ttab \u2028 \x7f"},
		{"update": map[string]any{"title": "bash-5.2.15-1", "builds": []any{map[string]any{"nvr": "bash-5.2.15-1.fc39"}}, "critpath": true, "notes": nil}},
		{"big": json.Number("123456789012345678901234567890"), "neg": -42, "zero": 0, "list": []any{1, 2, 3}},
		{"empty": map[string]any{}, "none": []any{}, "s": ""},
		{"agent": "ralph", "tags": map[string]any{"$set": []any{"a"}}, "nested": map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{"d"}}}}},
		{"Ключ": "значение", "键": "值", "z": "last"},
		{"log": strings.Repeat("long line ", 400)},
	}
	floats := []map[string]any{
		{"karma": 0.5, "stable_karma": 3},
		{"edges": []any{1e16, 1e-05, 0.1, math.Copysign(0, -1), 100000000.0, 5e-324, 1.7976931348623157e+308}},
		{"created": map[string]any{"$datetime": "2013-08-26T12:34:56"}, "user": "laarmen"},
		{"build": map[string]any{"duration": 3725.25, "times": []any{1.5, 2.25, 1e-07}}},
		{"ratio": 1.0 / 3, "pi": 3.141592653589793, "neg": -2.5e-08},
		{"date": map[string]any{"$datetime": "2026-12-02"}, "score": 99.9},
		{"mixed": []any{1, 2.0, "3", map[string]any{"f": 1e22}}},
		{"tiny": 2.2250738585072014e-308, "huge": 1.2345678901234568e+17},
	}
	var out []map[string]any
	for i := range 22 {
		for _, set := range [][]map[string]any{plain, floats} {
			m := map[string]any{"n": i}
			for k, v := range set[i%len(set)] {
				m[k] = v
			}
			out = append(out, m)
		}
	}
	return out
}

// TestFedmsgPublisherInterop: envelopes that fedmsg's publishing side
// makes (reproduced by test/python/fedmsg_gpg_pub.py from fedmsg's source,
// with Debian's python3, real gpg and a python3-zmq socket) are accepted
// by a validating "mailgw tail", every one, and reported unbound: 44 msgs,
// half with floats, some re-encoded as fedmsg-relay forwards them. Refused
// are: a msg with one changed byte (a string, a float), an unbound
// envelope on mailgw's own topic signed by the same key, and a mailgw
// envelope whose msg.mailgw was removed.
func TestFedmsgPublisherInterop(t *testing.T) {
	need(t, python)
	home, fpr, pub := gpgtest.Key(t, "rsa2048") // fedmsg signs through the gpg binary with such a key
	dir := t.TempDir()
	keyring := filepath.Join(dir, "fedmsg.gpg")
	os.WriteFile(keyring, pub, 0o644)
	mgSec, mgPub := filepath.Join(dir, "mailgw.asc"), filepath.Join(dir, "mailgw.pub.asc")
	if out, err := exec.Command(mailgw, "keygen", "--secret", mgSec, "--public", mgPub).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "mailgw.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir = %q\nkeyrings = [%q, %q]\n", dir, keyring, mgPub)), 0o644)

	// mailgw's own envelope, signed by mailgw's key, then stripped of
	// msg.mailgw without re-signing.
	signer, err := bus.LoadSigner(mgSec, "")
	if err != nil {
		t.Fatal(err)
	}
	own := bus.NewEnvelope("org.debian.dev.dak.package.upload", map[string]any{"source": "bash", "version": "5.2-1"}, bus.MsgID(2026, "strip"), time.Now().Unix(), "mailgw")
	if err := bus.Sign(own, signer); err != nil {
		t.Fatal(err)
	}
	delete(own.Msg, "mailgw")
	stripped, err := own.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	type ins = map[string]any
	var script []ins
	valid := 0
	for i, m := range fedmsgMsgs() {
		in := ins{"modname": []string{"logger", "bodhi", "buildsys", "fas"}[i%4], "topic": fmt.Sprintf("thing.happened%d", i%3), "msg": m}
		if i%5 == 4 {
			in["relay"] = true
		}
		script = append(script, in)
		valid++
		switch i {
		case 10:
			script = append(script, ins{"modname": "logger", "topic": "log", "msg": map[string]any{"log": "tampered text"}, "tamper": []string{"tampered text", "tampered texu"}})
		case 20:
			script = append(script, ins{"modname": "bodhi", "topic": "update.comment", "msg": map[string]any{"karma": 0.5}, "tamper": []string{"0.5", "0.6"}})
		case 30:
			script = append(script, ins{"modname": "dak", "topic": "package.upload", "topic_prefix": "org.debian", "environment": "dev",
				"msg": map[string]any{"source": "bash", "version": "5.2-1"}})
		case 40:
			script = append(script, ins{"raw": []string{own.Topic, string(stripped)}})
		}
	}
	if valid != 44 {
		t.Fatalf("%d valid msgs, want 44", valid)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	py := exec.CommandContext(ctx, python, filepath.Join(repoRoot, "test", "python", "fedmsg_gpg_pub.py"), home, fpr)
	pyIn, _ := py.StdinPipe()
	pyOut, _ := py.StdoutPipe()
	var pyErr bytes.Buffer
	py.Stderr = &pyErr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer py.Wait()
	defer cancel()
	lines := bufio.NewScanner(pyOut)
	lines.Buffer(nil, 1<<20)
	if !lines.Scan() {
		t.Fatalf("fedmsg_gpg_pub.py printed no endpoint: %s", pyErr.String())
	}
	ep := lines.Text()

	tail := exec.CommandContext(ctx, mailgw, "tail", "--config", cfg, "--endpoint", ep, "--json", "--count", fmt.Sprint(valid), "--no-gap-fill")
	var tailOut, tailErr bytes.Buffer
	tail.Stdout, tail.Stderr = &tailOut, &tailErr
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "subscribed" {
		t.Fatalf("no subscriber: %q %s", lines.Text(), pyErr.String())
	}
	enc := json.NewEncoder(pyIn)
	for _, in := range script {
		if err := enc.Encode(in); err != nil {
			t.Fatal(err)
		}
	}
	pyIn.Close()
	type sent struct{ Topic, MsgID, Body string }
	var published []sent
	for lines.Scan() {
		var s struct {
			Topic string `json:"topic"`
			MsgID string `json:"msg_id"`
			Body  string `json:"body"`
		}
		if err := json.Unmarshal(lines.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		published = append(published, sent{s.Topic, s.MsgID, s.Body})
	}
	if len(published) != len(script) {
		t.Fatalf("published %d of %d: %s", len(published), len(script), pyErr.String())
	}
	if err := tail.Wait(); err != nil {
		t.Fatalf("mailgw tail: %v\n%s", err, tailErr.String())
	}

	// Every valid envelope printed once, in order, unbound, signed by the
	// fedmsg key, with the msg fedmsg signed.
	printed := strings.Split(strings.TrimSuffix(tailOut.String(), "\n"), "\n")
	if len(printed) != valid {
		t.Fatalf("tail printed %d envelopes, want %d\n%s", len(printed), valid, tailErr.String())
	}
	j := 0
	floats := 0
	for i, s := range published {
		if bad := script[i]; bad["tamper"] != nil || bad["raw"] != nil || bad["topic_prefix"] != nil {
			continue
		}
		var got struct {
			MsgID      string          `json:"msg_id"`
			Topic      string          `json:"topic"`
			Msg        json.RawMessage `json:"msg"`
			Validation struct {
				Bound  bool   `json:"bound"`
				Signer string `json:"signer"`
			} `json:"validation"`
		}
		if err := json.Unmarshal([]byte(printed[j]), &got); err != nil {
			t.Fatalf("tail line %d: %v\n%s", j, err, printed[j])
		}
		sentEnv, err := bus.ParseEnvelope([]byte(s.Body))
		if err != nil {
			t.Fatalf("published body %d: %v", i, err)
		}
		wantMsg, _ := bus.Canonical(sentEnv.Msg)
		if got.MsgID != s.MsgID || got.Topic != s.Topic || got.Validation.Bound || got.Validation.Signer != fpr || string(got.Msg) != string(wantMsg) {
			t.Errorf("envelope %d: tail printed\n%s\nfor the published\n%s", i, printed[j], s.Body)
		}
		if hasFloat(sentEnv.Msg) {
			floats++
		}
		j++
	}
	if floats < 20 {
		t.Errorf("only %d accepted envelopes carried floats", floats)
	}
	for _, want := range []string{
		"bad signature", // the changed bytes, and the stripped binding
		`topics under \"org.debian.*.dak\" must be bound`, // unbound on mailgw's own topic
	} {
		if !strings.Contains(tailErr.String(), want) {
			t.Errorf("tail's stderr does not say %q:\n%s", want, tailErr.String())
		}
	}
	if n := strings.Count(tailErr.String(), "dropped message"); n != 4 {
		t.Errorf("%d drops logged, want 4:\n%s", n, tailErr.String())
	}
	t.Logf("%d fedmsg envelopes accepted unbound (%d with floats), 4 refused", valid, floats)
}

// hasFloat reports whether a parsed msg holds a number with a fraction or
// an exponent.
func hasFloat(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return strings.ContainsAny(string(x), ".eE")
	case []any:
		for _, e := range x {
			if hasFloat(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasFloat(e) {
				return true
			}
		}
	}
	return false
}
