package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

// tailEnv makes an envelope with a log line, signed when s is not nil.
func tailEnv(t *testing.T, topic, text string, s bus.Signer) *bus.Envelope {
	t.Helper()
	env := bus.NewEnvelope(topic, map[string]any{"log": text}, bus.MsgID(2026, topic+text), 1795000000, "tester")
	if s != nil {
		if err := bus.Sign(env, s); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// runTailAsync runs tail with args against a fresh publisher and returns
// the publisher and a function that waits for tail's exit code and stdout.
func runTailAsync(t *testing.T, args ...string) (*bus.ZMQPublisher, func() (int, string, string)) {
	t.Helper()
	pub, err := bus.NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runTail(ctx, append(args, "--endpoint", pub.Addrs()[0]), &stdout, &stderr) }()
	if err := pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return pub, func() (int, string, string) {
		code := <-done
		return code, stdout.String(), stderr.String()
	}
}

// unboundEnv is a foreign fedmsg envelope: no msg.mailgw, signed by s.
func unboundEnv(t *testing.T, topic, text string, s bus.Signer) *bus.Envelope {
	t.Helper()
	env := &bus.Envelope{Topic: topic, Msg: map[string]any{"log": text, "f": 0.5}, MsgID: bus.MsgID(2026, topic+text), Timestamp: 1795000000, Username: "fedmsg"}
	if err := bus.Sign(env, s); err != nil {
		t.Fatal(err)
	}
	return env
}

// TestTailJSONValidates: tail --json prints the valid envelopes (mailgw's
// bound ones and a foreign unbound one, with their "validation" member)
// and drops the unsigned, the tampered, and an unbound one on mailgw's
// own topic.
func TestTailJSONValidates(t *testing.T) {
	cfgPath, signer := busTestSigner(t)
	pub, wait := runTailAsync(t, "--config", cfgPath, "--json", "--count", "3", "--topic", "org.debian.")
	good1 := tailEnv(t, "org.debian.dev.logger.log", "first é", signer)
	unsigned := tailEnv(t, "org.debian.dev.logger.log", "unsigned", nil)
	tampered := tailEnv(t, "org.debian.dev.logger.log", "tampered", signer)
	tampered.Msg["log"] = "changed"
	other := tailEnv(t, "org.fedoraproject.dev.x", "other prefix", signer)
	foreign := unboundEnv(t, "org.debian.dev.logger.log", "from fedmsg-logger", signer)
	ownUnbound := unboundEnv(t, "org.debian.prod.dak.package.upload", "no binding", signer)
	good2 := tailEnv(t, "org.debian.dev.logger.log", "second", signer)
	var want []string
	for _, env := range []*bus.Envelope{good1, unsigned, tampered, other, ownUnbound, foreign, good2} {
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if env == good1 || env == good2 || env == foreign {
			b, _ := env.Marshal()
			want = append(want, fmt.Sprintf(`%s,"validation":{"bound":%v,"signer":"%s"}}`, b[:len(b)-1], env != foreign, signer.Fingerprint()))
		}
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, want) {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(errOut, "dropped") || !strings.Contains(errOut, `topics under \"org.debian.*.dak\" must be bound`) {
		t.Errorf("no drop logged on stderr: %s", errOut)
	}
}

func TestTailSummaryNoValidate(t *testing.T) {
	cfgPath, _ := busTestKeys(t)
	pub, wait := runTailAsync(t, "--config", cfgPath, "--no-validate", "--count", "1")
	env := tailEnv(t, "org.debian.dev.logger.log", "hello\n  world", nil)
	if err := pub.Publish(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "2026-11-18T11:06:40Z org.debian.dev.logger.log " + env.MsgID + " hello world\n"
	if out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestTailPrettyAndSummaries(t *testing.T) {
	env := tailEnv(t, "a.b", "x", nil)
	var buf bytes.Buffer
	if err := printEnvelope(&buf, bus.Message{Env: env}, true, false, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  \"msg\": {\n") || strings.Contains(buf.String(), "validation") {
		t.Errorf("pretty output:\n%s", buf.String())
	}
	// A publisher cannot claim a validation: the member is tail's own.
	forged, err := bus.ParseEnvelope([]byte(`{"msg":{},"msg_id":"m","timestamp":1,"topic":"t","username":"","validation":{"bound":true,"signer":"ABCD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := printEnvelope(&buf, bus.Message{Env: forged}, false, true, false); err != nil || strings.Contains(buf.String(), "validation") {
		t.Errorf("unvalidated envelope printed with a validation: %v %s", err, buf.String())
	}
	// A validated unbound envelope says so in every format.
	foreign := bus.Message{Env: &bus.Envelope{Topic: "org.fedoraproject.prod.x", Msg: map[string]any{"log": "hi"}, MsgID: "m", Timestamp: 1}, Signer: "ABCD"}
	for _, f := range []struct {
		pretty, asJSON bool
		want           string
	}{
		{false, false, "1970-01-01T00:00:01Z org.fedoraproject.prod.x m (unbound) hi\n"},
		{false, true, `{"msg":{"log":"hi"},"msg_id":"m","timestamp":1,"topic":"org.fedoraproject.prod.x","username":"","validation":{"bound":false,"signer":"ABCD"}}` + "\n"},
		{true, false, "  \"validation\": {\n    \"bound\": false,\n    \"signer\": \"ABCD\"\n  }\n}\n"},
	} {
		buf.Reset()
		if err := printEnvelope(&buf, foreign, f.pretty, f.asJSON, false); err != nil || !strings.HasSuffix(buf.String(), f.want) {
			t.Errorf("pretty=%v json=%v: %v\n%s\nwant suffix\n%s", f.pretty, f.asJSON, err, buf.String(), f.want)
		}
	}
	for _, tc := range []struct {
		msg  map[string]any
		want string
	}{
		{map[string]any{"mail": map[string]any{"subject": "Accepted hello 1.0"}}, "Accepted hello 1.0"},
		{map[string]any{"title": "a bug"}, "a bug"},
		{map[string]any{"b": 1, "a": 2, "mailgw": map[string]any{}}, "{a,b}"},
		{map[string]any{"log": strings.Repeat("é", 300)}, strings.Repeat("é", 199) + "…"},
		{map[string]any{"log": "a\x1b[31mred\u202e\n b"}, "a[31mred b"},
		{map[string]any{"mailgw": map[string]any{"summary": "doko uploaded bash 3.2-2 to unstable"}, "mail": map[string]any{"subject": "Accepted bash"}}, "doko uploaded bash 3.2-2 to unstable"},
	} {
		if got := summary(&bus.Envelope{Msg: tc.msg}); got != tc.want {
			t.Errorf("summary(%v) = %q, want %q", tc.msg, got, tc.want)
		}
	}
	buf.Reset()
	if err := printEnvelope(&buf, bus.Message{Env: &bus.Envelope{Msg: map[string]any{"mailgw": map[string]any{"summary": "Bug#1 (x): reported"}}}}, false, false, true); err != nil || buf.String() != "Bug#1 (x): reported\n" {
		t.Errorf("--terse: %q %v", buf.String(), err)
	}
	for _, bad := range [][]string{{"--terse", "--json"}, {"--exec", "true", "--pretty"}, {"--include", "("}, {"--exclude", "[z-a]"}} {
		if code := runTail(context.Background(), bad, &buf, &buf); code != exitUsage {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
	if code := runTail(context.Background(), []string{"--json", "--pretty"}, &buf, &buf); code != exitUsage {
		t.Errorf("--json --pretty: exit %d", code)
	}
}
