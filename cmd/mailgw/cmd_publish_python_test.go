//go:build e2e

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

func TestPublishLinesSignedToPython(t *testing.T) {
	cfgPath, pubPath := busTestKeys(t)
	ep := freeEndpoint(t)
	wait := pySubscribe(t, ep, "org.debian.dev.logger", 3)
	var stderr bytes.Buffer
	code := runPublish(context.Background(), []string{"--config", cfgPath, "--endpoint", ep, "--subscribers", "1", "--wait", "30s"},
		strings.NewReader("one\n  zwei é 😀 \nthree\n"), &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	bodies := wait()
	if len(bodies) != 3 {
		t.Fatalf("python got %d messages, want 3", len(bodies))
	}
	kr, err := bus.LoadKeyring(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"one", "zwei é 😀", "three"} {
		env, err := bus.ParseEnvelope([]byte(bodies[i]))
		if err != nil {
			t.Fatal(err)
		}
		if env.Topic != "org.debian.dev.logger.log" || env.Msg["log"] != want || env.I != int64(i+1) || env.Username != "tester" {
			t.Errorf("message %d: topic=%s log=%q i=%d user=%s", i, env.Topic, env.Msg["log"], env.I, env.Username)
		}
		if !msgIDRe.MatchString(env.MsgID) {
			t.Errorf("msg_id %q", env.MsgID)
		}
		if _, err := kr.Verify(env, nil); err != nil {
			t.Errorf("message %d does not verify: %v", i, err)
		}
	}
}

// TestPublishJSONMessageUnsigned publishes a JSON msg with a big integer
// and floats, as fedmsg-logger --json-input does: Python's json.dumps
// gives the same canonical bytes (zmq_sub.py checks), floats included.
func TestPublishJSONMessageUnsigned(t *testing.T) {
	cfgPath, _ := busTestKeys(t)
	ep := freeEndpoint(t)
	wait := pySubscribe(t, ep, "org.debian.dev.mod.x", 1)
	var stderr bytes.Buffer
	code := runPublish(context.Background(), []string{"--config", cfgPath, "--endpoint", ep, "--subscribers", "1", "--wait", "30s",
		"--unsigned", "--modname", "mod", "--topic", "x", "--json-input", "--message",
		`{"a":"ü","n":12345678901234567890,"f":[1.5,1E-5,1e16,1393878837.0,-0.0,0.10]}`}, nil, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	bodies := wait()
	if len(bodies) != 1 {
		t.Fatalf("got %d messages", len(bodies))
	}
	env, err := bus.ParseEnvelope([]byte(bodies[0]))
	if err != nil {
		t.Fatal(err)
	}
	if env.Signature != "" || env.Crypto != "" || env.Msg["a"] != "ü" || fmt.Sprint(env.Msg["n"]) != "12345678901234567890" ||
		!strings.Contains(bodies[0], `"f":[1.5,1e-05,1e+16,1393878837.0,-0.0,0.1]`) {
		t.Fatalf("got %s", bodies[0])
	}
}

// freeEndpoint returns a loopback TCP endpoint on a port free right now.
func freeEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "tcp://" + ln.Addr().String()
}

// pySubscribe starts test/python/zmq_sub.py and returns a function that
// waits for it and returns the bodies it received, each checked for two
// frames, frame 0 == topic and canonical bytes.
func pySubscribe(t *testing.T, ep, prefix string, n int) func() []string {
	t.Helper()
	script, _ := filepath.Abs("../../test/python/zmq_sub.py")
	cmd := exec.Command("/usr/bin/python3", script, ep, prefix, fmt.Sprint(n))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("python: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return func() []string {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("zmq_sub.py: %v\n%s", err, stderr.String())
		}
		var bodies []string
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			raw := map[string]any{}
			if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if raw["ready"] == true {
				continue
			}
			if raw["nframes"] != 2.0 || raw["topic_ok"] != true || raw["canonical_ok"] != true {
				t.Errorf("python saw %v", raw)
			}
			bodies = append(bodies, raw["body"].(string))
		}
		return bodies
	}
}

var msgIDRe = regexp.MustCompile(`^[0-9]{4}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
