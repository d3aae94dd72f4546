package main

import (
	"bytes"
	"context"
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

func TestTailJSONValidates(t *testing.T) {
	cfgPath, _ := busTestKeys(t)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := loadSigner(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	pub, wait := runTailAsync(t, "--config", cfgPath, "--json", "--count", "2", "--topic", "org.debian.")
	good1 := tailEnv(t, "org.debian.dev.logger.log", "first é", signer)
	unsigned := tailEnv(t, "org.debian.dev.logger.log", "unsigned", nil)
	tampered := tailEnv(t, "org.debian.dev.logger.log", "tampered", signer)
	tampered.Msg["log"] = "changed"
	other := tailEnv(t, "org.fedoraproject.dev.x", "other prefix", signer)
	good2 := tailEnv(t, "org.debian.dev.logger.log", "second", signer)
	var want []string
	for _, env := range []*bus.Envelope{good1, unsigned, tampered, other, good2} {
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if env == good1 || env == good2 {
			b, _ := env.Marshal()
			want = append(want, string(b))
		}
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(errOut, "dropped") {
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
	if err := printEnvelope(&buf, bus.Message{Env: env}, true, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  \"msg\": {\n") {
		t.Errorf("pretty output:\n%s", buf.String())
	}
	for _, tc := range []struct {
		msg  map[string]any
		want string
	}{
		{map[string]any{"mail": map[string]any{"subject": "Accepted hello 1.0"}}, "Accepted hello 1.0"},
		{map[string]any{"title": "a bug"}, "a bug"},
		{map[string]any{"b": 1, "a": 2, "mailgw": map[string]any{}}, "{a,b}"},
		{map[string]any{"log": strings.Repeat("é", 200)}, strings.Repeat("é", 119) + "…"},
	} {
		if got := summary(&bus.Envelope{Msg: tc.msg}); got != tc.want {
			t.Errorf("summary(%v) = %q, want %q", tc.msg, got, tc.want)
		}
	}
	if code := runTail(context.Background(), []string{"--json", "--pretty"}, &buf, &buf); code != exitUsage {
		t.Errorf("--json --pretty: exit %d", code)
	}
}
